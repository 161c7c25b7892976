"""Status words of the exact solver, and the tables that map what happened to them.

Three tables, nothing else decides a status:

* :data:`TERMINATION` maps a Pyomo (HiGHS) termination condition of one MILP to a
  :class:`Status` (the MILP's own outcome, not yet the problem's);
* :data:`OUTCOMES` maps an outcome of the outer-approximation loop of a cell to a
  :class:`Status` and a one-line reason;
* :data:`MILP_ENDINGS` names the loop outcome of a cell whose MILP ended neither certified nor
  optimal (HiGHS's time or iteration limit, numerical trouble, an error).

A solve is ``optimal`` only when every cell is certified and the reported gap is at most
the requested one (see :func:`worst`). Documented in ``docs/solver.md`` (*Status*).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from pyomo.contrib.solver.common.results import TerminationCondition as TC


class Status(enum.StrEnum):
    """Outcome of a solve (never ``optimal`` unless the gap is certified)."""

    OPTIMAL = "optimal"  # certified: upper - lower bound <= gap * radio part
    TIME_LIMIT = "time_limit"  # the wall-clock limit given by the caller was reached
    ROUND_LIMIT = "round_limit"  # the cap on outer-approximation rounds was reached
    ITERATION_LIMIT = "iteration_limit"  # HiGHS stopped at its iteration (node) limit
    NUMERICAL = "numerical"  # HiGHS's numbers cannot be trusted (see the reason)
    INFEASIBLE = "infeasible"  # raised as InfeasibleError, never in a result
    ERROR = "error"  # HiGHS failed in another way (see the reason)


TERMINATION: dict[TC, Status] = {
    TC.convergenceCriteriaSatisfied: Status.OPTIMAL,  # the MILP, to its tolerances
    TC.maxTimeLimit: Status.TIME_LIMIT,
    TC.iterationLimit: Status.ITERATION_LIMIT,
    TC.objectiveLimit: Status.ERROR,  # genoffload sets no objective limit
    TC.minStepLength: Status.NUMERICAL,
    TC.unbounded: Status.NUMERICAL,  # every variable of the model is bounded
    TC.provenInfeasible: Status.INFEASIBLE,
    TC.locallyInfeasible: Status.INFEASIBLE,
    TC.infeasibleOrUnbounded: Status.INFEASIBLE,  # bounded model: infeasible
    TC.error: Status.ERROR,
    TC.interrupted: Status.ERROR,  # the loop's own interrupt is handled before the table
    TC.licensingProblems: Status.ERROR,
    TC.emptyModel: Status.ERROR,
    TC.unknown: Status.ERROR,
}
"""Pyomo termination condition of one HiGHS MILP -> status of that MILP."""


def map_status(tc: TC) -> Status:
    """Status of one MILP from its Pyomo termination condition (:data:`TERMINATION`)."""
    return TERMINATION.get(tc, Status.ERROR)


@dataclass(frozen=True)
class Outcome:
    """An outcome of a cell's outer-approximation loop: its status and reason template."""

    status: Status
    reason: str


OUTCOMES: dict[str, Outcome] = {
    "certified": Outcome(Status.OPTIMAL, ""),
    "deadline": Outcome(Status.TIME_LIMIT, "the time limit was reached with gap {gap:.2e}"),
    "round_cap": Outcome(Status.ROUND_LIMIT,
                         "the cap of {rounds} outer-approximation rounds was reached with gap "
                         "{gap:.2e}"),
    "highs_time": Outcome(Status.TIME_LIMIT, "HiGHS reached the time limit with gap {gap:.2e}"),
    "highs_iterations": Outcome(Status.ITERATION_LIMIT,
                                "HiGHS reached its iteration limit with gap {gap:.2e}"),
    "stalled": Outcome(Status.NUMERICAL,
                       "HiGHS's MILP is solved but the gap {gap:.2e} stays above the requested "
                       "{target:.2e} (below HiGHS's tolerances)"),
    "bound_above_incumbent": Outcome(Status.NUMERICAL,
                                     "HiGHS's dual bound exceeds the exact objective of a "
                                     "feasible allocation by {excess:.3g} ms"),
    "rows_refused": Outcome(Status.NUMERICAL,
                            "HiGHS refused {n} rows of the model (coefficients out of its range)"),
    "false_infeasible": Outcome(Status.NUMERICAL,
                                "HiGHS reports the cell infeasible though a feasible allocation "
                                "is known"),
    "highs_numerical": Outcome(Status.NUMERICAL, "HiGHS ended with {tc}"),
    "highs_error": Outcome(Status.ERROR, "HiGHS ended with {tc}"),
    "sum_above_gap": Outcome(Status.NUMERICAL,
                             "every cell is certified but the summed gap {gap:.2e} exceeds the "
                             "requested {target:.2e}"),
}
"""Outcome of the loop of a cell -> status and one-line reason (``str.format`` fields)."""


MILP_ENDINGS: dict[Status, str] = {
    Status.TIME_LIMIT: "highs_time",
    Status.ITERATION_LIMIT: "highs_iterations",
    Status.NUMERICAL: "highs_numerical",
}
"""Status of a MILP that ended uncertified and not optimal -> loop outcome (any other:
``highs_error``)."""


def milp_ending(status: Status) -> str:
    """Loop outcome of a cell whose MILP ended uncertified with ``status`` (:data:`MILP_ENDINGS`)."""
    return MILP_ENDINGS.get(status, "highs_error")


def outcome(name: str, **fields: object) -> tuple[Status, str]:
    """Status and formatted reason of the loop outcome ``name`` (:data:`OUTCOMES`)."""
    o = OUTCOMES[name]
    return o.status, o.reason.format(**fields)


SEVERITY: tuple[Status, ...] = (Status.ERROR, Status.NUMERICAL, Status.TIME_LIMIT,
                                Status.ITERATION_LIMIT, Status.ROUND_LIMIT, Status.OPTIMAL)
"""Order in which the status of the worst cell becomes the status of the solve."""


def worst(statuses: list[Status]) -> Status:
    """Status of a solve from the statuses of its cells (:data:`SEVERITY`)."""
    return next((s for s in SEVERITY if s in statuses), Status.OPTIMAL)


__all__ = ["MILP_ENDINGS", "OUTCOMES", "SEVERITY", "TERMINATION", "Outcome", "Status",
           "map_status", "milp_ending", "outcome", "worst"]
