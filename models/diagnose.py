"""Diagnosis of infeasible instances: which constraint family makes problem (4) infeasible.

Cheap checks first (each family alone, per task or user, with every RB of the cell), then,
only if the MILP proves infeasibility, feasibility MILPs with one family at a time.
"""

from __future__ import annotations

import dataclasses

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


def quick_checks(cd: CellData) -> None:
    """Raise :class:`InfeasibleError` when one family alone is clearly infeasible in a cell:
    a user without any rate (``radio``), then each active family's ``quick_check``."""
    cmax = cd.rate.sum(axis=1)
    for k in range(cd.n_user):
        if cd.demand[k] > 0 and cmax[k] <= 0:
            raise InfeasibleError("radio", f"user {cd.users[k]} has a zero rate on every RB "
                                  f"of cell {cd.cell}")
    for f in cd.families:
        why = f.quick_check(cd) if f.quick_check is not None else None
        if why is not None:
            raise InfeasibleError(f.error_name, why)


def _only(cd: CellData, keep: set[str]) -> CellData:
    """The cell with every active family not in ``keep`` switched off (its default settings)."""
    off: dict[str, object] = {}
    for f in cd.families:
        if f.name not in keep:
            off.update(f.settings)
    return dataclasses.replace(cd, fam=cd.fam.replace(**off))


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
    hard = [f for f in cd.families if f.can_be_infeasible]
    for f in hard:
        if _feasible(_only(cd, {f.name})) is False:
            return InfeasibleError(f.error_name,
                                   f"no allocation of cell {cd.cell} meets it, even with the "
                                   f"other families off")
    combo = " + ".join(f.name for f in hard) or "quality"
    return InfeasibleError(combo, f"these families cannot be met together in cell {cd.cell}")


__all__ = ["InfeasibleError", "diagnose", "quick_checks"]
