"""The exact solver of two versions side by side, in one run: same instances, alternating.

Run: ``python benchmarks/compare_solver.py OLD_PYTHON NEW_PYTHON [--repeats 3]``, each PYTHON the
interpreter of an environment with one version installed (e.g. a worktree of the old commit).
The instances are ``bench_solver.py --quick``'s. Each (instance, version) is solved
``--repeats`` times, the versions alternating so that a change of the machine's load hits both;
the table gives the median solve time [s] of each and their ratio (new / old), and checks that
both versions return the same status and objective. Not part of ``make bench`` (it needs two
environments); the issue-14 refactor records its result in ``docs/performance.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_solver import BASE, instances, multicell

WORKER = """
import json, sys, time
from genoffload.models import solve
from genoffload.scenario import generate, make_config
cfg, limit = json.loads(sys.stdin.read())
ds = generate(make_config(cfg))
t0 = time.perf_counter()
res = solve(ds, time_limit=limit)
wall = time.perf_counter() - t0
print(json.dumps({"wall_s": wall, "status": str(res.summary.status), "objective": res.summary.objective}))
"""


def run(python: str, cfg: dict, limit: float | None) -> dict:
    """One solve in a fresh interpreter of that version."""
    out = subprocess.run([python, "-c", WORKER], input=json.dumps([cfg, limit]), capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("old_python")
    ap.add_argument("new_python")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    todo = instances(True) + multicell(True)
    print(f"{'instance':<18}{'old [s]':>9}{'new [s]':>9}{'new/old':>9}  same answer")
    ratios, same_all = [], True
    for name, cfg, limit in todo:
        cfg = {**BASE, **cfg}
        times: dict[str, list[float]] = {"old": [], "new": []}
        answers: dict[str, set[tuple[str, float]]] = {"old": set(), "new": set()}
        for r in range(args.repeats):
            order = ("old", "new") if r % 2 == 0 else ("new", "old")
            for which in order:
                res = run(args.old_python if which == "old" else args.new_python, cfg, limit)
                times[which].append(res["wall_s"])
                answers[which].add((res["status"], round(res["objective"], 9)))
        old, new = statistics.median(times["old"]), statistics.median(times["new"])
        same = answers["old"] == answers["new"]
        same_all &= same
        ratios.append(new / old)
        print(f"{name:<18}{old:>9.3f}{new:>9.3f}{new / old:>9.3f}  {'yes' if same else 'NO'}")
    med = statistics.median(ratios)
    print(f"median of the per-instance ratios: {med:.3f} (target <= 1.1); same answers: {same_all}")
    return 0 if same_all else 1


if __name__ == "__main__":
    sys.exit(main())
