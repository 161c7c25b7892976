"""Read and check a finished study folder for the report (``genoffload report``).

A study folder (written by ``genoffload study run``) holds ``summary.parquet`` (one row per
cell), ``curves.parquet`` (per-step means of episode cells), ``results.nc`` (the grid view) and
``metadata.json``. Bad input raises :class:`genoffload.errors.InputError` naming the file or the
column and the value; a missing optional file becomes a note shown in the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from genoffload.errors import InputError

GRID_COLUMNS = ("sites", "users", "rbs", "token_mean", "quality_share", "llm_pair", "edge_model",
                "cloud_model", "families")
METRIC_COLUMNS = ("mean_reward", "optimal_reward", "regret", "success_rate", "mean_delay_s",
                  "tail_reward_ratio", "tail_success_rate", "objective_s", "radio_part_s",
                  "exact_objective_s", "exact_radio_part_s", "gap_total", "gap_radio", "exact_gap",
                  "decisions", "fallbacks", "explorations", "decisions_per_s", "wall_s")
SUMMARY_COLUMNS = ("study", "cell_id", "case_id", "sweep", "seed", "policy", "policy_name", "mode",
                   *GRID_COLUMNS, "status", "error", *METRIC_COLUMNS)
CURVE_COLUMNS = ("cell_id", "case_id", "seed", "policy", "step", "reward", "optimal_reward",
                 "regret", "quality_ok", "delay_s")
CURVE_METRICS = ("reward", "optimal_reward", "regret", "quality_ok", "delay_s")
OPTIONAL_CURVE_METRICS = ("preferred_ok",)
"""Curve columns used when present: ``preferred_ok`` = quality success of quality-preferred tasks."""
OPTIONAL_METRICS = ("preferred_success_rate", "feasible", "exact_certified")
"""Summary metrics used when present (quality success of quality-preferred tasks, feasibility,
whether the exact reference of the gaps is certified)."""
MODES = ("episode", "snapshot")
STATUSES = ("ok", "failed")


@dataclass
class StudyData:
    """A study folder, read and checked.

    Attributes
    ----------
    folder : Path
        The study folder.
    summary : polars.DataFrame
        One row per cell; metric and numeric grid columns as Float64 [units of the schema].
    curves : polars.DataFrame or None
        Per-step means of episode cells (None without ``curves.parquet``).
    metadata : dict
        ``metadata.json``.
    results : dict or None
        Dimensions (name -> size) and variable names of ``results.nc`` (None when missing).
    notes : list[str]
        Problems that do not stop the report (a missing optional file).
    extra_grid : list[str]
        Other scenario keys the study varies (``results.nc`` dimensions that are summary
        columns, e.g. ``media_share``), shown with the grid columns.
    """

    folder: Path
    summary: pl.DataFrame
    curves: pl.DataFrame | None
    metadata: dict[str, Any]
    results: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    extra_grid: list[str] = field(default_factory=list)

    @property
    def grid(self) -> list[str]:
        """Every grid column of a case: the schema's and the extra ones."""
        return [*GRID_COLUMNS, *self.extra_grid]

    @property
    def ok(self) -> pl.DataFrame:
        """The cells that finished (status ``ok``)."""
        return self.summary.filter(pl.col("status") == "ok")


def _read_parquet(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except Exception as err:  # polars/arrow raise several types for a damaged file
        raise InputError(path.name, str(path),
                         f"not a readable Parquet file ({type(err).__name__})") from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path.name}.columns", missing, "missing columns of the study results schema")
    return frame


def _numeric(frame: pl.DataFrame, name: str, columns: tuple[str, ...]) -> pl.DataFrame:
    """Cast ``columns`` to Float64; a non-numeric column is bad input."""
    for col in columns:
        dtype = frame.schema[col]
        if not (dtype.is_numeric() or dtype == pl.Null or dtype == pl.Boolean):
            raise InputError(f"{name}.{col}", str(dtype), "must be a numeric column")
    return frame.with_columns([pl.col(c).cast(pl.Float64) for c in columns])


def _check_values(frame: pl.DataFrame, name: str, column: str, allowed: tuple[str, ...]) -> None:
    bad = frame.filter(~pl.col(column).is_in(list(allowed)))[column]
    if bad.len():
        raise InputError(f"{name}.{column}", bad[0], f"must be one of {', '.join(allowed)}")


