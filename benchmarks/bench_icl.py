"""Benchmark of the ICL offloading policy with the embedded Gemma 3 270M model.

Run: ``.venv/bin/python benchmarks/bench_icl.py [--quick] [--seeds N] [--threads T]``.

1. Cold start: a fresh process imports the stack, loads the model and makes one decision
   from an empty pool (target <= 2 s).
2. Decision latency: one LLM decision with a 20-example pool through the LangChain chat model
   (prompt building, candidate scoring, calibration; target <= 60 ms median), with the prompt
   prefix cached (steady state) and right after a pool change.
3. Decision quality on the paper setting: 300-step episodes; over the last 20 % of steps the
   ratio reward/optimal (target >= 95 %) and the quality success (target >= 98 %) for
   prioritized replay + epsilon-greedy, baseline 1 (latest experiences), baseline 2 (no
   exploration) and the paper's exploration as written (step clock, fair coin, no mask), same
   seeds (the same scenarios for every policy), with each one's ratio to the main policy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

COLD = r"""
import json, time
t0 = time.perf_counter()
from genoffload.llm import build_chat_model
from genoffload.policies.icl import ICLPolicy, ICLSettings
t1 = time.perf_counter()
model = build_chat_model("embedded", n_threads=THREADS)
model.llama
t2 = time.perf_counter()
offload, tokens = ICLPolicy(model, ICLSettings()).decide(("science", "medium"))
t3 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load": t2 - t1, "first": t3 - t2, "ok": offload is not None,
                  "tokens": tokens}))
