"""The shared pipeline of a study kind: its file, its cells, its worker task, its result tables.

A kind's study file (see :mod:`genoffload.studies.kinds`)::

    [study]     name, kind, description, seeds
    [base]      the fields of the kind's ``base`` schema
    [[sweep]]   name, and fields of ``base`` given as lists (the sweep is their product)

``summary.parquet`` has one row per cell: ``study``, ``kind``, ``cell_id``, ``case_id``,
``sweep``, ``seed``, the grid columns (every key a sweep varies), ``status``, ``error``, the cell's
metrics (its 0-d data variables) and ``wall_s`` [s]. ``curves.parquet`` has one row per cell and
position along the kind's ``curve_dim`` (the cell's 1-d variables along it; a kind with several
curve dimensions has a column for each, empty in the rows of the others). ``results.nc`` holds
the numeric metrics on the grid (the varying grid keys x seed).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genoffload.errors import InputError, validation_error
from genoffload.sizes import check_study_size
from genoffload.studies.cellfiles import cell_file, check_cell, error_file, execute_cell, read_cell_meta
from genoffload.studies.kind_base import (
    ID_COLUMNS,
    KindCell,
    StudyKind,
    StudyNames,
    check_seeds,
    digest,
    upper_cases_seeds,
)

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class KindSection(BaseModel):
    """The ``[study]`` table of a kind's study file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(pattern=NAME, max_length=80)
    kind: str
    description: str = ""
    seeds: list[int] = Field(default=[0], min_length=1)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return check_seeds(seeds)


class KindFile(BaseModel):
    """A kind's study file as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    study: KindSection
    base: dict[str, Any] = {}
    sweep: list[dict[str, Any]] = []


@dataclass(frozen=True)
class KindStudy(StudyNames):
    """A validated study of a kind (not ``offload``)."""

    kind: str
    spec: KindFile
    text: str
    source: str
    spec_hash: str
    cells: tuple[KindCell, ...]
    grid: tuple[str, ...]
    definition: StudyKind | None = field(default=None, compare=False, repr=False)
    """The kind itself (its cell function and curve dimensions)."""

    @property
    def cases(self) -> list[str]:
        """The case ids (a cell without its seed), in order."""
        return list(dict.fromkeys(c.case_id for c in self.cells))


@dataclass(frozen=True)
class KindTask:
    """What a worker needs to compute a kind's cell (pickled; ``cell`` by reference)."""

    kind: str
    cell_id: str
    case_id: str
    seed: int
    params: dict[str, Any]
    cell: Callable[[dict[str, Any], int], xr.Dataset]
    curve_dim: str | tuple[str, ...]
    out_dir: str

    @property
    def label(self) -> str:
        return self.kind


def _validate(schema: type[BaseModel], values: dict[str, Any], where: str) -> BaseModel:
    try:
        return schema.model_validate(values)
    except ValidationError as err:
        raise validation_error(err, where) from None


def _coord(value: Any) -> Any:
    return value if isinstance(value, bool | int | float | str) or value is None else json.dumps(value)


