"""Aggregate the finished cells of a study into ``summary.parquet``, ``curves.parquet``,
``results.nc`` and ``metadata.json`` (schema in ``docs/studies.md``); each written atomically.

:func:`write_results` serves every study kind; :func:`summary_table` and :func:`results_dataset`
are the offloading kind's tables (:mod:`genoffload.studies.offload_kind`)."""

from __future__ import annotations

import datetime
import json
import math
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xarray as xr

from genoffload.io import write_atomic
from genoffload.studies.cellfiles import cell_file, check_cell, error_file, read_cell_meta
from genoffload.studies.kind_generic import column_dtype
from genoffload.studies.spec import GRID_COLUMNS, METRICS, Cell, Study

ID_COLUMNS = ("study", "cell_id", "case_id", "sweep", "seed", "policy", "policy_name", "mode")
INT_METRICS = ("decisions", "fallbacks", "explorations")
CURVE_COLUMNS = ("cell_id", "case_id", "seed", "policy", "step", "reward", "optimal_reward", "regret",
                 "quality_ok", "delay_s", "preferred_ok")
VERSIONED = ("genoffload", "numpy", "xarray", "polars", "pyomo", "highspy", "dask", "distributed",
             "langchain-core", "llama-cpp-python", "h5netcdf", "pydantic")
NOT_DIMS = ("edge_model", "cloud_model")
"""Grid columns that follow ``llm_pair`` (never separate dimensions of results.nc)."""


def _clean(value: Any) -> Any:
    if isinstance(value, float | np.floating) and math.isnan(value):
        return None
    return value.item() if isinstance(value, np.generic) else value


def cell_status(out_dir: Path, cell: Cell) -> str:
    """``ok`` (file written and passing :func:`~genoffload.studies.cells.check_cell`), ``failed``
    (error recorded) or ``pending`` (a cell file failing its check is pending: recomputed)."""
    if check_cell(out_dir, cell.cell_id) is None:
        return "ok"
    return "failed" if error_file(out_dir, cell.cell_id).is_file() else "pending"


def _base_row(study: Study, cell: Cell) -> dict[str, Any]:
    case = cell.case
    row: dict[str, Any] = {
        "study": study.name, "cell_id": cell.cell_id, "case_id": case.case_id, "sweep": "+".join(case.sweeps),
        "seed": cell.seed, "policy": cell.policy.key, "policy_name": cell.policy.name, "mode": case.mode}
    row.update({k: case.grid[k] for k in GRID_COLUMNS})
    row["steps"] = case.steps
    row.update({k: case.grid[k] for k in study.extra_grid})
    return row


CURVE_VARIABLES = ("step_index", "step_reward", "step_optimal_reward", "step_regret", "step_quality_ok",
                   "step_delay_s", "step", "preferred", "quality_ok")


def read_cell(out_dir: Path, cell: Cell, curves: bool = False
              ) -> tuple[dict[str, Any], dict[str, np.ndarray] | None]:
    """Status, error and metrics of a cell (and its per-step arrays when ``curves``)."""
    status = cell_status(out_dir, cell)
    out: dict[str, Any] = {"status": status, "error": None}
    arrays = None
    if status == "ok":
        meta, archive = read_cell_meta(cell_file(out_dir, cell.cell_id))
        with archive:
            out.update(json.loads(meta["attrs"]["metrics"]))
            if curves:
                arrays = {k: archive[k] for k in CURVE_VARIABLES}
    elif status == "failed":
        try:
            out["error"] = str(json.loads(error_file(out_dir, cell.cell_id).read_text())["error"])
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            out["error"] = "unreadable error file"
    elif cell_file(out_dir, cell.cell_id).exists():  # pending: a cell file that failed its check
        out["error"] = check_cell(out_dir, cell.cell_id)
    return out, arrays


