"""The Snake Learning study kind: schema, cell expansion, cell function and report panels.

A study file (``studies/snake.toml``) has a ``[base]`` cell, ``[[sweep]]`` tables whose lists
are crossed (each sweep on top of the base; the cells of all sweeps, duplicates once), and
``seeds``. A cell is one method on one setting; :func:`run_cell` returns an xarray Dataset
(0-d variables: metrics; 1-d: curves over ``round`` or ``node``), :func:`panels` draws the
report from the collected tables: accuracy vs round, memory per node, bytes per round,
predicted vs measured memory.

Importing the module registers the ``snake`` study kind (:data:`SNAKE`: schema :class:`SnakeCell`,
cell :func:`run_cell`, :func:`kind_panels` over the study runner's tables), so
``genoffload study run snake`` and ``genoffload report`` run it like every kind;
``genoffload snake compare`` calls :func:`parse_study`, :func:`expand`, :func:`run_cell`,
:func:`tables` and :func:`panels` itself.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genoffload.errors import InputError, validation_error
from genoffload.studies.kind_generic import grid_cells
from genoffload.studies.kinds import KindCell, StudyKind, register_kind

KIND = "snake"


class SnakeCell(BaseModel):
    """One cell: a method on a model, a data split and a node set."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["digits-cnn", "gemma3-270m"] = "digits-cnn"
    dataset: Literal["digits", "pydoc-topics"] = "digits"
    method: Literal["fedavg", "split", "snake", "snake-kd", "snake-fp32"] = "snake"
    nodes: int = Field(6, ge=1)
    alpha: float | Literal["iid"] = "iid"
    heterogeneity: float = Field(0.0, ge=0.0, lt=1.0)
    memory_gib: float = Field(4.0, gt=0.0)
    rounds: int = Field(30, ge=1)
    epochs: int = Field(1, ge=1)
    batch: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    steps: int = Field(5, ge=1)  # language model: steps per node
    seq: int = Field(64, ge=8)

    @field_validator("alpha")
    @classmethod
    def _alpha(cls, v: float | str) -> float | str:
        if v != "iid" and not (isinstance(v, float | int) and v > 0):
            raise ValueError("must be 'iid' or a positive number")
        return v


class SnakeStudy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["snake"] = "snake"
    name: str = "snake"
    description: str = ""
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    base: dict[str, Any] = Field(default_factory=dict)
    sweep: list[dict[str, list[Any]]] = Field(default_factory=list)


def _flat(doc: dict[str, Any]) -> dict[str, Any]:
    """A study file in the study runner's layout (``[study]`` table, named sweeps) as the flat
    document of :class:`SnakeStudy` (the sweeps' names dropped)."""
    head = doc.get("study")
    if not isinstance(head, dict):
        return doc
    sweeps = doc.get("sweep", [])
    if isinstance(sweeps, list):
        sweeps = [{k: v for k, v in sw.items() if k != "name"} if isinstance(sw, dict) else sw
                  for sw in sweeps]
    return {**{k: v for k, v in doc.items() if k != "study"}, **head, "sweep": sweeps}


def parse_study(doc: dict[str, Any], where: str = "study") -> SnakeStudy:
    """The study document (a parsed TOML, flat or with a ``[study]`` table) checked; bad fields as
    one-line InputErrors."""
    try:
        study = SnakeStudy.model_validate(_flat(doc))
    except ValidationError as err:
        raise validation_error(err, where) from None
    try:
        SnakeCell.model_validate(study.base)
    except ValidationError as err:
        raise validation_error(err, f"{where}.base") from None
    return study


def expand(study: SnakeStudy) -> list[dict[str, Any]]:
    """Cells (params dicts, every field filled) of a study, in order, duplicates once."""
    cells, seen = [], set()
    for i, sweep in enumerate(study.sweep or [{}]):
        keys = list(sweep)
        for combo in itertools.product(*(sweep[k] for k in keys)):
            raw = {**study.base, **dict(zip(keys, combo, strict=True))}
            try:
                cell = SnakeCell.model_validate(raw).model_dump()
            except ValidationError as err:
                raise validation_error(err, f"sweep[{i}]") from None
            key = tuple(sorted((k, str(v)) for k, v in cell.items()))
            if key not in seen:
                seen.add(key)
                cells.append(cell)
    return cells


