"""Diagnosis of infeasible instances: which constraint family makes problem (4) infeasible.

Cheap checks first (each family alone, per task or user, with every RB of the cell), then,
only if the MILP proves infeasibility, feasibility MILPs with one family at a time.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from genoffload.errors import InputError
from genoffload.models import joint
from genoffload.models.data import CellData
from genoffload.models.status import Status, map_status


class InfeasibleError(InputError):
    """No allocation meets the constraints; the message names the family (CLI exit code 2).

    Parameters
    ----------
    family : str
        Constraint family (``slo``, ``kv``, ``backhaul``, ``min_rate``, ``radio``...).
    message : str
        One line saying why.
    """

    def __init__(self, family: str, message: str) -> None:
        self.field, self.value, self.reason = family, None, message
        ValueError.__init__(self, f"infeasible: {family}: {message}")


def _side_ok(cd: CellData, i: int, g: float, cmax: float) -> bool:
    """Can task ``i`` with generation ``g`` [ms] meet its deadline with capacity ``cmax``?"""
    d, bits = float(cd.deadline[i]), float(cd.bits[i])
    if cd.streamed:
        return g <= d and (bits <= 0 or (d > 0 and 1e3 * bits / d <= cmax))
    if bits <= 0:
        return g <= d
    return d - g > 0 and 1e3 * bits / (d - g) <= cmax


def quick_checks(cd: CellData) -> None:
    """Raise :class:`InfeasibleError` when one family alone is clearly infeasible in a cell."""
    j = cd.cell
    cmax = cd.rate.sum(axis=1)
    for k in range(cd.n_user):
        if cd.demand[k] > 0 and cmax[k] <= 0:
            raise InfeasibleError("radio", f"user {cd.users[k]} has a zero rate on every RB "
                                  f"of cell {j}")
        if cmax[k] < cd.fam.min_rate_bps / 1e6 * (1 - 1e-12):
            raise InfeasibleError("min_rate", f"user {cd.users[k]} cannot reach "
                                  f"{cd.fam.min_rate_bps / 1e6:g} Mbit/s even with every RB of "
                                  f"cell {j} (at most {cmax[k]:.4g} Mbit/s)")
    if cd.fam.slo == "hard":
        for i in range(cd.n_task):
            if not math.isfinite(cd.deadline[i]):
                continue
            c = float(cmax[cd.owner[i]])
            ok = (cd.allow_cloud[i] and _side_ok(cd, i, float(cd.g_cloud[i]), c)) or (
                cd.allow_edge[i] and _side_ok(cd, i, float(cd.g_edge[i]), c))
            if not ok:
                raise InfeasibleError("slo", f"task {cd.tasks[i]} cannot meet its deadline of "
                                      f"{cd.deadline[i] / 1e3:.4g} s even with every RB of "
                                      f"cell {j}")
    if "kv" in cd.fam.active:
        need = float(cd.kv[~cd.allow_cloud].sum())
        cap = cd.fam.edge_kv_capacity_bytes / 1e9
        if need > cap * (1 + 1e-12):
            raise InfeasibleError("kv", f"tasks only the edge model can serve need {need:.4g} GB "
                                  f"of KV cache in cell {j}, capacity {cap:.4g} GB")
    if "backhaul" in cd.fam.active:
        need = float(cd.bits[~cd.allow_edge].sum())
        cap = cd.fam.backhaul_capacity_bits / 1e6
        if need > cap * (1 + 1e-12):
            raise InfeasibleError("backhaul", f"tasks only the cloud model can serve send "
                                  f"{need:.4g} Mbit over the backhaul of cell {j}, capacity "
                                  f"{cap:.4g} Mbit")


_OFF: dict[str, dict[str, object]] = {"slo_hard": {"slo": "off"}, "slo_soft": {"slo": "off"},
        "kv": {"kv_bytes_per_token": 0.0}, "concurrency": {"edge_tpot_slope": 0.0},
        "backhaul": {"backhaul_capacity_bits": math.inf}, "min_rate": {"min_rate_bps": 0.0}}


def _only(cd: CellData, keep: set[str]) -> CellData:
    kw: dict[str, object] = {}
    for name in cd.fam.active:
        if name not in keep:
            kw.update(_OFF[name])
    fam = dataclasses.replace(cd.fam, **kw)
    kv = cd.kv if "kv" in fam.active else np.zeros_like(cd.kv)
    return dataclasses.replace(cd, fam=fam, kv=kv)


def _feasible(cd: CellData) -> bool | None:
    """Feasibility MILP of the cell (None: undecided within 10 s)."""
    m = joint.build(cd)
    m.obj.deactivate()
    m.feas = pyo.Objective(expr=0.0)
    res = Highs().solve(m, time_limit=10.0, load_solutions=False,
                              raise_exception_on_nonoptimal_result=False)
    st = map_status(res.termination_condition)
    if st == Status.INFEASIBLE:
        return False
    return True if res.incumbent_objective is not None else None


def diagnose(cd: CellData) -> InfeasibleError:
    """Name the family (or the combination) that makes the cell infeasible."""
    try:
        quick_checks(cd)
    except InfeasibleError as err:
        return err
    active = [f for f in cd.fam.active if f != "slo_soft"]
    for name in active:
        if _feasible(_only(cd, {name})) is False:
            return InfeasibleError(name.removesuffix("_hard"),
                                   f"no allocation of cell {cd.cell} meets it, even with the "
                                   f"other families off")
    combo = " + ".join(active) or "quality"
    return InfeasibleError(combo, f"these families cannot be met together in cell {cd.cell}")


__all__ = ["InfeasibleError", "diagnose", "quick_checks"]
