"""Study kinds: a tiny kind defined here runs through the shared runner, result files and report
with no other edit (the recipe "Adding a study kind" of docs/architecture.md); the offloading
studies are the ``offload`` kind and unchanged by an explicit ``kind = "offload"``."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import xarray as xr
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field

from genoffload.errors import InputError
from genoffload.studies import get_kind, load_study, parse_study, register_kind, run_study
from genoffload.studies.kinds import KIND_MODULES, StudyKind, known_kinds
from genoffload.studies.report import build_report, write_report


class WalkSettings(BaseModel):
    """A biased random walk: ``steps`` moves of ``drift`` + N(0, ``noise``) [m]."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: int = Field(20, ge=1, le=1000)
    drift: float = 0.1
    noise: float = Field(1.0, ge=0)
    fail: bool = False


def walk_cell(params: dict[str, Any], seed: int) -> xr.Dataset:
    """One walk: position per step (curve) and its mean, final value and step count (metrics)."""
    cfg = WalkSettings(**params)
    if cfg.fail:
        raise RuntimeError("asked to fail")
    rng = np.random.default_rng(seed)
    position = np.cumsum(cfg.drift + cfg.noise * rng.standard_normal(cfg.steps))
    return xr.Dataset({"position": ("step", position), "mean_position": ((), float(position.mean())),
                       "final_position": ((), float(position[-1])), "moves": ((), cfg.steps)},
                      coords={"step": np.arange(cfg.steps)})


def walk_panels(summary: pl.DataFrame, curves: pl.DataFrame) -> list[tuple[str, Figure]]:
    fig = Figure()
    ax = fig.subplots()
    for (drift,), part in curves.group_by(["drift"], maintain_order=True):
        mean = part.group_by("step").agg(pl.col("position").mean()).sort("step")
        ax.plot(mean["step"], mean["position"], label=f"drift {drift}")
    ax.legend()
    return [("Mean position per step", fig)]


WALK = StudyKind("walk-test", WalkSettings, walk_cell, walk_panels, description="random walks (test)")

SPEC = """
[study]
name = "walks"
kind = "walk-test"
description = "tiny kind study"
seeds = [0, 1]

[base]
steps = 12
noise = 0.5

[[sweep]]
name = "drift"
drift = [0.0, 0.5]

[[sweep]]
name = "broken"
fail = [true]
"""


@pytest.fixture(scope="module")
def walk_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    register_kind(WALK)
    out = tmp_path_factory.mktemp("kind") / "walks"
    report = run_study(parse_study(SPEC, "walks.toml"), out, workers=1)
    return out, report


def test_kind_study_runs_through_the_shared_runner(walk_run: tuple[Path, Any]) -> None:
    out, report = walk_run
    assert report.computed == 6 and report.failed == 2
    for name in ("summary.parquet", "curves.parquet", "results.nc", "metadata.json", "study.toml"):
        assert (out / name).is_file(), name
    summary = pl.read_parquet(out / "summary.parquet")
    assert summary.columns[:6] == ["study", "kind", "cell_id", "case_id", "sweep", "seed"]
    assert {"drift", "fail", "mean_position", "final_position", "moves", "wall_s"} <= set(summary.columns)
    ok = summary.filter(pl.col("status") == "ok").sort("drift", "seed")
    assert ok.height == 4 and ok["moves"].to_list() == [12] * 4
    for r in ok.iter_rows(named=True):  # the metrics are the cell function's, recomputed here
        ds = walk_cell({"steps": 12, "noise": 0.5, "drift": r["drift"], "fail": False}, r["seed"])
        assert r["final_position"] == float(ds["final_position"])
    failed = summary.filter(pl.col("status") == "failed")
    assert failed.height == 2 and failed["error"].str.contains("asked to fail").all()
    curves = pl.read_parquet(out / "curves.parquet")
    assert curves.height == 4 * 12 and {"step", "position", "drift"} <= set(curves.columns)
    with xr.open_dataset(out / "results.nc", engine="h5netcdf") as ds:
        assert set(ds["final_position"].dims) == {"drift", "fail", "seed"}
    meta = json.loads((out / "metadata.json").read_text())
    assert meta["kind"] == "walk-test" and meta["cells_failed"] == 2


def test_kind_study_resumes(walk_run: tuple[Path, Any]) -> None:
    out, _ = walk_run
    before = pl.read_parquet(out / "summary.parquet").filter(pl.col("status") == "ok")
    again = run_study(parse_study(SPEC, "walks.toml"), out, workers=1)
    assert again.reused == 4 and again.computed == 2  # only the failed cells are tried again
    after = pl.read_parquet(out / "summary.parquet").filter(pl.col("status") == "ok")
    assert after.drop("wall_s").equals(before.drop("wall_s"))


def test_kind_study_report(walk_run: tuple[Path, Any]) -> None:
    out, _ = walk_run
    report = build_report(out)
    assert [p.title for p in report.panels] == ["Mean position per step"]
    assert report.panels[0].png is not None
    tables = {t.key: t.frame for t in report.tables}
    assert tables["tbl-cases"].height == 2 and tables["tbl-failures"].height == 2
    html = write_report(out, out / "report.html")[0].read_text()
    assert "Figures of the walk-test study" in html and "Mean position per step" in html


def test_kind_study_bad_input() -> None:
    register_kind(WALK)
    with pytest.raises(InputError, match=r"^sweep\[0\]\.speed: unknown key"):
        parse_study(SPEC.replace("drift = [0.0, 0.5]", "speed = [1]"))
    with pytest.raises(InputError, match=r"^sweep\[0\]\.noise\[1\]: "):
        parse_study(SPEC.replace("drift = [0.0, 0.5]", "noise = [1.0, -2.0]"))
    with pytest.raises(InputError, match=r"^base\.steps: "):
        parse_study(SPEC.replace("steps = 12", "steps = 0"))
    with pytest.raises(InputError, match=r"^study\.seeds: seeds must be unique"):
        parse_study(SPEC.replace("seeds = [0, 1]", "seeds = [1, 1]"))
    with pytest.raises(InputError, match=r"^study\.kind: unknown study kind \(known: offload"):
        parse_study(SPEC.replace('kind = "walk-test"', 'kind = "nope"'))


def test_offload_is_a_kind_and_unchanged() -> None:
    assert get_kind("offload").name == "offload" and "offload" in known_kinds()
    demo = load_study("demo")
    text = demo.text.replace('[study]\n', '[study]\nkind = "offload"\n', 1)
    explicit = parse_study(text)
    assert explicit.kind == demo.kind == "offload"
    assert explicit.spec_hash == demo.spec_hash
    assert [c.cell_id for c in explicit.cells] == [c.cell_id for c in demo.cells]


def test_later_kinds_are_skipped_until_written() -> None:
    # split and snake join KIND_MODULES once their modules register a kind (issues 15/16)
    for name, module in KIND_MODULES.items():
        if importlib.util.find_spec(module) is None:  # not written yet: an unknown kind, no crash
            with pytest.raises(InputError, match=r"^study\.kind: unknown study kind"):
                get_kind(name)
            assert name not in known_kinds()
        else:
            assert get_kind(name).name == name and name in known_kinds()
