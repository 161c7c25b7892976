"""Resume after ``kill -9``: ``genoffload study run`` is killed once some cells are written, then
run again; the finished cells are not recomputed and the final results equal an uninterrupted
run's."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
import xarray as xr

from genoffload.studies.cells import open_cell

GENOFFLOAD = Path(sys.executable).with_name("genoffload")
TIMING = ("wall_s", "decisions_per_s")

SPEC = """
[study]
name = "resume"
mode = "episode"
seeds = [0, 1, 2]
steps = 12

[base]
sites = 1
users = 4
rbs = 12

[[sweep]]
name = "users"
users = [4, 6]

[[sweep]]
name = "gap"
mode = "snapshot"
families = ["slo+concurrency"]
policies = ["exact", "quality-rule"]

[[policy]]
name = "quality-rule"

[[policy]]
name = "all-edge"

[[policy]]
name = "greedy"

[[policy]]
name = "exact"
"""
TOTAL = 2 * 3 * 3 + 2 * 3


def _run(spec: Path, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GENOFFLOAD), "study", "run", str(spec), "-o", str(out), "--workers", "2"],
                          capture_output=True, text=True, timeout=600, check=False)


def _session_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _kill_midway(spec: Path, out: Path, at_least: int) -> None:
    proc = subprocess.Popen([str(GENOFFLOAD), "study", "run", str(spec), "-o", str(out), "--workers", "2"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while len(list((out / "cells").glob("*.npz"))) < at_least:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no cells written"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30  # the workers notice their parent is gone
        while _session_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        if _session_alive(proc.pid):  # only the processes this test started (its own session)
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_kill_9_then_resume_gives_the_uninterrupted_results(tmp_path: Path) -> None:
    spec = tmp_path / "resume.toml"
    spec.write_text(SPEC)
    reference = tmp_path / "reference"
    res = _run(spec, reference)
    assert res.returncode == 0, res.stderr

    out = tmp_path / "killed"
    _kill_midway(spec, out, at_least=4)
    assert not (out / "summary.parquet").exists()
    finished = {p.name: (p.stat().st_mtime_ns, open_cell(p).attrs["computed_at_ns"])
                for p in (out / "cells").glob("*.npz")}
    assert 4 <= len(finished) < TOTAL
    res = _run(spec, out)
    assert res.returncode == 0, res.stderr
    after = {p.name: (p.stat().st_mtime_ns, open_cell(p).attrs["computed_at_ns"])
             for p in (out / "cells").glob("*.npz")}
    assert len(after) == TOTAL
    assert {k: after[k] for k in finished} == finished  # not recomputed, not rewritten
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["runs"][-1]["reused"] == len(finished)
    assert meta["runs"][-1]["computed"] == TOTAL - len(finished)

    a = pl.read_parquet(reference / "summary.parquet").drop(*TIMING)
    b = pl.read_parquet(out / "summary.parquet").drop(*TIMING)
    assert a.height == TOTAL and (a["status"] == "ok").all()
    assert a.equals(b)
    assert pl.read_parquet(reference / "curves.parquet").equals(pl.read_parquet(out / "curves.parquet"))
    xa = xr.open_dataset(reference / "results.nc").drop_vars(list(TIMING))
    xb = xr.open_dataset(out / "results.nc").drop_vars(list(TIMING))
    xr.testing.assert_identical(xa, xb)