def _fill_gaps(rows: list[dict[str, Any]], study: Study) -> None:
    """Gap of every snapshot cell to the exact cell of the same (case, seed), and whether that
    reference is certified (``exact_certified``)."""
    joint = [label for label, p in study.policies.items() if p.kind == "joint"]
    named = [lb for lb in joint if study.policies[lb].name == "exact"]
    exact_label = (named or joint or [None])[0]
    exact = {(r["case_id"], r["seed"]): r for r in rows
             if r["policy"] == exact_label and r["mode"] == "snapshot" and r["status"] == "ok"}
    for r in rows:
        ref = exact.get((r["case_id"], r["seed"]))
        if r["mode"] != "snapshot" or ref is None or r["status"] != "ok":
            continue
        r["exact_objective_s"], r["exact_radio_part_s"] = ref["objective_s"], ref["radio_part_s"]
        r["exact_gap"] = ref.get("exact_gap")
        # 1: the reference is certified optimal; 0: the gaps below are against an uncertified
        # number (time limit, numerical trouble, ...); None: an older cell without the flag
        r["exact_certified"] = ref.get("exact_certified")
        obj, rad = ref["objective_s"], ref["radio_part_s"]
        r["gap_total"] = (r["objective_s"] - obj) / obj if obj else None
        r["gap_radio"] = (r["radio_part_s"] - rad) / rad if rad else None


