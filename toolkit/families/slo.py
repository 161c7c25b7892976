"""Latency SLO family (``slo`` = ``hard`` | ``soft``): task ``i`` should finish by ``deadline_i`` [s].

- hard: ``t_i <= deadline_i`` (1e-9 s of tolerance in the evaluator, :data:`SLO_TOL_MS` in the
  solver); a late task misses its constraints and gets ``r^penalty`` (eq. 10).
- soft: ``slo_weight * max(0, t_i - deadline_i)`` [s] is added to the objective (4) and taken
  from the reward (10).

Deadlines are a task variable (``deadline``, NaN: none); generated scenarios draw them with
:func:`genoffload.scenario.generate.default_deadlines`. The MILP side is
``define_slo_soft`` / ``define_slo_hard`` in :mod:`genoffload.models.families`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.families.base import Cell, CellCosts, EvalContext, Family, FArr, Settings, Verdict

SLO_TOL_MS = 1e-6
"""Lateness the solver accepts under a hard SLO [ms] (the evaluator accepts 1e-9 s)."""
SETTINGS: dict[str, Any] = {"slo": "off", "slo_weight": 1.0}


def deadlines(ds: xr.Dataset) -> NDArray[np.float64]:
    """Deadline of each task [s] (``inf`` where none)."""
    if "deadline" not in ds:
        return np.full(ds.sizes["task"], np.inf)
    d = np.asarray(ds["deadline"].values, dtype=float)
    return np.where(np.isnan(d), np.inf, d)


def slo_excess(t_total: NDArray[Any], deadline: NDArray[Any]) -> NDArray[np.float64]:
    """Lateness ``max(0, t_i - deadline_i)`` [s]."""
    t = np.asarray(t_total, dtype=float)
    with np.errstate(invalid="ignore"):  # inf - inf: a starved task without a deadline
        return np.where(np.isfinite(deadline), np.maximum(t - deadline, 0.0), 0.0)


def _from_config(cfg: Any) -> dict[str, Any]:
    return {"slo": cfg.slo, "slo_weight": cfg.slo_weight}


def _check_soft(ctx: EvalContext) -> Verdict:
    excess = slo_excess(ctx.t_total, deadlines(ctx.scenario))
    return Verdict(penalty=ctx.fam.slo_weight * excess, excess=excess)


def _check_hard(ctx: EvalContext) -> Verdict:
    excess = slo_excess(ctx.t_total, deadlines(ctx.scenario))
    return Verdict(ok=excess <= 1e-9, excess=excess)


def _costs_soft(cell: Cell, c: CellCosts) -> tuple[FArr, FArr]:
    """Soft SLO in the local search: ``slo_weight * max(0, t_i - d_i)`` [ms] on total and radio."""
    dl = c.per_task(cell.deadline)
    with np.errstate(invalid="ignore"):  # inf - inf where a task has no deadline
        late = np.where(np.isfinite(dl), np.maximum(c.total - dl, 0.0), 0.0)
    pen = cell.fam.slo_weight * late
    return c.total + pen, c.radio + pen


def _costs_hard(cell: Cell, c: CellCosts) -> tuple[FArr, FArr]:
    """Hard SLO in the local search: a late task costs ``inf``."""
    dl = c.per_task(cell.deadline)
    return np.where(c.total > dl + SLO_TOL_MS, np.inf, c.total), c.radio


def _side_ok(cell: Cell, i: int, g: float, cmax: float) -> bool:
    """Can task ``i`` with generation ``g`` [ms] meet its deadline with capacity ``cmax``?"""
    d, bits = float(cell.deadline[i]), float(cell.bits[i])
    if cell.streamed:
        return g <= d and (bits <= 0 or (d > 0 and 1e3 * bits / d <= cmax))
    if bits <= 0:
        return g <= d
    return d - g > 0 and 1e3 * bits / (d - g) <= cmax


def _quick_hard(cell: Cell) -> str | None:
    """A task no side can finish in time even with every RB of its cell."""
    cmax = cell.rate.sum(axis=1)
    for i in range(cell.n_task):
        if not math.isfinite(cell.deadline[i]):
            continue
        c = float(cmax[cell.owner[i]])
        ok = (cell.allow_cloud[i] and _side_ok(cell, i, float(cell.g_cloud[i]), c)) or (
            cell.allow_edge[i] and _side_ok(cell, i, float(cell.g_edge[i]), c))
        if not ok:
            return (f"task {cell.tasks[i]} cannot meet its deadline of "
                    f"{cell.deadline[i] / 1e3:.4g} s even with every RB of cell {cell.cell}")
    return None


def _soft_on(fam: Settings) -> bool:
    return bool(fam.slo == "soft")


def _hard_on(fam: Settings) -> bool:
    return bool(fam.slo == "hard")


SLO_SOFT = Family(
    name="slo_soft", settings=SETTINGS, is_active=_soft_on, from_config=_from_config,
    preset={"slo": "soft"}, check=_check_soft, milp="define_slo_soft", couples="link",
    cell_costs=_costs_soft, label="slo", can_be_infeasible=False, aliases=("slo",))
SLO_HARD = Family(
    name="slo_hard", settings=SETTINGS, is_active=_hard_on, from_config=_from_config,
    preset={"slo": "hard"}, check=_check_hard, milp="define_slo_hard", couples="link",
    cell_costs=_costs_hard, quick_check=_quick_hard, label="slo")
