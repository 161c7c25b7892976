"""Benchmark of the certified per-step reference (issue 11): what it adds to an episode.

Run: ``.venv/bin/python benchmarks/bench_reference.py [--quick] [--no-icl] [--repeats N]``.

Cases: the paper setting (1 cell, 20 users, arrival probability 0.05, no coupling family) and a
coupled one (edge TPOT slope 0.3, arrival probability 0.3: about 6 tasks per step, every step's
cell coupled). For each case a 300-step ``quality-rule`` episode runs with ``reference="none"``,
``"offload"`` (a: alpha* | z) and ``"joint"`` (a and b), interleaved ``--repeats`` times so the
load of the machine cancels; the table shows the median wall time, the reference's own time
per step (``step_reference_s``), how (b) was obtained (closed form, relaxation certificate,
exact solver) and the largest certified gap. Targets: ``joint`` adds <= 25 % to the
quality-rule episode. Then one embedded-ICL episode per case (extra ``embedded``; skipped with
``--no-icl``; ``--icl-steps``, default 100): the reference's share of its wall time (measured
inside the same run), target <= 5 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any

CASES: dict[str, tuple[dict[str, Any], float]] = {
    "paper": ({}, 0.05),
    "coupled (slope 0.3, p 0.3)": ({"edge_tpot_slope": 0.3}, 0.3),
}


def episode(base: Any, policy: Any, steps: int, p: float, reference: str) -> tuple[float, Any]:
    from genoffload.episode import EpisodeConfig
    from genoffload.models.reference import run_certified_episode

    t0 = time.perf_counter()
    ds = run_certified_episode(base, policy,
                               EpisodeConfig(steps=steps, seed=1, arrival_prob=p, reference=reference))
    return time.perf_counter() - t0, ds


def methods(ds: Any) -> str:
    import numpy as np

    names, counts = np.unique(ds["step_joint_method"].values, return_counts=True)
    return ", ".join(f"{n} {c}" for n, c in zip(names, counts, strict=True))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-icl", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--icl-steps", type=int, default=100)
    args = ap.parse_args(argv)
    from genoffload.episode import summary
    from genoffload.policy import RulePolicy
    from genoffload.scenario import make_config

    steps = 60 if args.quick else 300
    repeats = 1 if args.quick else args.repeats
    print(f"load: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} CPUs; {steps} steps, "
          f"{repeats} interleaved repeats")
    print(f"{'case':28s} {'reference':9s} {'wall s':>7s} {'added':>7s} {'ref ms/step':>11s} "
          f"{'max gap s':>10s}  joint from")
    for name, (keys, p) in CASES.items():
        base = make_config({"sites": 1, "users": 20, **keys})
        episode(base, RulePolicy("quality-rule"), 3, p, "joint")  # imports and caches warm
        times: dict[str, list[float]] = {"none": [], "offload": [], "joint": []}
        last: dict[str, Any] = {}
        for _ in range(repeats):
            for mode in times:
                from genoffload.models import offload_given_z
                from genoffload.models.reference import _JOINT_CACHE

                offload_given_z._CACHE.clear()  # no help from an earlier repeat
                _JOINT_CACHE.clear()
                wall, ds = episode(base, RulePolicy("quality-rule"), steps, p, mode)
                times[mode].append(wall)
                last[mode] = ds
        none = statistics.median(times["none"])
        for mode, ts in times.items():
            wall = statistics.median(ts)
            ds = last[mode]
            ref = float(ds["step_reference_s"].values.mean()) * 1e3
            gap = summary(ds)["max_gap"] if mode != "none" else float("nan")
            print(f"{name:28s} {mode:9s} {wall:7.2f} {wall / none - 1:7.1%} {ref:11.2f} "
                  f"{gap:10.2e}  {methods(ds) if mode == 'joint' else ''}", flush=True)
    if args.no_icl:
        return 0
    try:
        from genoffload.llm import build_chat_model
        from genoffload.policies.icl import ICLPolicy, ICLSettings
    except ImportError as err:  # pragma: no cover - extra missing
        print(f"ICL skipped: {err}")
        return 0
    icl_steps = min(steps, args.icl_steps)
    print(f"\nembedded ICL, {icl_steps} steps, reference joint (share measured inside the episode)")
    print(f"{'case':28s} {'wall s':>7s} {'reference s':>11s} {'added':>7s} {'decisions':>9s}")
    for name, (keys, p) in CASES.items():
        base = make_config({"sites": 1, "users": 20, **keys})
        extras = ("load",) if keys else ()
        policy = ICLPolicy(build_chat_model("embedded"), ICLSettings(extras=extras))
        wall, ds = episode(base, policy, icl_steps, p, "joint")
        ref = float(ds["step_reference_s"].values.sum())
        print(f"{name:28s} {wall:7.2f} {ref:11.2f} {ref / (wall - ref):7.1%} {ds.sizes['decision']:9d}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