def run_cell(params: dict[str, Any], seed: int) -> xr.Dataset:
    """One cell: digits training (all rounds) or one language-model round."""
    cell = SnakeCell.model_validate(params)
    if cell.model == "gemma3-270m":
        if cell.dataset != "pydoc-topics":
            raise InputError("dataset", cell.dataset, "the language model trains on pydoc-topics")
        from genoffload.snake.gemma import GemmaRun
        from genoffload.snake.gemma_run import compare_gemma

        if cell.method not in ("fedavg", "snake", "snake-fp32"):
            raise InputError("method", cell.method, "the language model runs fedavg, snake or snake-fp32")
        ds = compare_gemma(GemmaRun(nodes=cell.nodes, steps=cell.steps, batch=1, seq=cell.seq),
                           methods=(cell.method,))
        out = ds.isel(method=0).drop_vars("method")
        for k in ("alloc_peak", "rss_peak", "predicted"):
            out[f"max_{k}"] = float(out[k].max())
        out["final_loss"] = float(out["eval_loss"])
        return out
    if cell.dataset != "digits":
        raise InputError("dataset", cell.dataset, "the digits CNN trains on digits")
    if cell.method == "snake-fp32":
        raise InputError("method", cell.method, "only for the language model")
    from genoffload.snake.experiment import DigitsRun, run_digits

    run = DigitsRun(method=cell.method, nodes=cell.nodes, alpha=None if cell.alpha == "iid" else
                    float(cell.alpha), rounds=cell.rounds, epochs=cell.epochs, batch=cell.batch, lr=cell.lr)
    segments = _planned(cell, run, seed) if cell.method.startswith("snake") and cell.heterogeneity else None
    return run_digits(run, seed, segments)


