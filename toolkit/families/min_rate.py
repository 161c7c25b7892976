"""Minimum-rate family: ``C_k >= min_rate_bps`` [bit/s] for every user with tasks.

Setting ``min_rate_bps`` [bit/s] (config: ``min_rate_mbps`` [Mbit/s]); on when positive. It
does not couple the offloading decision. The MILP side is ``define_min_rate`` in
:mod:`genoffload.models.families`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genoffload.families.base import Cell, CellCosts, EvalContext, Family, FArr, Settings, Verdict

SETTINGS: dict[str, Any] = {"min_rate_bps": 0.0}


def _from_config(cfg: Any) -> dict[str, Any]:
    return {"min_rate_bps": 0.0 if cfg.min_rate_mbps is None else cfg.min_rate_mbps * 1e6}


def _is_active(fam: Settings) -> bool:
    return bool(fam.min_rate_bps > 0)


def _check(ctx: EvalContext) -> Verdict:
    rate_ok = ctx.capacity >= ctx.fam.min_rate_bps * (1 - 1e-12)
    return Verdict(ok=rate_ok[ctx.owner])


def _costs(cell: Cell, c: CellCosts) -> tuple[FArr, FArr]:
    """A task whose user's capacity is below the minimum costs ``inf``."""
    low = c.cap < cell.fam.min_rate_bps / 1e6 * (1 - 1e-12)
    return np.where(low, np.inf, c.total), c.radio


def _quick(cell: Cell) -> str | None:
    """A user below the minimum rate even with every RB of its cell."""
    cmax = cell.rate.sum(axis=1)
    lo = cell.fam.min_rate_bps / 1e6
    for k in range(cell.n_user):
        if cmax[k] < lo * (1 - 1e-12):
            return (f"user {cell.users[k]} cannot reach {lo:g} Mbit/s even with every RB of "
                    f"cell {cell.cell} (at most {cmax[k]:.4g} Mbit/s)")
    return None


MIN_RATE = Family(
    name="min_rate", settings=SETTINGS, is_active=_is_active, from_config=_from_config,
    preset={"min_rate_mbps": 1.0}, check=_check, milp="define_min_rate", cell_costs=_costs,
    quick_check=_quick)