def grid_cells(kind: StudyKind, base: dict[str, Any], sweeps: list[dict[str, Any]],
               seeds: list[int]) -> list[KindCell]:
    """The cells of a kind's study: the union of the sweeps (each the product of its lists, every
    other field from ``[base]``), deduplicated, times the seeds.

    Raises
    ------
    InputError
        Naming ``base.FIELD``, ``sweep[i].FIELD[j]`` or ``sweep[i].name`` and the value.
    """
    schema = kind.base
    _validate(schema, base, "base")
    combos: list[tuple[str, dict[str, Any], str]] = []
    varied: list[str] = []
    names: set[str] = set()
    for i, sweep in enumerate(sweeps):
        where = f"sweep[{i}]"
        name = sweep.get("name")
        if not isinstance(name, str) or not re.fullmatch(NAME, name) or name == "base":
            raise InputError(f"{where}.name", name,
                             "needs a name of letters, digits, '_', '-', '.' (not 'base')")
        if name in names:
            raise InputError(f"{where}.name", name, "duplicate sweep name")
        names.add(name)
        grid = {k: v for k, v in sweep.items() if k != "name"}
        if not grid:
            raise InputError(where, name, "varies no key (give at least one key with a list)")
        for key, values in grid.items():
            if key not in schema.model_fields:
                raise InputError(f"{where}.{key}", values, "unknown key")
            if not isinstance(values, list) or not values:
                raise InputError(f"{where}.{key}", values, "expected a non-empty list of values")
            for j, v in enumerate(values):
                try:
                    _validate(schema, {**base, key: v}, where)
                except InputError as err:
                    own = err.field.startswith(f"{where}.{key}")
                    tail = err.field.removeprefix(f"{where}.{key}")
                    raise InputError(f"{where}.{key}[{j}]{tail}" if own else err.field, err.value,
                                     err.reason) from None
            varied += [key] if key not in varied else []
        combos += [(name, dict(zip(grid, point, strict=True)), where)
                   for point in itertools.product(*grid.values())]
    if not sweeps:
        combos.append(("base", {}, "base"))
    cases: dict[str, dict[str, Any]] = {}
    for name, point, where in combos:
        params = _validate(schema, {**base, **point}, where).model_dump(mode="json")
        case_id = digest({"kind": kind.name, "params": params}, 12)
        entry = cases.setdefault(case_id, {"params": params, "sweeps": []})
        entry["sweeps"] = list(dict.fromkeys([*entry["sweeps"], name]))
    return [KindCell(digest({"v": 1, "kind": kind.name, "params": e["params"], "seed": s}), case_id,
                     tuple(e["sweeps"]), {k: _coord(e["params"][k]) for k in varied}, e["params"], s)
            for case_id, e in cases.items() for s in seeds]


def _upper_cells(raw: dict[str, Any]) -> int:
    """Most cells a raw kind study file can expand to, from its list lengths only."""
    cases, seeds = upper_cases_seeds(raw)
    return cases * seeds


def parse_kind_study(kind: StudyKind, raw: dict[str, Any], text: str, source: str) -> KindStudy:
    """Validate a kind's study file into a :class:`KindStudy`."""
    upper = _upper_cells(raw)
    check_study_size(upper, "sweep", f"{upper} cells")
    try:
        spec = KindFile.model_validate(raw)
    except ValidationError as err:
        raise validation_error(err) from None
    expand = kind.expand or grid_cells
    cells = tuple(expand(kind, spec.base, spec.sweep, spec.study.seeds))
    grid = tuple(dict.fromkeys(k for c in cells for k in c.coords))
    return KindStudy(kind.name, spec, text, source, digest(spec.model_dump(mode="json"), 64), cells, grid,
                     kind)


def compute_kind_cell(task: KindTask) -> tuple[xr.Dataset, dict[str, Any], dict[str, Any]]:
    """Run the kind's cell function; split its Dataset into metrics (0-d) and curves (1-d)."""
    ds = task.cell(dict(task.params), task.seed)
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"the {task.kind} cell function returned {type(ds).__name__}, not an xarray.Dataset")
    metrics: dict[str, Any] = {}
    for name, var in ds.data_vars.items():
        if var.ndim == 0:
            value = var.values.item()
            metrics[str(name)] = None if isinstance(value, float) and math.isnan(value) else value
    dims = (task.curve_dim,) if isinstance(task.curve_dim, str) else tuple(task.curve_dim)
    curves = {str(n): str(v.dims[0]) for n, v in ds.data_vars.items()
              if v.ndim == 1 and v.dims[0] in dims and v.dtype.kind in "biuf"}
    attrs = {"kind": task.kind, "seed": task.seed, "curves": json.dumps(list(curves)), "curve_dim": dims[0]}
    if len(dims) > 1:  # several curve dimensions: the dimension of each curve
        attrs["curve_dims"] = json.dumps(curves)
    return ds, metrics, attrs


def run_kind_cell(task: KindTask) -> dict[str, Any]:
    """What a Dask worker runs for a kind's cell (writes the cell file, never raises)."""
    return execute_cell(task, compute_kind_cell)