"""

SERVICES = ["chat", "translation", "summarization", "science", "coding", "math"]
PREFERRED = {"science", "coding", "math"}


def cold_start(threads: int) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", COLD.replace("THREADS", str(threads))],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def pool_of_20(policy: Any) -> None:
    """18 paper-setting keyword tuples plus 2 tiny ones, each with its best decision."""
    from genoffload.policies.icl import Experience

    rng = np.random.default_rng(0)
    tuples = [(s, z) for z in ("short", "medium", "long") for s in SERVICES]
    tuples += [("chat", "tiny"), ("math", "tiny")]
    for i in rng.permutation(len(tuples)):
        s, z = tuples[i]
        off = s in PREFERRED
        policy.pool.add(Experience((s, z), off, float(rng.uniform(0, 30)), True, int(i)))


def latency(threads: int, n: int) -> dict[str, Any]:
    from genoffload.llm import build_chat_model
    from genoffload.policies.icl import Experience, ICLPolicy, ICLSettings

    model = build_chat_model("embedded", n_threads=threads)
    policy = ICLPolicy(model, ICLSettings())
    pool_of_20(policy)
    queries = [(s, z) for z in ("short", "medium", "long") for s in SERVICES]
    policy.decide(queries[0])  # decode the prefix once
    steady, right, tokens = [], 0, []
    for i in range(n):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        offload, ntok = policy.decide(q)
        steady.append(time.perf_counter() - t0)
        right += offload == (q[0] in PREFERRED)
        tokens.append(ntok)
    changed = []
    for i in range(max(n // 6, 3)):  # a replacement moves one example to the end of the pool
        q = queries[i % len(queries)]
        policy.pool.add(Experience(q, q[0] in PREFERRED, 100.0 + i, True, 1000 + i))
        t0 = time.perf_counter()
        policy.decide(queries[(i + 7) % len(queries)])
        changed.append(time.perf_counter() - t0)
    return {"median_ms": 1e3 * statistics.median(steady),
            "p90_ms": 1e3 * float(np.percentile(steady, 90)),
            "changed_median_ms": 1e3 * statistics.median(changed),
            "accuracy": right / n, "prompt_tokens": int(statistics.median(tokens)),
            "fallbacks": policy.counters.fallback}


SHORT_TAIL = {"match_repeats": 1, "tail_headers": "short"}
"""The levers of docs/icl.md tried in issue 13: the matching example once, a short header."""
SHORT_HEADER = {"tail_headers": "short"}
"""The short header alone (the matching example still twice)."""


def prompt_latency(threads: int, n: int) -> dict[str, dict[str, Any]]:
    """Decision latency of the default prompt and the shorter tail (issue 13's levers), interleaved.

    Both policies share the model and the prompt prefix (D and the examples), so every decision
    of either reuses the same KV cache and load hits both alike.
    """
    from genoffload.llm import build_chat_model
    from genoffload.policies.icl import ICLPolicy, ICLSettings

    model = build_chat_model("embedded", n_threads=threads)
    policies = {"now": ICLPolicy(model, ICLSettings(**SHORT_TAIL)), "before": ICLPolicy(model, ICLSettings())}
    for p in policies.values():
        pool_of_20(p)
    queries = [(s, z) for z in ("short", "medium", "long") for s in SERVICES]
    policies["now"].decide(queries[0])
    times: dict[str, list[float]] = {k: [] for k in policies}
    right = dict.fromkeys(policies, 0)
    tokens: dict[str, list[int]] = {k: [] for k in policies}
    for i in range(n):
        q = queries[i % len(queries)]
        for name in (("now", "before") if i % 2 else ("before", "now")):
            t0 = time.perf_counter()
            offload, ntok = policies[name].decide(q)
            times[name].append(time.perf_counter() - t0)
            right[name] += offload == (q[0] in PREFERRED)
            tokens[name].append(ntok)
    return {k: {"median_ms": 1e3 * statistics.median(v), "accuracy": right[k] / n,
                "prompt_tokens": int(statistics.median(tokens[k]))} for k, v in times.items()}


def chain_latency(n: int) -> dict[str, Any]:
    """The ``prompt | model | parser`` path with the embedded model (greedy reply parsed)."""
    from genoffload.llm import build_chat_model
    from genoffload.policies.icl import ICLPolicy, ICLSettings

    model = build_chat_model("embedded", n_threads=1, max_tokens=4)  # the word right away
    policy = ICLPolicy(model, ICLSettings(scoring="off", max_retries=0))
    pool_of_20(policy)
    times, answered, right = [], 0, 0
    queries = [(s, "medium") for s in SERVICES]
    for i in range(n):
        q = queries[i % len(queries)]
        t0 = time.perf_counter()
        offload, _ = policy.decide(q)
        times.append(time.perf_counter() - t0)
        answered += offload is not None
        right += offload == (q[0] in PREFERRED)
    return {"median_ms": 1e3 * statistics.median(times), "parsed": answered / n, "accuracy": right / n,
            "last_error": policy.counters.last_error}


def episode(name: str, settings: dict[str, Any], seed: int, steps: int, threads: int) -> dict[str, Any]:
    from genoffload.episode import EpisodeConfig, summary
    from genoffload.llm import build_chat_model
    from genoffload.models.reference import run_certified_episode
    from genoffload.policies.icl import ICLPolicy, ICLSettings
    from genoffload.scenario import make_config

    policy = ICLPolicy(build_chat_model("embedded", n_threads=threads), ICLSettings(**settings))
    t0 = time.perf_counter()
    ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=steps, seed=seed))
    elapsed = time.perf_counter() - t0
    s = summary(ds)
    src = ds["source"].values
    lat = ds["latency_s"].values[src == "llm"]
    return {"name": name, "seed": seed, **s, "llm": int((src == "llm").sum()),
            "decisions": int(src.size), "llm_median_ms": 1e3 * float(np.median(lat)) if lat.size else 0.0,
            "decisions_per_s": src.size / elapsed}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one seed, fewer latency samples")
    ap.add_argument("--seeds", type=int, default=None, help="episodes per configuration")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--threads", type=int, default=1, help="llama.cpp threads")
    ap.add_argument("--skip-baselines", action="store_true")
    ap.add_argument("--prompt-compare", action="store_true",
                    help="quality: the default policy and the prompt before issue 13 only")
    ap.add_argument("--only", choices=("latency", "quality"), default=None,
                    help="run only the latency part (cold start, decision, chain) or the episodes")
    args = ap.parse_args(argv)
    n_lat = 60 if args.quick else 180

    if args.only != "quality":
        report_latency(args.threads, n_lat, args.quick)
    if args.only != "latency":
        report_quality(args)
    return 0


def report_latency(threads: int, n_lat: int, quick: bool) -> None:
    cold = cold_start(threads)
    total = cold["load"] + cold["first"]
    print(f"cold start: import {cold['import']:.2f} s, model load {cold['load']:.2f} s, first "
          f"decision {cold['first']:.2f} s ({cold['tokens']} prompt tokens): load + first = "
          f"{total:.2f} s (target <= 2 s: {'met' if total <= 2 else 'NOT met'})", flush=True)
    print("decision latency, 20-example pool, scoring via the LangChain chat model "
          "(target median <= 60 ms):")
    print(f"{'threads':>7s} {'median ms':>9s} {'p90 ms':>7s} {'changed ms':>10s} {'tokens':>6s} "
          f"{'accuracy':>8s} {'vs 1 thread':>11s}  target")
    base = None
    for t in sorted({1, 2, threads}):
        lat = latency(t, n_lat)
        base = base or lat["median_ms"]
        print(f"{t:7d} {lat['median_ms']:9.1f} {lat['p90_ms']:7.1f} {lat['changed_median_ms']:10.1f} "
              f"{lat['prompt_tokens']:6d} {lat['accuracy']:8.0%} {base / lat['median_ms']:10.2f}x  "
              f"{'met' if lat['median_ms'] <= 60 else 'NOT met'}", flush=True)
    cmp = prompt_latency(1, n_lat)
    now, before = cmp["now"], cmp["before"]
    print(f"prompt tail, 1 thread, interleaved: 1 repeat + short header {now['median_ms']:.1f} ms "
          f"median, {now['prompt_tokens']} tokens, accuracy {now['accuracy']:.0%}; default (2 repeats, "
          f"long header) {before['median_ms']:.1f} ms, {before['prompt_tokens']} tokens, "
          f"accuracy {before['accuracy']:.0%}; ratio {before['median_ms'] / now['median_ms']:.2f}x "
          f"(target <= 60 ms: {'met' if now['median_ms'] <= 60 else 'NOT met'})", flush=True)
    ch = chain_latency(12 if quick else 30)
    print(f"chain path (prompt | model | strict parser, greedy reply): median {ch['median_ms']:.0f} ms,"
          f" parsed {ch['parsed']:.0%}, accuracy {ch['accuracy']:.0%} ({ch['last_error'][:70]})",
          flush=True)


def report_quality(args: argparse.Namespace) -> None:
    seeds = args.seeds or (1 if args.quick else 3)
    configs = [("prioritized + eps-greedy", {})]
    if args.prompt_compare:
        configs += [("one repeat, short header", SHORT_TAIL), ("short header", SHORT_HEADER)]
    elif not args.skip_baselines:
        configs += [("default without mask", {"mask_bad": False}),
                    ("baseline 1: latest", {"replay": "latest"}),
                    ("baseline 2: no exploration", {"epsilon": "constant:0"}),
                    ("paper exploration", {"epsilon": "exp:0.3:0.01:25", "clock": "step",
                                           "explore": "random", "mask_bad": False})]
    rows = []
    for name, settings in configs:
        for seed in range(seeds):
            r = episode(name, settings, seed, args.steps, args.threads)
            rows.append(r)
            print(f"  {name:28s} seed {seed}: tail ratio {r['tail_reward_ratio']:7.1%}, tail success "
                  f"{r['tail_success_rate']:6.1%} ({r['decisions_per_s']:.1f} decisions/s)", flush=True)
    print(f"\nDecision quality, paper setting, {args.steps} steps, last 20 % of steps "
          f"(targets: ratio >= 95 %, success >= 98 %):")
    head = (f"{'policy':28s} {'seed':>4s} {'tail ratio':>10s} {'tail succ':>9s} {'mean rew':>8s} "
            f"{'regret':>7s} {'llm':>4s} {'expl':>4s} {'mask':>4s} {'fallb':>5s} {'llm ms':>7s} "
            f"{'dec/s':>6s}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['name']:28s} {r['seed']:4d} {r['tail_reward_ratio']:10.1%} "
              f"{r['tail_success_rate']:9.1%} {r['mean_reward']:8.2f} {r['regret']:7.2f} "
              f"{r['llm']:4d} {r['explorations']:4d} {r['masked']:4d} {r['fallbacks']:5d} "
              f"{r['llm_median_ms']:7.1f} "
              f"{r['decisions_per_s']:6.1f}")
    print(f"\n{'policy':28s} {'tail ratio':>10s} {'worst':>7s} {'tail succ':>9s} {'mean reward':>11s} "
          f"{'vs main':>8s}")
    main_reward = None
    for name, _ in configs:
        sel = [r for r in rows if r["name"] == name]
        ratio = statistics.mean(r["tail_reward_ratio"] for r in sel)
        worst = min(r["tail_reward_ratio"] for r in sel)
        succ = statistics.mean(r["tail_success_rate"] for r in sel)
        reward = statistics.mean(r["mean_reward"] for r in sel)
        main_reward = reward if main_reward is None else main_reward
        print(f"{name:28s} {ratio:10.1%} {worst:7.1%} {succ:9.1%} {reward:11.2f} "
              f"{reward / main_reward:8.2f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
