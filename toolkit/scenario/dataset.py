"""The scenario as an ``xarray.Dataset``: assembly, validation, NetCDF input/output.

Dimensions: ``cell``, ``user``, ``rb``, ``task``. Every variable carries ``units`` and
``description`` attributes; scenario-wide settings live in ``Dataset.attrs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from genoffload.errors import InputError
from genoffload.io import write_atomic
from genoffload.sizes import check_scenario_size

# name: (dims, units, description)
VARIABLES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "rate": (("user", "rb"), "bit/s", "achievable rate r[k,q] = b_q log2(1 + SINR) (eq. 2 summand)"),
    "user_cell": (("user",), "1", "serving cell of each user"),
    "rb_bandwidth": (("rb",), "Hz", "RB bandwidth b_q"),
    "task_user": (("task",), "1", "user that requested the task"),
    "service": (("task",), "", "service type (catalog services.csv)"),
    "service_class": (("task",), "", "regular or preferred (quality-preferred)"),
    "modality": (("task",), "", "text, image, audio or video"),
    "units": (("task",), "token", "output size n^token (tokens, or items for media)"),
    "content_bits": (("task",), "bit", "content size n^token s^token"),
    "quality_req": (("task",), "1", "quality requirement tau (eq. 4e)"),
    "edge_model": (("task",), "", "edge model generating the task"),
    "cloud_model": (("task",), "", "cloud model generating the task"),
    "ttft_edge": (("task",), "s", "edge TTFT (eq. 4c)"),
    "tpot_edge": (("task",), "s/token", "edge TPOT (eq. 4c)"),
    "ttft_cloud": (("task",), "s", "cloud TTFT (eq. 4d)"),
    "tpot_cloud": (("task",), "s/token", "cloud TPOT (eq. 4d)"),
    "quality_edge": (("task",), "1", "edge model quality index for the task's class (eq. 4e)"),
    "quality_cloud": (("task",), "1", "cloud model quality index for the task's class (eq. 4e)"),
}
OPTIONAL_VARIABLES: dict[str, tuple[tuple[str, ...], str, str]] = {
    "deadline": (("task",), "s", "latency SLO of the task (NaN: none); see genoffload.families.slo"),
    "user_x": (("user",), "m", "user position x"),
    "user_y": (("user",), "m", "user position y"),
    "distance": (("user",), "m", "2-D distance to the serving site"),
    "los": (("user",), "1", "line of sight to the serving site"),
    "site_x": (("cell",), "m", "site position x"),
    "site_y": (("cell",), "m", "site position y"),
}
TEXT_VARIABLES = ("service", "service_class", "modality", "edge_model", "cloud_model")
INDEX_VARIABLES = ("user_cell", "task_user")
CATEGORIES: dict[str, tuple[str, ...]] = {"service_class": ("regular", "preferred"),
                                          "modality": ("text", "image", "audio", "video")}
"""Allowed values of the categorical task variables."""
MAX_RATE_BPS = 1e15
"""Largest rate of one user on one RB [bit/s] (1 Pbit/s; NR peaks are below 1e9 per RB):
larger values are refused, their sums would overflow the schedulers' float64 averages."""
REQUIRED_ATTRS = {
    "t_back_s": "edge-cloud backhaul delay t_back [s]",
    "delivery": "store-and-forward or streamed",
    "t_target_s": "T^Target of eq. (10) [s]",
    "penalty_s": "r^penalty of eq. (10) [s]",
}


def assemble(data: dict[str, Any], attrs: dict[str, Any], n_cells: int) -> xr.Dataset:
    """Build and validate a scenario Dataset from arrays.

    Parameters
    ----------
    data : dict
        Arrays named as in :data:`VARIABLES` (and optionally :data:`OPTIONAL_VARIABLES`).
    attrs : dict
        Scenario-wide settings, at least :data:`REQUIRED_ATTRS`.
    n_cells : int
        Number of cells.
    """
    variables = {}
    for name, (dims, units, desc) in {**VARIABLES, **OPTIONAL_VARIABLES}.items():
        if name not in data:
            if name in VARIABLES:
                raise InputError(name, None, "missing field")
            continue
        variables[name] = xr.Variable(dims, np.asarray(data[name]), {"units": units,
                                                                     "description": desc})
    n_user, n_rb = np.shape(data["rate"])
    n_task = np.size(data["task_user"])
    ds = xr.Dataset(
        variables,
        coords={"cell": np.arange(n_cells), "user": np.arange(n_user), "rb": np.arange(n_rb),
                "task": np.arange(n_task)},
        attrs={"Conventions": "genoffload-scenario-1", **attrs},
    )
    validate(ds)
    return ds


