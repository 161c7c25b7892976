"""Start-up and wall time of the ``genoffload`` command line, hyperfine-style.

Run: ``.venv/bin/python benchmarks/bench_cli.py [--quick] [--runs N]``.

Each command runs ``N`` times as a fresh process (after one warm-up run); the table shows the
median and the fastest wall time, next to ``python -c pass`` (the interpreter's own start) and
``python -c "import xarray, pandas, polars, pyomo.environ"`` (what ``--help`` imported before
issue 13), measured in the same run so load affects all rows alike. Targets: ``--help`` and
``--version`` <= 0.4 s; a solve at paper scale (``genoffload solve``, the paper setting:
1 site, 20 users) <= its own reported time (build + transfer + solve) + 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent / "genoffload"


def wall(cmd: list[str], runs: int) -> list[float]:
    subprocess.run(cmd, capture_output=True, check=True)  # warm-up: the page cache
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs")
    ap.add_argument("--runs", type=int, default=None)
    args = ap.parse_args(argv)
    runs = args.runs or (3 if args.quick else 10)
    print(f"load before: {os.getloadavg()[0]:.2f}; {runs} runs per command", flush=True)
    rows: list[tuple[str, list[float], str]] = []
    py = sys.executable
    rows.append(("python -c pass", wall([py, "-c", "pass"], runs), ""))
    rows.append(("import xarray, pandas, polars, pyomo (the old --help)",
                 wall([py, "-c", "import xarray, pandas, polars, pyomo.environ"], runs), ""))
    for name in ("--help", "--version"):
        t = wall([str(BIN), name], runs)
        rows.append((f"genoffload {name}", t, "met" if statistics.median(t) <= 0.4 else "NOT met"))
    rows.append(("genoffload icl run --help", wall([str(BIN), "icl", "run", "--help"], runs), ""))
    with tempfile.TemporaryDirectory() as tmp:
        nc = Path(tmp) / "paper.nc"
        subprocess.run([str(BIN), "scenario", "generate", "-o", str(nc)], capture_output=True, check=True)
        solve_runs = max(3, runs // 3)
        times, own = [], []
        for _ in range(solve_runs):
            t0 = time.perf_counter()
            out = subprocess.run([str(BIN), "solve", str(nc), "--json"], capture_output=True, text=True,
                                 check=True)
            times.append(time.perf_counter() - t0)
            own.append(float(json.loads(out.stdout)["total_s"]))
        over = statistics.median(t - o for t, o in zip(times, own, strict=True))
        rows.append((f"genoffload solve (paper scale; own time {statistics.median(own):.2f} s)", times,
                     f"+{over:.2f} s over its own time: {'met' if over <= 1.0 else 'NOT met'}"))
    print(f"\n{'command':58s} {'median s':>8s} {'min s':>6s}  target")
    for name, t, verdict in rows:
        print(f"{name:58s} {statistics.median(t):8.3f} {min(t):6.3f}  {verdict}")
    print(f"load after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
