"""Edge KV-cache family: per cell, ``sum_{i at edge, text} n_i kv_bytes_per_token <= cap`` [B].

Settings ``kv_bytes_per_token`` [B/token] and ``edge_kv_capacity_bytes`` [B] (config:
``edge_kv_capacity_gb`` [GB]); on when both are set. In the solver the per-task need is
``CellData.kv`` [GB]; the MILP side is ``define_kv`` in :mod:`genoffload.models.families`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.constraints import per_cell_sum
from genoffload.families.base import BArr, Cell, EvalContext, Family, Settings, Verdict

SETTINGS: dict[str, Any] = {"kv_bytes_per_token": 0.0, "edge_kv_capacity_bytes": math.inf}


def kv_usage(ds: xr.Dataset, fam: Settings, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Edge KV-cache bytes in use per cell [B]: text tasks at the edge times bytes per token."""
    text = np.asarray(ds["modality"].values) == "text"
    at_edge = ~np.asarray(alpha, dtype=bool)
    tokens = np.where(text & at_edge, ds["units"].values, 0.0)
    return per_cell_sum(ds, tokens * fam.kv_bytes_per_token)


def kv_need_gb(ds: xr.Dataset, fam: Settings) -> NDArray[np.float64]:
    """KV-cache need of each task at the edge [GB] (0 for media tasks or with the family off)."""
    text = np.asarray(ds["modality"].values) == "text"
    units = np.asarray(ds["units"].values, dtype=float)
    return np.where(text & _is_active(fam), units * fam.kv_bytes_per_token / 1e9, 0.0)


def _from_config(cfg: Any) -> dict[str, Any]:
    kv_on = cfg.kv_bytes_per_token > 0
    return {"kv_bytes_per_token": cfg.kv_bytes_per_token,
            "edge_kv_capacity_bytes": cfg.edge_kv_capacity_gb * 1e9 if kv_on else math.inf}


def _is_active(fam: Settings) -> bool:
    return bool(fam.kv_bytes_per_token > 0 and math.isfinite(fam.edge_kv_capacity_bytes))


def _check(ctx: EvalContext) -> Verdict:
    used = kv_usage(ctx.scenario, ctx.fam, ctx.alpha)
    cell_ok = used <= ctx.fam.edge_kv_capacity_bytes * (1 + 1e-12)
    return Verdict(ok=np.where(~ctx.alpha, cell_ok[ctx.cell], True))


def _cell_ok(cell: Cell, alpha: BArr) -> bool:
    return not cell.kv[~alpha].sum() > cell.fam.edge_kv_capacity_bytes / 1e9 * (1 + 1e-12)


def _quick(cell: Cell) -> str | None:
    """Tasks only the edge model can serve need more KV cache than the cell has."""
    need = float(cell.kv[~cell.allow_cloud].sum())
    cap = cell.fam.edge_kv_capacity_bytes / 1e9
    if need > cap * (1 + 1e-12):
        return (f"tasks only the edge model can serve need {need:.4g} GB "
                f"of KV cache in cell {cell.cell}, capacity {cap:.4g} GB")
    return None


KV = Family(
    name="kv", settings=SETTINGS, is_active=_is_active, from_config=_from_config,
    preset={"kv_bytes_per_token": 131072.0, "edge_kv_capacity_gb": 2.0}, check=_check,
    milp="define_kv", couples="load", cell_ok=_cell_ok, quick_check=_quick)