MAX_OUTPUT_UNITS = 1e9  # output size [token or item]: n tpot stays far below HiGHS's infinity
MAX_CONTENT_BYTES = 1e12  # content size [B]


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(np.ravel(mask))[0])


def check_schema(ds: xr.Dataset) -> None:
    """Dimensions and types of the variables present: each as in :data:`VARIABLES` /
    :data:`OPTIONAL_VARIABLES`, text variables text, ``user_cell`` and ``task_user`` integers,
    every other variable numbers. Raises :class:`InputError` naming the variable."""
    for name, (dims, _, _) in {**VARIABLES, **OPTIONAL_VARIABLES}.items():
        if name not in ds:
            continue
        var = ds[name]
        if tuple(map(str, var.dims)) != dims:
            raise InputError(name, list(map(str, var.dims)), f"must have dimensions {list(dims)}")
        kind = var.dtype.kind
        if name in TEXT_VARIABLES:
            if kind not in "UO" or (kind == "O" and not all(isinstance(v, str) for v in var.values.ravel())):
                raise InputError(name, str(var.dtype), "must be text")
        elif name in INDEX_VARIABLES:
            if kind not in "iu":
                raise InputError(name, str(var.dtype), "must be whole numbers (an integer type)")
        elif kind not in "iufb":
            raise InputError(name, str(var.dtype), "must be numbers")


def _number_attr(ds: xr.Dataset, key: str) -> float:
    value = ds.attrs[key]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.item()
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number):
        raise InputError(key, value, "must be a number")
    return float(value)


