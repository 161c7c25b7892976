"""Explicit scenarios: user-supplied rates (or gains, powers and noise) and tasks.

Formats (see ``docs/scenario-format.md``): a JSON document, or a NetCDF file holding at least
``rate[user, rb]``, ``user_cell[user]``, ``task_user[task]``, ``service[task]`` and
``units[task]``; everything else follows from the catalog and the settings.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genoffload.catalog import Catalog, load_catalog
from genoffload.delay import shannon_rate
from genoffload.errors import InputError, validation_error
from genoffload.io import load_json
from genoffload.scenario.config import ScenarioConfig, make_config
from genoffload.scenario.dataset import VARIABLES, assemble, check_schema, open_netcdf, validate
from genoffload.scenario.generate import default_deadlines, scenario_attrs
from genoffload.scenario.tasks import attach_models
from genoffload.sizes import check_file_size


class ExplicitTask(BaseModel):
    """One task of an explicit scenario (strict types: ``true`` or ``"800"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    user: int
    service: str
    output_tokens: float
    quality_requirement: float | None = Field(None, ge=0, le=1, allow_inf_nan=False)
    content_bytes: float | None = Field(None, ge=0, allow_inf_nan=False)
    deadline_s: float | None = Field(None, gt=0, allow_inf_nan=False)


class ExplicitScenario(BaseModel):
    """The JSON document of an explicit scenario (all powers in W, rates in bit/s; strict types)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    format: Literal["genoffload-scenario"] = "genoffload-scenario"
    version: Literal[1] = 1
    cells: int | None = None
    user_cell: list[int]
    rb_bandwidth_hz: float | list[float] = 180_000.0
    rate_bps: list[list[float]] | None = None
    gain: list[list[float]] | None = None
    tx_power_w: float | list[float] | None = None
    noise_w: float | None = Field(None, gt=0)
    interference_w: float | list[list[float]] = 0.0
    tasks: list[ExplicitTask]
    settings: dict[str, Any] = {}


def _table(rows: list[list[float]], name: str, n_user: int) -> np.ndarray:
    """A [user][rb] table as a 2-D array; ragged or wrongly sized tables raise InputError."""
    if len(rows) != n_user:
        raise InputError(name, len(rows), f"must have {n_user} rows (one per user_cell entry)")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise InputError(f"{name}[{bad}]", len(rows[bad]), f"row length differs from row 0 ({len(rows[0])})")
    return np.asarray(rows, dtype=float).reshape(n_user, -1)


def _per_rb(value: float | list[float], name: str, n_rb: int) -> np.ndarray:
    """A scalar or a per-RB list as an array of ``n_rb`` values."""
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n_rb, float(arr))
    if arr.shape != (n_rb,):
        raise InputError(name, int(arr.size), f"must be one number or a list of {n_rb} (one per RB)")
    return arr


def _rate_from_gains(doc: ExplicitScenario, n_user: int, log_base: float) -> np.ndarray:
    if doc.gain is None or doc.tx_power_w is None or doc.noise_w is None:
        raise InputError("rate_bps", None, "give rate_bps, or gain with tx_power_w and noise_w")
    gain = _table(doc.gain, "gain", n_user)
    n_rb = gain.shape[1]
    bw = _per_rb(doc.rb_bandwidth_hz, "rb_bandwidth_hz", n_rb)
    power = _per_rb(doc.tx_power_w, "tx_power_w", n_rb)
    if (power < 0).any() or (gain < 0).any():
        raise InputError("tx_power_w" if (power < 0).any() else "gain",
                         float(min(power.min(), gain.min())), "must be >= 0")
    signal = power[None, :] * gain
    interference = (np.asarray(doc.interference_w, dtype=float) if isinstance(doc.interference_w, float)
                    else _table(doc.interference_w, "interference_w", n_user))
    if (interference < 0).any():
        raise InputError("interference_w", float(interference.min()), "must be >= 0")
    sinr = signal / (interference + doc.noise_w)
    return shannon_rate(bw[None, :], sinr, log_base)


def from_document(raw: Any, catalog: Catalog | None = None, where: str = "scenario") -> xr.Dataset:
    """Build a scenario Dataset from a parsed JSON document."""
    if not isinstance(raw, dict):
        raise InputError(where, type(raw).__name__, "must be a JSON object")
    try:
        doc = ExplicitScenario.model_validate(raw)
    except ValidationError as err:
        raise validation_error(err, where) from None
    cfg = make_config(doc.settings, prefix="settings")
    catalog = catalog or load_catalog(cfg.catalog_models, cfg.catalog_services)
    n_user = len(doc.user_cell)
    if n_user == 0:
        raise InputError("user_cell", [], "needs at least one user")
    if doc.rate_bps is not None:
        rate = _table(doc.rate_bps, "rate_bps", n_user)
    else:
        rate = _rate_from_gains(doc, n_user, cfg.log_base)
    n_rb = rate.shape[1]
    bw = _per_rb(doc.rb_bandwidth_hz, "rb_bandwidth_hz", n_rb)
    tasks_in: dict[str, Any] = {
        "task_user": np.array([t.user for t in doc.tasks], dtype=int),
        "service": np.array([t.service for t in doc.tasks], dtype=str),
        "units": np.array([t.output_tokens for t in doc.tasks], dtype=float),
        "quality_req": np.array([math.nan if t.quality_requirement is None
                                 else t.quality_requirement for t in doc.tasks], dtype=float),
    }
    if any(t.content_bytes is not None for t in doc.tasks):
        tasks_in["content_bits"] = np.array(
            [math.nan if t.content_bytes is None else 8 * t.content_bytes for t in doc.tasks])
    tasks = attach_models(tasks_in, catalog, cfg.model_dump(),
                          {"regular": cfg.quality_requirement_regular,
                           "preferred": cfg.quality_requirement_preferred})
    if "content_bits" in tasks_in:  # fill tasks without an explicit size from the catalog
        default = attach_models({k: v for k, v in tasks_in.items() if k != "content_bits"},
                                catalog, cfg.model_dump())["content_bits"]
        tasks["content_bits"] = np.where(np.isnan(tasks_in["content_bits"]), default,
                                         tasks_in["content_bits"])
    if any(t.deadline_s is not None for t in doc.tasks):
        tasks["deadline"] = np.array([math.nan if t.deadline_s is None else t.deadline_s
                                      for t in doc.tasks])
    elif cfg.slo != "off":
        tasks["deadline"] = default_deadlines(tasks, cfg)
    n_cells = doc.cells if doc.cells is not None else (max(doc.user_cell, default=0) + 1)
    data = {**tasks, "rate": rate, "user_cell": np.asarray(doc.user_cell, dtype=int),
            "rb_bandwidth": bw}
    return assemble(data, scenario_attrs(cfg, "explicit"), n_cells)


def _from_netcdf(path: Path, catalog: Catalog | None) -> xr.Dataset:
    ds = open_netcdf(path)
    if all(name in ds for name in VARIABLES):
        validate(ds)
        return ds
    for name in ("rate", "user_cell", "task_user", "service", "units"):
        if name not in ds:
            raise InputError(name, None, f"missing variable in {path.name}")
    check_schema(ds)
    settings = {k: v for k, v in ds.attrs.items() if k in ScenarioConfig.model_fields}
    doc = {
        "user_cell": ds["user_cell"].values.tolist(),
        "rate_bps": ds["rate"].values.tolist(),
        "rb_bandwidth_hz": (ds["rb_bandwidth"].values.tolist() if "rb_bandwidth" in ds
                            else 180_000.0),
        "cells": ds.sizes.get("cell"),
        "tasks": [
            {"user": int(u), "service": str(s), "output_tokens": float(n),
             **({"quality_requirement": float(ds["quality_req"].values[i])}
                if "quality_req" in ds else {}),
             **({"content_bytes": float(ds["content_bits"].values[i]) / 8}
                if "content_bits" in ds else {}),
             **({"deadline_s": float(ds["deadline"].values[i])}
                if "deadline" in ds and np.isfinite(ds["deadline"].values[i]) else {})}
            for i, (u, s, n) in enumerate(zip(ds["task_user"].values, ds["service"].values,
                                              ds["units"].values, strict=True))
        ],
        "settings": settings,
    }
    return from_document(doc, catalog, where=path.name)


def load_scenario(path: Path | str, catalog: Catalog | None = None) -> xr.Dataset:
    """Load a scenario from NetCDF (saved or explicit) or JSON, validated.

    Raises
    ------
    InputError
        Unreadable file, wrong format, or any invalid field (named in the message).
    """
    p = Path(path)
    if p.is_dir():
        raise InputError("scenario", str(p), "is a folder, expected a scenario file (NetCDF or JSON)")
    if not p.is_file():
        raise InputError("scenario", str(p), "no such file")
    with open(p, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"\x89HDF") or head.startswith(b"CDF"):
        return _from_netcdf(p, catalog)
    check_file_size(p, "scenario")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InputError("scenario", str(p), "neither NetCDF nor valid JSON (UnicodeDecodeError)") from None
    try:
        raw = load_json(text, "scenario", str(p))
    except InputError as err:
        if err.reason.startswith("not valid JSON"):
            raise InputError("scenario", str(p), "neither NetCDF nor valid JSON (JSONDecodeError)") from None
        raise
    return from_document(raw, catalog, where=p.name)
