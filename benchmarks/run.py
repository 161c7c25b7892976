"""Run every benchmark (``make bench``): each ``bench_*.py`` in turn, printing its table.

Usage: ``python benchmarks/run.py [--quick] [NAME ...]`` where NAME filters the scripts
(e.g. ``solver``, ``llm``, ``icl``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")]
    here = Path(__file__).parent
    scripts = sorted(p for p in here.glob("bench_*.py") if not names or any(n in p.stem for n in names))
    failed = 0
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(script), *(["--quick"] if quick else [])])
        print(f"--- {script.stem}: exit {rc}, {time.perf_counter() - t0:.1f} s", flush=True)
        failed += rc != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