def validate(ds: xr.Dataset) -> None:
    """Check a scenario; raise :class:`InputError` naming the first bad field and value."""
    for name in VARIABLES:
        if name not in ds:
            raise InputError(name, None, "missing field")
    check_schema(ds)
    if "cell" not in ds.sizes:
        raise InputError("cell", None, "missing dimension")
    for key in REQUIRED_ATTRS:
        if key not in ds.attrs:
            raise InputError(key, None, "missing setting")
    if ds.attrs["delivery"] not in ("store-and-forward", "streamed"):
        raise InputError("delivery", ds.attrs["delivery"], "must be store-and-forward or streamed")
    for key in ("t_back_s", "penalty_s"):
        setting = _number_attr(ds, key)
        if not np.isfinite(setting) or setting < 0:
            raise InputError(key, ds.attrs[key], "must be a finite number >= 0")
    if not np.isfinite(_number_attr(ds, "t_target_s")):
        raise InputError("t_target_s", ds.attrs["t_target_s"], "must be a finite number")
    for name, allowed in CATEGORIES.items():
        values = np.asarray(ds[name].values)
        bad = ~np.isin(values, allowed)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"tasks[{i}].{name}", str(values[i]), f"must be one of {', '.join(allowed)}")
    for name in ("quality_edge", "quality_cloud"):
        col = np.asarray(ds[name].values, dtype=float)
        bad = ~np.isfinite(col) | (col < 0) | (col > 1)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"tasks[{i}].{name}", float(col[i]), "a quality index must be in [0, 1]")
    rate = np.asarray(ds["rate"].values, dtype=float)
    bad = ~np.isfinite(rate) | (rate < 0) | (rate > MAX_RATE_BPS)
    if bad.any():
        ku, qu = np.unravel_index(_first_bad(bad), rate.shape)
        raise InputError(f"rate[user={ku}, rb={qu}]", float(rate[ku, qu]),
                         f"must be finite, >= 0 and <= {MAX_RATE_BPS:.0e} bit/s")
    bw = np.asarray(ds["rb_bandwidth"].values, dtype=float)
    if (~np.isfinite(bw) | (bw <= 0)).any():
        q = _first_bad(~np.isfinite(bw) | (bw <= 0))
        raise InputError(f"rb_bandwidth[{q}]", float(bw[q]), "must be > 0")
    cells = np.asarray(ds["user_cell"].values)
    if ((cells < 0) | (cells >= ds.sizes["cell"])).any():
        k = _first_bad((cells < 0) | (cells >= ds.sizes["cell"]))
        raise InputError(f"user_cell[{k}]", int(cells[k]),
                         f"must be in 0..{ds.sizes['cell'] - 1}")
    units = np.asarray(ds["units"].values, dtype=float)
    bad = ~np.isfinite(units) | (units < 1) | (units != np.round(units))
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"tasks[{i}].output_tokens", units[i], "must be a whole number >= 1")
    if (units > MAX_OUTPUT_UNITS).any():
        i = _first_bad(units > MAX_OUTPUT_UNITS)
        raise InputError(f"tasks[{i}].output_tokens", units[i],
                         f"must be <= {MAX_OUTPUT_UNITS:g} (larger sizes overflow the delay units)")
    bits = np.asarray(ds["content_bits"].values, dtype=float)
    if (bits > 8 * MAX_CONTENT_BYTES).any():
        i = _first_bad(bits > 8 * MAX_CONTENT_BYTES)
        raise InputError(f"tasks[{i}].content_bytes", bits[i] / 8,
                         f"must be <= {MAX_CONTENT_BYTES:g} (larger sizes overflow the delay units)")
    owner = np.asarray(ds["task_user"].values)
    if ((owner < 0) | (owner >= ds.sizes["user"])).any():
        i = _first_bad((owner < 0) | (owner >= ds.sizes["user"]))
        raise InputError(f"tasks[{i}].user", int(owner[i]), f"must be in 0..{ds.sizes['user'] - 1}")
    for name in ("content_bits", "ttft_edge", "tpot_edge", "ttft_cloud", "tpot_cloud"):
        col = np.asarray(ds[name].values, dtype=float)
        if (~np.isfinite(col) | (col < 0)).any():
            i = _first_bad(~np.isfinite(col) | (col < 0))
            raise InputError(f"tasks[{i}].{name}", float(col[i]), "must be finite and >= 0")
    if "deadline" in ds:
        dl = np.asarray(ds["deadline"].values, dtype=float)
        bad = ~np.isnan(dl) & ~(dl > 0)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(f"tasks[{i}].deadline_s", float(dl[i]), "must be > 0 seconds")
    req = np.asarray(ds["quality_req"].values, dtype=float)
    best = np.maximum(ds["quality_edge"].values, ds["quality_cloud"].values)
    bad = ~np.isfinite(req) | (req < 0) | (req > best + 1e-12)
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"tasks[{i}].quality_requirement", float(req[i]),
                         f"no model meets it (best offered {best[i]:.3f})")
    has_tasks = np.zeros(ds.sizes["user"], dtype=bool)
    has_tasks[owner] = True
    for j in range(ds.sizes["cell"]):
        need = int((has_tasks & (cells == j)).sum())
        if need > ds.sizes["rb"]:
            raise InputError(f"cell[{j}].users_with_tasks", need,
                             f"more users with tasks than RBs ({ds.sizes['rb']})")


def save(ds: xr.Dataset, path: Path | str) -> Path:
    """Write a Dataset to NetCDF-4 atomically (temporary file, then rename)."""
    return write_atomic(path, lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))


def open_netcdf(path: Path | str) -> xr.Dataset:
    """Read a NetCDF file fully into memory; a file that is not NetCDF raises InputError."""
    try:
        with open(path, "rb") as fh:
            classic = fh.read(3) == b"CDF"
        with xr.open_dataset(path, engine="scipy" if classic else "h5netcdf") as ds:
            sizes = {d: int(ds.sizes.get(d, 1)) for d in ("user", "rb", "task")}
            fields = {"users": ("user", sizes["user"]), "rbs": ("rb", sizes["rb"]),
                      "tasks": ("task", sizes["task"])}
            check_scenario_size(sizes["user"], 1, sizes["rb"], sizes["task"], fields)  # before loading
            return ds.load()
    except InputError:
        raise
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise InputError("scenario", str(path),
                         f"not a readable NetCDF file ({type(exc).__name__})") from None