def _planned(cell: SnakeCell, run: Any, seed: int) -> list[tuple[int, int, int]]:
    """Segments of the certified plan for a heterogeneous node set (memory spread by
    ``heterogeneity`` around ``memory_gib``)."""
    from genoffload.models.snake_plan import plan
    from genoffload.snake.cost import Training
    from genoffload.snake.layers import digits_cnn_spec
    from genoffload.snake.nodes import make_nodes

    nodes = make_nodes(cell.nodes, memory_gib=cell.memory_gib, heterogeneity=cell.heterogeneity,
                       samples=1437 // cell.nodes, seed=seed)
    return plan(digits_cnn_spec(), nodes, Training(batch=cell.batch, kd=run.method == "snake-kd")).segments


def tables(results: list[tuple[dict[str, Any], int, xr.Dataset]]) -> tuple[Any, Any]:
    """(summary, curves) polars tables: one summary row per cell and seed (0-d variables), one
    curve row per 1-d value (``var``, ``dim``, ``x``, ``value``)."""
    import polars as pl

    rows, curves = [], []
    for params, seed, ds in results:
        tag = {k: str(v) for k, v in params.items()} | {"seed": seed}
        rows.append(tag | {k: float(v) for k, v in ds.data_vars.items() if v.ndim == 0})
        for k, v in ds.data_vars.items():
            if v.ndim == 1:
                dim = v.dims[0]
                for x, y in zip(ds[dim].values.tolist(), v.values.tolist(), strict=True):
                    curves.append(tag | {"var": k, "dim": dim, "x": float(x), "value": float(y)})
    return pl.DataFrame(rows), pl.DataFrame(curves)


def panels(summary: Any, curves: Any) -> list[tuple[str, Any]]:
    """Report panels: accuracy vs round, memory per node, bytes per round, predicted vs measured."""
    import polars as pl
    from matplotlib.figure import Figure

    figs = []
    acc = curves.filter(pl.col("var") == "accuracy")
    if acc.height:
        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
        for (method, alpha, nodes), g in acc.group_by(["method", "alpha", "nodes"], maintain_order=True):
            s = g.group_by("x").agg(pl.col("value").mean().alias("m"),
                                    pl.col("value").std().alias("s")).sort("x")
            x, m, sd = s["x"].to_numpy(), s["m"].to_numpy(), np.nan_to_num(s["s"].to_numpy())
            ax.plot(x, m, label=f"{method}, {nodes} nodes, alpha {alpha}")
            ax.fill_between(x, m - sd, m + sd, alpha=0.15)
        ax.set(xlabel="round", ylabel="test accuracy", title="Accuracy vs round (mean ± sd over seeds)")
        ax.legend(fontsize=6)
        figs.append(("Accuracy vs round", fig))
    for var, title, ylabel in (("memory_measured", "Measured peak memory per node", "MiB"),
                               ("alloc_peak", "Measured peak memory per node (language model)", "MiB")):
        mem = curves.filter(pl.col("var") == var)
        if mem.height:
            fig = Figure(figsize=(7, 4))
            ax = fig.subplots()
            groups = mem.group_by(["method", "nodes"], maintain_order=True).agg(pl.col("value").max())
            names = [f"{m}\n{n} nodes" for m, n in zip(groups["method"], groups["nodes"], strict=True)]
            ax.bar(names, [v / 2**20 for v in groups["value"]])
            ax.set(ylabel=f"largest node [{ylabel}]", title=title)
            figs.append((title, fig))
    if "bytes_per_round" in summary.columns:
        fig = Figure(figsize=(7, 4))
        ax = fig.subplots()
        g = summary.group_by(["method", "nodes"], maintain_order=True).agg(pl.col("bytes_per_round").mean())
        ax.bar([f"{m}\n{n} nodes" for m, n in zip(g["method"], g["nodes"], strict=True)],
               [v / 2**20 for v in g["bytes_per_round"]])
        ax.set(ylabel="bytes per round [MiB]", title="Bytes moved per round")
        figs.append(("Bytes per round", fig))
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    for meas, pred in (("memory_measured", "memory_predicted"), ("alloc_peak", "predicted")):
        a, b = curves.filter(pl.col("var") == meas), curves.filter(pl.col("var") == pred)
        if a.height and a.height == b.height:
            ax.scatter(b["value"].to_numpy() / 2**20, a["value"].to_numpy() / 2**20, s=10, label=meas)
    lim = ax.get_xlim()
    ax.plot(lim, lim, "k--", lw=0.8)
    ax.set(xlabel="predicted [MiB] (eqs. S1-S3)", ylabel="measured [MiB]",
           title="Predicted vs measured memory")
    figs.append(("Predicted vs measured", fig))
    return figs


LABELS = ("method", "alpha", "nodes")
"""Cell keys the panels label the curves with: grid columns of every snake study."""
CURVE_DIMS = ("round", "node")


def kind_cells(kind: StudyKind, base: dict[str, Any], sweeps: list[dict[str, Any]],
               seeds: list[int]) -> list[KindCell]:
    """The study runner's cells (:func:`~genoffload.studies.kind_generic.grid_cells`), with
    :data:`LABELS` among the grid columns even where no sweep varies them."""
    return [replace(c, coords={**{k: c.params[k] for k in LABELS}, **c.coords})
            for c in grid_cells(kind, base, sweeps, seeds)]


def long_curves(curves: Any) -> Any:
    """The study runner's curves table (one column per curve, ``round`` and ``node`` positions)
    in the long form of :func:`tables`: the cell keys as text, ``seed``, ``var``, ``dim``, ``x``,
    ``value``."""
    import polars as pl

    keys = [c for c in curves.columns if c in SnakeCell.model_fields]
    ids = ("cell_id", "case_id", "seed", "sweep")
    names = [c for c in curves.columns if c not in (*ids, *keys, *CURVE_DIMS)]
    parts = []
    for name in names:
        rows = curves.filter(pl.col(name).is_not_null())
        dim = next((d for d in CURVE_DIMS if d in rows.columns and rows[d].null_count() == 0), None)
        if dim is None or rows.height == 0:
            continue
        parts.append(rows.select(*[pl.col(k).cast(pl.Utf8) for k in keys], "seed", pl.lit(name).alias("var"),
                                 pl.lit(dim).alias("dim"), pl.col(dim).cast(pl.Float64).alias("x"),
                                 pl.col(name).cast(pl.Float64).alias("value")))
    if not parts:
        return pl.DataFrame(schema={"var": pl.Utf8, "dim": pl.Utf8, "x": pl.Float64, "value": pl.Float64})
    return pl.concat(parts)


def kind_panels(summary: Any, curves: Any) -> list[tuple[str, Any]]:
    """The report panels of a snake study run by the study runner (:func:`panels`)."""
    return panels(summary, long_curves(curves))


SNAKE = register_kind(StudyKind(
    KIND, SnakeCell, run_cell, kind_panels, expand=kind_cells, curve_dim=CURVE_DIMS,
    description="Snake Learning vs FedAvg vs Split Learning: real training per method, nodes and skew"))

__all__ = ["KIND", "SnakeCell", "SnakeStudy", "expand", "panels", "parse_study", "run_cell", "tables"]