def read_summary(path: Path) -> pl.DataFrame:
    """Read ``summary.parquet`` and check its columns and values.

    Returns
    -------
    polars.DataFrame
        The summary with metrics and numeric grid columns as Float64, ``seed`` as Int64.
    """
    frame = _read_parquet(path, SUMMARY_COLUMNS)
    if frame.height == 0:
        raise InputError(path.name, str(path), "has no cells")
    optional = tuple(c for c in OPTIONAL_METRICS if c in frame.columns)
    numeric = ("sites", "users", "rbs", "token_mean", "quality_share", *METRIC_COLUMNS, *optional)
    frame = _numeric(frame, path.name, numeric)
    if not frame.schema["seed"].is_integer():
        raise InputError(f"{path.name}.seed", str(frame.schema["seed"]), "must be an integer column")
    text = ("study", "cell_id", "case_id", "sweep", "policy", "policy_name", "mode", "llm_pair",
            "edge_model", "cloud_model", "families", "status", "error")
    frame = frame.with_columns([pl.col(c).cast(pl.String) for c in text])
    _check_values(frame, path.name, "mode", MODES)
    _check_values(frame, path.name, "status", STATUSES)
    return frame.with_columns(pl.col("seed").cast(pl.Int64))


def read_curves(path: Path) -> pl.DataFrame:
    """Read ``curves.parquet`` (per-step means of episode cells) and check its columns."""
    frame = _read_parquet(path, CURVE_COLUMNS)
    optional = tuple(c for c in OPTIONAL_CURVE_METRICS if c in frame.columns)
    frame = _numeric(frame, path.name, ("step", *CURVE_METRICS, *optional))
    return frame.with_columns(pl.col("step").cast(pl.Int64), pl.col("seed").cast(pl.Int64),
                              pl.col("policy").cast(pl.String), pl.col("case_id").cast(pl.String),
                              pl.col("cell_id").cast(pl.String))


def read_metadata(path: Path) -> dict[str, Any]:
    """Read ``metadata.json`` (a JSON object)."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(path.name, str(path), f"not valid JSON (line {err.lineno}: {err.msg})") from None
    except UnicodeDecodeError:
        raise InputError(path.name, str(path), "not UTF-8 text") from None
    except RecursionError:
        raise InputError(path.name, str(path), "not valid JSON (nested too deep)") from None
    if not isinstance(meta, dict):
        raise InputError(path.name, type(meta).__name__, "must be a JSON object")
    return meta


def read_results(path: Path) -> dict[str, Any]:
    """Dimensions and variables of ``results.nc`` (the file is opened, not loaded)."""
    import xarray as xr

    try:
        classic = path.read_bytes()[:3] == b"CDF"
        with xr.open_dataset(path, engine="scipy" if classic else "h5netcdf") as ds:
            return {"dims": {str(k): int(v) for k, v in ds.sizes.items()},
                    "variables": sorted(str(v) for v in ds.data_vars)}
    except (OSError, ValueError) as err:
        raise InputError(path.name, str(path),
                         f"not a readable NetCDF file ({type(err).__name__})") from None


def read_study_folder(folder: Path | str) -> StudyData:
    """Read a study folder.

    Parameters
    ----------
    folder : Path or str
        The folder written by ``genoffload study run``.

    Returns
    -------
    StudyData

    Raises
    ------
    InputError
        The folder is missing or is not a study folder, or a file in it is damaged or does not
        follow the results schema.
    """
    path = Path(folder)
    if not path.exists():
        raise InputError("dir", str(path), "no such folder")
    if not path.is_dir():
        raise InputError("dir", str(path), "not a folder")
    for name in ("summary.parquet", "metadata.json"):
        if not (path / name).is_file():
            raise InputError("dir", str(path), f"not a study folder: {name} is missing")
    summary = read_summary(path / "summary.parquet")
    metadata = read_metadata(path / "metadata.json")
    notes: list[str] = []
    curves = None
    if (path / "curves.parquet").is_file():
        curves = read_curves(path / "curves.parquet")
    elif summary.filter(pl.col("mode") == "episode").height:
        notes.append("curves.parquet is missing: the per-step panels (Fig. 5a-c) cannot be drawn")
    results = None
    if (path / "results.nc").is_file():
        results = read_results(path / "results.nc")
    else:
        notes.append("results.nc is missing")
    extra = [d for d in (results or {}).get("dims", {}) if d in summary.columns
             and d not in (*GRID_COLUMNS, "policy", "seed", "mode", "steps")]
    return StudyData(path, summary, curves, metadata, results, notes, extra)
