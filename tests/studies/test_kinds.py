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


def test_shipped_kinds_are_known() -> None:
    assert set(KIND_MODULES) == {"offload", "split", "snake"}
    for name, module in KIND_MODULES.items():
        if importlib.util.find_spec(module) is None:  # not written yet: an unknown kind, no crash
            with pytest.raises(InputError, match=r"^study\.kind: unknown study kind"):
                get_kind(name)
            assert name not in known_kinds()
        else:
            assert get_kind(name).name == name and name in known_kinds()


def test_split_and_snake_studies_are_shipped_kinds() -> None:
    from genoffload.studies import SHIPPED
    from genoffload.studies.snake_study import LABELS, SnakeCell
    from genoffload.studies.split_study import SplitParams

    assert {"split", "snake"} <= set(SHIPPED)
    assert get_kind("split").base is SplitParams and get_kind("snake").base is SnakeCell
    split = load_study("split")
    assert split.kind == "split" and len(split.cells) == 2
    assert {c.sweeps for c in split.cells} == {("paper-reward",), ("delay-floor",)}
    snake = load_study("snake")  # the cells of `snake compare --study snake`, times the seeds
    assert snake.kind == "snake" and len(snake.cells) == (4 * 2 * 2 + 1) * 3
    assert snake.grid[:3] == LABELS  # the panels' labels, whatever the sweeps vary
    with pytest.raises(InputError, match=r"^base\.window: "):
        parse_study(split.text.replace("window = 128", "window = 4"))
    with pytest.raises(InputError, match=r"^sweep\[0\]\.nodes\[1\]: "):
        parse_study(snake.text.replace("nodes = [6, 10]", "nodes = [6, 0]"))


def test_split_panels_read_the_runner_curves() -> None:
    from genoffload.studies.split_study import kind_panels, long_curves

    ids = {"cell_id": ["a"] * 5, "case_id": ["c"] * 5, "seed": [0] * 5, "sweep": ["s"] * 5}
    curves = pl.DataFrame({**ids, "budget": [2, 4, None, None, None], "split": [None, None, 0, 2, 4],
                           "regret_vs_evaluations": [0.5, 0.1, None, None, None],
                           "ppl_vs_split[8]": [None, None, 20.0, 21.0, 22.0],
                           "delay_vs_split[8]": [None, None, 1.0, 0.5, 0.7]})
    long = long_curves(curves)
    assert long.columns == ["cell", "case", "seed", "curve", "x", "y"] and long.height == 2 + 3 + 3
    regret = long.filter(pl.col("curve") == "regret_vs_evaluations")
    assert regret["x"].to_list() == [2.0, 4.0] and regret["y"].to_list() == [0.5, 0.1]
    titles = [t for t, _ in kind_panels(pl.DataFrame(), curves)]
    assert titles == ["perplexity vs split (mean over held-out channel states)", "request delay vs split",
                      "surrogate regret vs real evaluations"]


TINY_SPLIT = """
[study]
name = "tiny-split"
kind = "split"
seeds = [0]

[base]
source = "tiny"
window = 16
splits = [0, 2, 4]
n_train = 2
n_test = 2
budgets = [2, 4]
budget = 4
policies = ["ue-only", "mbrl-argmax"]
cache = "CACHE"
"""


@pytest.mark.slow
def test_split_study_runs_through_the_study_runner(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("sklearn")
    from genoffload.studies.split_study import split_cell

    text = TINY_SPLIT.replace("CACHE", str(tmp_path / "cache.jsonl"))
    out = tmp_path / "split"
    report = run_study(parse_study(text, "tiny-split.toml"), out, workers=1)
    assert report.computed == 1 and report.failed == 0
    summary = pl.read_parquet(out / "summary.parquet")
    ds = split_cell(load_study_params(text), 0)  # the same numbers as the cell function's (cached)
    row = summary.row(0, named=True)
    assert row["kind"] == "split" and row["regret[mbrl-argmax]"] == ds["regret[mbrl-argmax]"].item()
    curves = pl.read_parquet(out / "curves.parquet")
    assert curves.filter(pl.col("budget").is_not_null()).height == 2
    assert curves.filter(pl.col("split").is_not_null())["split"].to_list() == [0, 2, 4]
    built = build_report(out)
    assert [p.title for p in built.panels][-1] == "surrogate regret vs real evaluations"
    assert all(p.png for p in built.panels)


def load_study_params(text: str) -> dict[str, Any]:
    """The params of the only cell of a study file."""
    (cell,) = parse_study(text).cells
    return dict(cell.params)


@pytest.mark.slow
def test_snake_study_runs_through_the_study_runner(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    text = ('[study]\nname = "tiny-snake"\nkind = "snake"\nseeds = [0]\n[base]\nnodes = 3\nrounds = 2\n'
            '[[sweep]]\nname = "methods"\nmethod = ["fedavg", "snake"]\n')
    out = tmp_path / "snake"
    report = run_study(parse_study(text, "tiny-snake.toml"), out, workers=1)
    assert report.computed == 2 and report.failed == 0
    summary = pl.read_parquet(out / "summary.parquet")
    assert summary["method"].to_list() == ["fedavg", "snake"] and summary["nodes"].to_list() == [3, 3]
    assert {"final_accuracy", "bytes_per_round", "peak_memory"} <= set(summary.columns)
    curves = pl.read_parquet(out / "curves.parquet")
    assert {"round", "node", "accuracy", "memory_measured"} <= set(curves.columns)
    titles = [p.title for p in build_report(out).panels]
    assert titles == ["Accuracy vs round", "Measured peak memory per node", "Bytes per round",
                      "Predicted vs measured"]
