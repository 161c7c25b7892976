"""The ICL policy embedded and served: the same Gemma 3 270M GGUF in-process and behind a server.

Run: ``.venv/bin/python benchmarks/bench_served.py [--quick] [--seeds 3] [--steps 300]``.

llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``, 1 thread, on
127.0.0.1) serves the embedded GGUF; the policy reaches it through ``langchain-openai``'s
text-completion model (``--llm openai-completions:gemma@URL``: the raw prompt, a few tokens,
temperature 0). Paper setting, 300-step episodes, the same seeds for both. Targets: the served
tail reward ratio >= 99 % of the embedded one, median decision latency <= 3x the embedded one.

The server runs without ``--logits_all`` (the decision is read from the reply's first word):
llama-cpp-python then returns no log-probabilities, and with them on it computes them over the
whole prompt (about 2 s per request), which a short side measurement (``--logprobs``) shows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

DEADLINE_S = 60.0
"""Per-decision deadline of the benchmark [s]: it measures the served path, not the breaker (on a
machine shared with other jobs a decision right after a pool change can take several seconds)."""


def episode(spec: str, seed: int, steps: int) -> dict[str, Any]:
    from genoffload.episode import EpisodeConfig, summary
    from genoffload.llm import build_chat_model
    from genoffload.models.reference import run_certified_episode
    from genoffload.policies.icl import ICLPolicy, ICLSettings
    from genoffload.scenario import make_config

    model = build_chat_model(spec, n_threads=1) if spec == "embedded" else build_chat_model(spec)
    policy = ICLPolicy(model, ICLSettings(deadline_s=DEADLINE_S))
    t0 = time.perf_counter()
    ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=steps, seed=seed))
    elapsed = time.perf_counter() - t0
    s = summary(ds)
    src = ds["source"].values
    lat = ds["latency_s"].values[src == "llm"]
    c = policy.counters
    return {"tail": s["tail_reward_ratio"], "success": s["tail_success_rate"],
            "llm": int((src == "llm").sum()),
            "fallback": c.fallback, "median_ms": 1e3 * float(np.median(lat)) if lat.size else float("nan"),
            "elapsed_s": elapsed, "text": c.from_text, "logprobs": c.from_logprobs,
            "errors": dict(c.errors_by_type)}


def logprob_latency(n: int) -> dict[str, Any]:
    """Median decision latency with log-probabilities (server with ``--logits_all``)."""
    from genoffload.llm import build_chat_model
    from genoffload.llm.local_server import llama_server
    from genoffload.policies.icl import ICLPolicy, ICLSettings

    sys.path.insert(0, os.path.dirname(__file__))
    from bench_icl import PREFERRED, SERVICES, pool_of_20

    with llama_server(logits_all=True) as url:
        policy = ICLPolicy(build_chat_model(f"openai-completions:gemma@{url}"), ICLSettings(deadline_s=30))
        pool_of_20(policy)
        queries = [(s, z) for z in ("short", "medium", "long") for s in SERVICES]
        policy.decide(queries[0])
        times, right = [], 0
        for i in range(n):
            q = queries[i % len(queries)]
            t0 = time.perf_counter()
            offload, _ = policy.decide(q)
            times.append(time.perf_counter() - t0)
            right += offload == (q[0] in PREFERRED)
    return {"median_ms": 1e3 * statistics.median(times), "accuracy": right / n,
            "from_logprobs": policy.counters.from_logprobs}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, 100 steps")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--logprobs", action="store_true", help="also time decisions with log-probabilities")
    args = ap.parse_args(argv)
    seeds = args.seeds or (1 if args.quick else 3)
    steps = args.steps or (100 if args.quick else 300)
    try:
        import langchain_openai  # noqa: F401
        import llama_cpp.server  # noqa: F401

        from genoffload.llm.local_server import llama_server
    except ImportError as err:
        print(f"bench_served: needs the server and openai extras ({err}); pip install 'genoffload[server]'")
        return 1
    print(f"load before: {os.getloadavg()[0]:.2f}", flush=True)
    rows = []
    with llama_server() as url:
        spec = f"openai-completions:gemma@{url}"
        for seed in range(seeds):  # embedded and served of a seed back to back: load hits both
            emb = episode("embedded", seed, steps)
            srv = episode(spec, seed, steps)
            rows.append((seed, emb, srv))
            print(f"  seed {seed}: embedded tail {emb['tail']:.1%} {emb['median_ms']:.1f} ms | served tail "
                  f"{srv['tail']:.1%} {srv['median_ms']:.1f} ms (llm {srv['llm']}, fallback "
                  f"{srv['fallback']}, errors {srv['errors']})", flush=True)
    print(f"\nEmbedded vs served (llama_cpp.server, openai-completions), paper setting, {steps} steps, "
          f"load after {os.getloadavg()[0]:.2f}")
    head = (f"{'seed':>4s} {'emb tail':>8s} {'srv tail':>8s} {'emb succ':>8s} {'srv succ':>8s} "
            f"{'emb ms':>7s} {'srv ms':>7s} {'srv/emb':>7s} {'srv llm':>7s} {'srv fallb':>9s}")
    print(head)
    print("-" * len(head))
    for seed, e, s in rows:
        print(f"{seed:4d} {e['tail']:8.1%} {s['tail']:8.1%} {e['success']:8.1%} {s['success']:8.1%} "
              f"{e['median_ms']:7.1f} {s['median_ms']:7.1f} {s['median_ms'] / e['median_ms']:6.2f}x "
              f"{s['llm']:7d} {s['fallback']:9d}")
    emb_tail = statistics.mean(e["tail"] for _, e, _ in rows)
    srv_tail = statistics.mean(s["tail"] for _, _, s in rows)
    emb_ms = statistics.median(e["median_ms"] for _, e, _ in rows)
    srv_ms = statistics.median(s["median_ms"] for _, _, s in rows)
    quality = srv_tail / emb_tail if emb_tail else float("nan")
    print(f"\nmean tail reward ratio: embedded {emb_tail:.1%}, served {srv_tail:.1%}: {quality:.1%} of "
          f"embedded (target >= 99 %: {'met' if quality >= 0.99 else 'NOT met'})")
    print(f"median decision latency: embedded {emb_ms:.1f} ms, served {srv_ms:.1f} ms: "
          f"{srv_ms / emb_ms:.2f}x (target <= 3x: {'met' if srv_ms <= 3 * emb_ms else 'NOT met'})")
    if args.logprobs:
        lp = logprob_latency(12 if args.quick else 30)
        print(f"with log-probabilities (--logits_all true): median {lp['median_ms']:.0f} ms, accuracy "
              f"{lp['accuracy']:.0%}, {lp['from_logprobs']} decisions scored from log-probabilities")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