def column_dtype(values: list[Any]) -> Any:
    """The polars type of a table column from its values (``None``: missing): Boolean, Int64,
    Float64 or, for anything else, Utf8."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return pl.Boolean
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pl.Int64
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return pl.Float64
    return pl.Utf8


def _frame(rows: list[dict[str, Any]], columns: list[str], text: tuple[str, ...]) -> pl.DataFrame:
    schema = {c: pl.Utf8 if c in text else pl.Int64 if c == "seed" else column_dtype([r.get(c) for r in rows])
              for c in columns}
    for c in columns:
        if schema[c] == pl.Utf8:
            for r in rows:
                v = r.get(c)
                r[c] = v if v is None or isinstance(v, str) else json.dumps(v)
    return pl.DataFrame({c: [r.get(c) for r in rows] for c in columns}, schema=schema)


def kind_tables(study: KindStudy, out_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``summary.parquet`` and ``curves.parquet`` of a kind's study folder."""
    rows: list[dict[str, Any]] = []
    curve_rows: list[dict[str, Any]] = []
    metric_names: list[str] = []
    curve_names: list[str] = []
    dims: list[str] = []
    last_dim = "step"  # the curve dimension of a study whose cells have no curves
    for cell in study.cells:
        row: dict[str, Any] = {"study": study.name, "kind": study.kind, "cell_id": cell.cell_id,
                               "case_id": cell.case_id, "sweep": "+".join(cell.sweeps), "seed": cell.seed,
                               **{k: cell.coords.get(k) for k in study.grid}, "status": "pending",
                               "error": None}
        problem = check_cell(out_dir, cell.cell_id)
        if problem is None:
            meta, archive = read_cell_meta(cell_file(out_dir, cell.cell_id))
            with archive:
                metrics = json.loads(meta["attrs"]["metrics"])
                row.update(status="ok", **metrics)
                metric_names += [m for m in metrics if m not in metric_names]
                last_dim = str(meta["attrs"].get("curve_dim", last_dim))
                names = json.loads(meta["attrs"].get("curves", "[]"))
                curve_names += [n for n in names if n not in curve_names]
                for dim, along in _curves_by_dim(meta["attrs"], names).items():
                    dims += [dim] if dim not in dims else []
                    n = int(archive[along[0]].shape[0])
                    pos = archive[dim] if dim in archive.files else np.arange(n)
                    for i in range(n):
                        curve_rows.append({"cell_id": cell.cell_id, "case_id": cell.case_id,
                                           "seed": cell.seed,
                                           "sweep": row["sweep"], **{k: row[k] for k in study.grid},
                                           dim: _plain(pos[i]),
                                           **{m: _plain(archive[m][i]) for m in along}})
        elif error_file(out_dir, cell.cell_id).is_file():
            row["status"] = "failed"
            try:
                row["error"] = str(json.loads(error_file(out_dir, cell.cell_id).read_text())["error"])
            except (OSError, ValueError, KeyError, TypeError, RecursionError):
                row["error"] = "unreadable error file"
        elif cell_file(out_dir, cell.cell_id).exists():
            row["error"] = problem
        rows.append(row)
    metric_names = [m for m in metric_names if m != "wall_s"] + ["wall_s"]
    text = ("study", "kind", "cell_id", "case_id", "sweep", "status", "error")
    summary = _frame(rows, [*ID_COLUMNS, *study.grid, "status", "error", *metric_names], text)
    curve_cols = ["cell_id", "case_id", "seed", "sweep", *study.grid, *(dims or [last_dim]), *curve_names]
    curves = _frame(curve_rows, curve_cols, ("cell_id", "case_id", "sweep"))
    return summary, curves


def _curves_by_dim(attrs: dict[str, Any], names: list[str]) -> dict[str, list[str]]:
    """A cell file's curve variables grouped by their dimension (in order)."""
    if "curve_dims" in attrs:
        of = json.loads(attrs["curve_dims"])
    else:
        of = dict.fromkeys(names, str(attrs.get("curve_dim", "step")))
    grouped: dict[str, list[str]] = {}
    for name in names:
        grouped.setdefault(of[name], []).append(name)
    return grouped


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def kind_dataset(study: KindStudy, summary: pl.DataFrame) -> xr.Dataset:
    """The numeric metrics on the grid: dims = the grid keys that vary + seed (NaN: no such cell)."""
    dims = [k for k in study.grid if summary[k].n_unique() > 1] + ["seed"]
    coords = {d: sorted(set(summary[d].to_list()), key=lambda v: (v is None, v)) for d in dims}
    index = {d: {v: i for i, v in enumerate(coords[d])} for d in dims}
    numeric = [c for c in summary.columns if c not in (*ID_COLUMNS, *study.grid, "status", "error")
               and summary.schema[c].is_numeric()]
    shape = tuple(len(coords[d]) for d in dims)
    data = {m: np.full(shape, np.nan) for m in numeric}
    for row in summary.filter(pl.col("status") == "ok").iter_rows(named=True):
        at = tuple(index[d][row[d]] for d in dims)
        for m in numeric:
            data[m][at] = np.nan if row[m] is None else row[m]
    ds = xr.Dataset({m: (dims, data[m]) for m in numeric},
                    coords={d: np.asarray([np.nan if v is None else v for v in coords[d]]) for d in dims})
    ds.attrs = {"study": study.name, "kind": study.kind, "spec_hash": study.spec_hash,
                "description": "metrics per grid point and seed (NaN: no such cell)"}
    return ds