def summary_table(study: Study, out_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per cell (the summary) and the per-step curves of the episode cells."""
    rows, curves = [], []
    for cell in study.cells:
        values, arrays = read_cell(out_dir, cell, curves=cell.case.mode == "episode")
        row = {**_base_row(study, cell), "status": values.pop("status"), "error": values.pop("error")}
        row.update({m: _clean(values.get(m)) for m in METRICS})
        rows.append(row)
        if arrays is not None:
            curves.append(_curves(arrays, row))
    _fill_gaps(rows, study)
    columns = list(rows[0]) if rows else [*ID_COLUMNS, *GRID_COLUMNS, "steps", "status", "error", *METRICS]
    schema = {c: (pl.Int64 if c in (*INT_METRICS, "seed", "steps") else
                  pl.Float64 if c in METRICS else pl.Utf8 if c in (*ID_COLUMNS, "status", "error")
                  else column_dtype([r[c] for r in rows])) for c in columns}
    for c in columns:  # e.g. tasks_per_user: 1 in one case, [1, 2] in another
        if schema[c] == pl.Utf8:
            for r in rows:
                r[c] = r[c] if r[c] is None or isinstance(r[c], str) else json.dumps(r[c])
    table = pl.DataFrame({c: [r[c] for r in rows] for c in columns}, schema=schema)
    curve_table = pl.concat(curves) if curves else pl.DataFrame(
        schema={c: pl.Utf8 if c in ("cell_id", "case_id", "policy") else pl.Int64 if c in ("seed", "step")
                else pl.Float64 for c in CURVE_COLUMNS})
    return table, curve_table


def _curves(a: dict[str, np.ndarray], row: dict[str, Any]) -> pl.DataFrame:
    steps = a["step_index"].astype(np.int64)
    pref = a["preferred"].astype(bool)
    ok = a["quality_ok"].astype(float)
    step_of = a["step"].astype(np.int64)
    n_pref = np.bincount(step_of[pref], minlength=steps.size)[steps]
    ok_pref = np.bincount(step_of[pref], weights=ok[pref], minlength=steps.size)[steps]
    pref_ok = [float(x / n) if n else None for x, n in zip(ok_pref, n_pref, strict=True)]
    n = steps.size
    return pl.DataFrame({
        "cell_id": [row["cell_id"]] * n, "case_id": [row["case_id"]] * n,
        "seed": np.full(n, row["seed"], dtype=np.int64), "policy": [row["policy"]] * n, "step": steps,
        "reward": a["step_reward"].astype(float), "optimal_reward": a["step_optimal_reward"].astype(float),
        "regret": a["step_regret"].astype(float), "quality_ok": a["step_quality_ok"].astype(float),
        "delay_s": a["step_delay_s"].astype(float), "preferred_ok": pl.Series(pref_ok, dtype=pl.Float64)})


def dims_of(study: Study) -> list[str]:
    """Grid keys that vary across the cases (the dimensions of results.nc before policy, seed)."""
    keys = [k for k in (*GRID_COLUMNS, *study.extra_grid) if k not in NOT_DIMS]
    dims = [k for k in keys if len({json.dumps(c.grid[k]) for c in study.cases}) > 1]
    modes = {c.mode for c in study.cases}
    if len(modes) > 1:
        dims.append("mode")
    if any(len({c.steps for c in study.cases if c.mode == m}) > 1 for m in modes):
        dims.append("steps")
    return dims


def results_dataset(study: Study, table: pl.DataFrame) -> xr.Dataset:
    """The summary as an ``xarray.Dataset``: dims = varying grid keys + policy + seed (NaN: absent)."""
    dims = [*dims_of(study), "policy", "seed"]
    # a key unset in some cases (e.g. backhaul_capacity_mbit: None = off) sorts last, written as NaN
    coords: dict[str, list[Any]] = {d: sorted(set(table[d].to_list()), key=lambda v: (v is None, v or 0))
                                    for d in dims if d != "policy"}
    coords["policy"] = list(study.policies)
    shape = tuple(len(coords[d]) for d in dims)
    metrics = study.spec.study.metrics or list(METRICS)
    data = {m: np.full(shape, np.nan) for m in metrics}
    index = {d: {v: i for i, v in enumerate(coords[d])} for d in dims}
    for row in table.filter(pl.col("status") == "ok").iter_rows(named=True):
        at = tuple(index[d][row[d]] for d in dims)
        for m in metrics:
            data[m][at] = np.nan if row[m] is None else row[m]
    ds = xr.Dataset({m: (dims, data[m], {"units": METRICS[m]}) for m in metrics},
                    coords={d: np.asarray([np.nan if v is None else v for v in coords[d]]) for d in dims})
    ds.attrs = {"study": study.name, "spec_hash": study.spec_hash,
                "description": "metrics per grid point, policy and seed (NaN: no such cell)"}
    return ds


def write_netcdf(ds: xr.Dataset, path: Path) -> None:
    """Write a Dataset to NetCDF-4 atomically with a local lock (not a cluster-wide
    ``distributed.Lock``, which xarray takes while a Dask client is the default scheduler)."""
    import dask

    with dask.config.set(scheduler="synchronous"):
        write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def versions() -> dict[str, str | None]:
    """Installed versions of the packages that make a result."""
    out: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict[str, Any]:
    """Platform, CPU count and memory [B] of this machine."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        memory = None
    return {"platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "memory_bytes": memory}


def now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_results(study: Any, out_dir: Path, run: dict[str, Any]) -> pl.DataFrame:
    """Write the four result files of a study folder of any kind; return the summary table.

    The tables and the grid Dataset come from the study's kind
    (:meth:`~genoffload.studies.kinds.Pipeline.tables`, ``dataset``); the files and
    ``metadata.json`` are the same for every kind.

    Parameters
    ----------
    run : dict
        This run: ``workers``, ``scheduler``, ``start_time``, ``end_time``, ``wall_s`` [s],
        ``computed`` and ``reused`` cell counts.
    """
    from genoffload.studies.kinds import kind_of_study, pipeline_of

    pipeline = pipeline_of(kind_of_study(study))
    table, curves = pipeline.tables(study, out_dir)
    write_atomic(out_dir / "summary.parquet", lambda tmp: table.write_parquet(tmp))
    write_atomic(out_dir / "curves.parquet", lambda tmp: curves.write_parquet(tmp))
    ds = pipeline.dataset(study, table)
    write_netcdf(ds, out_dir / "results.nc")
    failed = table.filter(pl.col("status") == "failed")
    previous: list[dict[str, Any]] = []
    meta_path = out_dir / "metadata.json"
    if meta_path.is_file():
        try:
            previous = list(json.loads(meta_path.read_text()).get("runs", []))
        except (ValueError, AttributeError, TypeError, RecursionError):
            previous = []
    runs = [*previous, run]
    kind = {} if study.kind == "offload" else {"kind": study.kind}  # offload: as before kinds existed
    doc = {
        "study": study.name, **kind, "description": study.description, "source": study.source,
        "study_file": study.text, "spec_hash": study.spec_hash, "versions": versions(),
        "seeds": study.seeds, "machine": machine(), "workers": run["workers"],
        "scheduler": run.get("scheduler"), "start_time": runs[0]["start_time"], "end_time": run["end_time"],
        "wall_s": sum(float(r["wall_s"]) for r in runs), "cells_total": table.height,
        "cells_done": int((table["status"] == "ok").sum()), "cells_failed": failed.height,
        "failures": failed.select("cell_id", "case_id", *(["policy"] if "policy" in table.columns else []),
                                  "seed", "error").to_dicts(),
        "runs": runs,
    }
    write_atomic(meta_path, lambda tmp: tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n"))
    return table
