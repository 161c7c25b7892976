"""Foundation timings: scenario generation, schedulers and the evaluator (median of repeats).

Usage: ``python benchmarks/bench_foundation.py [--quick]``. No targets: a reference table.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from genoffload.evaluate import evaluate
from genoffload.scenario import generate, make_config
from genoffload.schedulers import SCHEDULERS


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    repeats = 3 if args.quick else 7
    cases = [(1, 20, None), (7, 20, None), (19, 20, None), (1, 200, 275)]
    print(f"{'scenario':<32}{'tasks':>7}{'generate [ms]':>15}" +
          "".join(f"{name + ' [ms]':>18}" for name in SCHEDULERS) + f"{'evaluate [ms]':>15}")
    for sites, users, rbs in cases:
        cfg = make_config({"sites": sites, "users": users, "rbs": rbs, "tasks_per_user": (1, 3)})
        ds = generate(cfg)
        row = f"{sites} sites x {users} users x {ds.sizes['rb']} RBs"
        gen = median_s(lambda cfg=cfg: generate(cfg), repeats)
        sched = [median_s(lambda f=f, ds=ds: f(ds), repeats) for f in SCHEDULERS.values()]
        z = SCHEDULERS["pf"](ds)
        alpha = np.zeros(ds.sizes["task"], dtype=bool)
        ev = median_s(lambda ds=ds, z=z, alpha=alpha: evaluate(ds, z, alpha), repeats)
        print(f"{row:<32}{ds.sizes['task']:>7}{1e3 * gen:>15.1f}" +
              "".join(f"{1e3 * s:>18.1f}" for s in sched) + f"{1e3 * ev:>15.1f}")


if __name__ == "__main__":
    main()