def status_counts() -> list[pl.Expr]:
    """Aggregations counting the ``ok``, ``failed`` and ``pending`` cells of a summary group."""
    return [(pl.col("status") == s).sum().alias(s) for s in ("ok", "failed", "pending")]


def failed_cells(summary: pl.DataFrame, label: str) -> list[dict[str, Any]]:
    """``cell_id``, ``policy`` (the ``label`` column), ``seed``, ``error`` of every failed cell."""
    failed = summary.filter(pl.col("status") == "failed")
    return failed.select("cell_id", pl.col(label).alias("policy"), "seed", "error").to_dicts()


class KindPipeline:
    """The shared pipeline of every kind without its own (see :class:`~genoffload.studies.kinds.Pipeline`)."""

    def parse(self, kind: StudyKind, raw: dict[str, Any], text: str, source: str) -> KindStudy:
        return parse_kind_study(kind, raw, text, source)

    def task(self, study: KindStudy, cell: KindCell, out_dir: Path) -> KindTask:
        kind = study.definition
        assert kind is not None and kind.cell is not None, "a parsed study knows its kind"
        return KindTask(study.kind, cell.cell_id, cell.case_id, cell.seed, cell.params, kind.cell,
                        kind.curve_dim, str(out_dir.resolve()))

    def worker(self) -> Callable[[KindTask], dict[str, Any]]:
        return run_kind_cell

    def priority(self, study: KindStudy, cell: KindCell) -> int:
        return 0

    def tables(self, study: KindStudy, out_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
        return kind_tables(study, out_dir)

    def dataset(self, study: KindStudy, summary: pl.DataFrame) -> xr.Dataset:
        return kind_dataset(study, summary)

    def report(self, kind: StudyKind, folder: Path, progress: Callable[[str], None]) -> Any:
        from genoffload.studies.kind_report import build_kind_report

        return build_kind_report(kind, folder, progress)

    def headline(self, study: KindStudy) -> str:
        return (f"study [bold]{study.name}[/] ({study.kind}): {len(study.cases)} cases x "
                f"{len(study.seeds)} seeds = {len(study.cells)} cells")

    def check_rows(self, study: KindStudy) -> tuple[list[str], list[list[str]]]:
        seen: dict[str, list[str]] = {}
        for c in study.cells:
            grid = ", ".join(f"{k}={v}" for k, v in c.coords.items())
            seen.setdefault(c.case_id, [c.case_id, "+".join(c.sweeps), grid, ""])[3] += f"{c.seed} "
        return ["case", "sweep", "grid", "seeds"], [[*r[:3], r[3].strip()] for r in seen.values()]

    def status_table(self, summary: pl.DataFrame, title: str) -> Any:
        from rich.table import Table

        out = Table(title=title)
        metrics = [c for c in summary.columns[summary.columns.index("error") + 1:]
                   if summary.schema[c].is_numeric() and c != "wall_s"][:4]
        for col in ("sweep", "ok", "failed", "pending", *metrics):
            out.add_column(col, justify="left" if col == "sweep" else "right")
        grouped = summary.group_by("sweep", maintain_order=True).agg(
            *status_counts(), *[pl.col(m).cast(pl.Float64).mean() for m in metrics])
        for r in grouped.iter_rows(named=True):
            out.add_row(r["sweep"], str(r["ok"]), str(r["failed"]), str(r["pending"]),
                        *["–" if r[m] is None else f"{r[m]:.4g}" for m in metrics])
        return out

    def failures(self, summary: pl.DataFrame) -> list[dict[str, Any]]:
        return failed_cells(summary, "sweep")


GENERIC = KindPipeline()
"""The pipeline of every kind that brings none of its own."""
