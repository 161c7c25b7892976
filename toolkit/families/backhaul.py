"""Backhaul capacity family: per cell, offloaded content ``sum_{i offloaded} content_bits_i <= cap``.

Setting ``backhaul_capacity_bits`` [bit] (config: ``backhaul_capacity_mbit`` [Mbit]); on when
finite. The MILP side is ``define_backhaul`` in :mod:`genoffload.models.families`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.constraints import per_cell_sum
from genoffload.families.base import BArr, Cell, EvalContext, Family, Settings, Verdict

SETTINGS: dict[str, Any] = {"backhaul_capacity_bits": math.inf}


def backhaul_usage(ds: xr.Dataset, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Offloaded content per cell [bit]."""
    return per_cell_sum(ds, np.where(np.asarray(alpha, dtype=bool), ds["content_bits"].values, 0.0))


def _from_config(cfg: Any) -> dict[str, Any]:
    cap = cfg.backhaul_capacity_mbit
    return {"backhaul_capacity_bits": math.inf if cap is None else cap * 1e6}


def _is_active(fam: Settings) -> bool:
    return math.isfinite(fam.backhaul_capacity_bits)


def _check(ctx: EvalContext) -> Verdict:
    used = backhaul_usage(ctx.scenario, ctx.alpha)
    cell_ok = used <= ctx.fam.backhaul_capacity_bits * (1 + 1e-12)
    return Verdict(ok=np.where(ctx.alpha, cell_ok[ctx.cell], True))


def _cell_ok(cell: Cell, alpha: BArr) -> bool:
    return not cell.bits[alpha].sum() > cell.fam.backhaul_capacity_bits / 1e6 * (1 + 1e-12)


def _quick(cell: Cell) -> str | None:
    """Tasks only the cloud model can serve send more than the backhaul carries."""
    need = float(cell.bits[~cell.allow_edge].sum())
    cap = cell.fam.backhaul_capacity_bits / 1e6
    if need > cap * (1 + 1e-12):
        return (f"tasks only the cloud model can serve send {need:.4g} Mbit over the "
                f"backhaul of cell {cell.cell}, capacity {cap:.4g} Mbit")
    return None


BACKHAUL = Family(
    name="backhaul", settings=SETTINGS, is_active=_is_active, from_config=_from_config,
    preset={"backhaul_capacity_mbit": 40.0}, check=_check, milp="define_backhaul",
    couples="load", cell_ok=_cell_ok, quick_check=_quick)
