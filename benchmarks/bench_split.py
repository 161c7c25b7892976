"""Benchmark of split inference (issue 15) on the embedded Gemma 3 270M.

Run: ``.venv/bin/python benchmarks/bench_split.py [--quick]`` (torchllm extra).

1. Real evaluations per second: perplexity with the link at splits 1, 9, 17 (8 bits, SINR 13 dB,
   erasure 0.02), windows 128 and 256 tokens, one thread (``--quick``: 128 only).
2. Cache hit path: evaluations per second read from the measurement cache (target >= 1,000/s).
3. Roofline against measured: per-layer time of the 256-token prefill on this machine against the
   roofline of the ``this-vm-2core`` device profile (ratio per layer).
4. Surrogate vs exhaustive: on the measured table of the shipped study (``genoffload split run
   split`` first; read from the cache, no new measurement), the surrogate-argmax policy's mean
   relative regret on the held-out channel states for budgets 4..24 real evaluations, against
   exhaustive search's evaluations (target: within 1 % with >= 10x fewer evaluations).
"""

from __future__ import annotations

import sys
import time

import numpy as np


def main(argv: list[str]) -> int:
    import torch

    torch.set_num_threads(1)
    from genoffload.split import quality as q
    from genoffload.split.cache import MeasuredQuality, MeasurementCache
    from genoffload.split.channel import ChannelState
    from genoffload.split.config import get_config, get_device
    from genoffload.split.equations import layer_times

    quick = "--quick" in argv
    import os

    print(f"load average {os.getloadavg()[0]:.2f} (1 min), 1 torch thread")
    t0 = time.perf_counter()
    q.load_embedded()
    print(f"model load (float32 cache): {time.perf_counter() - t0:.1f} s")
    state = ChannelState(13.0, 0.02)
    for window in (128,) if quick else (128, 256):
        r = q.embedded_runner(window)
        r.prepare()
        t0, c0 = time.perf_counter(), time.process_time()
        for split in (1, 9, 17):
            r.perplexity(split, 8, state, 0)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(f"window {window}: clean forward {r.forward_seconds:.2f} s, ppl0 {r.ppl0:.2f}; "
              f"3 real evaluations (splits 1, 9, 17) {wall:.2f} s wall, {cpu:.2f} s CPU -> "
              f"{3 / wall:.2f} evaluations/s")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        store = MeasurementCache(f"{tmp}/c.jsonl")
        mq = MeasuredQuality(lambda s, b, st, seed: 20.0 + s, store, {"bench": 1}, layers=18)
        cells = [(s, b, ChannelState(10.0 + i, 0.01))
                 for i in range(20) for s in range(18) for b in (4, 8, 16)]
        for c in cells:
            mq(*c)
        reread = MeasuredQuality(None, MeasurementCache(f"{tmp}/c.jsonl"), {"bench": 1}, layers=18)
        t0 = time.perf_counter()
        for c in cells:
            reread(*c)
        rate = len(cells) / (time.perf_counter() - t0)
        print(f"cache hit path: {rate:,.0f} evaluations/s over {len(cells)} cells (target >= 1,000/s): "
              f"{'met' if rate >= 1000 else 'NOT met'}")
    r = q.embedded_runner(256)
    r.prepare()
    measured = r.time_layers(1 if quick else 2)
    roof = layer_times(get_config("gemma3-270m"), get_device("this-vm-2core"), len(r.ids))
    ratio = roof / measured
    print("roofline / measured per layer (256 tokens): " + " ".join(f"{x:.3f}" for x in ratio))
    print(f"  measured {measured.sum():.2f} s for 18 layers, roofline {roof.sum():.3f} s; "
          f"median ratio {np.median(ratio):.3f}")
    surrogate_curve()
    return 0


def surrogate_curve() -> None:
    import math

    from genoffload.models.split_bound import bounds
    from genoffload.policies.split.mbrl import train_surrogate
    from genoffload.studies.split_runner import load_split_study
    from genoffload.studies.split_study import Counted, SplitParams, build, draw_states, mean_regret

    study = load_split_study("split")
    for case, values in study.cases:
        p = SplitParams(**values)
        problem, quality, ppl0 = build(p, 0)
        quality.measure = None  # cache only: run `genoffload split run split` first
        test = draw_states(p.n_test, 0, p.sinr_db, p.erasure, 1)
        train = draw_states(p.n_train, 0, p.sinr_db, p.erasure, 0)
        try:
            found = bounds(problem, test, quality, ppl0)
        except KeyError:
            print(f"{case}: no measured table in the cache (run genoffload split run split)")
            continue
        exhaustive = sum(1 for a in problem.actions() if a[0] < problem.layers) * len(test)
        acts = problem.actions()
        for budget in (4, 8, 12, 16, 24):
            counted = Counted(quality, layers=problem.layers)
            try:
                sur, _ = train_surrogate(problem, train, counted, ppl0, budget, 0)
            except KeyError:
                print(f"{case}: budget {budget} asks an unmeasured training cell; stop")
                break
            chosen = [acts[int(np.argmax(sur.rewards(s, acts)))] for s in test]
            _, rel = mean_regret(problem, found, chosen)
            n = len(counted.asked)
            worst = max((b.reward - b.rewards[a]) / abs(b.reward) if b.reward else math.inf
                        for b, a in zip(found, chosen, strict=True))
            print(f"{case}: budget {budget:2d}: {n} real evaluations vs {exhaustive} exhaustive "
                  f"({exhaustive / max(n, 1):.1f}x fewer); mean relative regret {rel:.3%}, worst {worst:.3%}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
