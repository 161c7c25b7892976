"""Result of an exact solve: per-cell and overall summaries, and the overall status (the worst
cell's, then the evaluator's check of the whole answer)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from genoffload.models.status import Status, outcome, worst


@dataclass
class CellSummary:
    """Per-cell outcome (times [s], objective parts [s])."""

    cell: int
    users: int
    tasks: int
    objective: float
    bound: float
    gap_abs: float
    radio_part: float
    status: str
    iterations: int
    cuts: int
    reason: str = ""
    heuristic_s: float = 0.0
    build_s: float = 0.0
    transfer_s: float = 0.0
    solve_s: float = 0.0
    extract_s: float = 0.0


@dataclass
class SolveSummary:
    """Summary of :func:`solve` (objective parts [s], times [s], gap [1])."""

    objective: float
    bound: float
    gap_abs: float
    gap: float
    radio_part: float
    status: str
    reason: str
    requested_gap: float
    heuristic_objective: float
    heuristic_s: float
    build_s: float
    transfer_s: float
    solve_s: float
    extract_s: float
    total_s: float
    iterations: int
    cuts: int
    cells: list[CellSummary] = field(default_factory=list)

    @property
    def certified(self) -> bool:
        """True when the status is ``optimal``: every cell certified, gap <= requested."""
        return self.status == Status.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "certified": self.certified}


@dataclass
class SolveResult:
    """Solution (the evaluator's Dataset incl. ``z``, ``alpha``) and its summary."""

    dataset: xr.Dataset
    summary: SolveSummary

    @property
    def z(self) -> np.ndarray:
        return np.asarray(self.dataset["z"].values, dtype=bool)

    @property
    def alpha(self) -> np.ndarray:
        return np.asarray(self.dataset["alpha"].values, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return self.summary.to_dict()


def overall_status(cells: list[CellSummary], ds: xr.Dataset, rel: float,
             gap: float) -> tuple[Status, str]:
    """Status and reason of the solve: the worst cell's (unless it stopped at a limit and the
    whole answer's gap is within the requested one all the same), then the evaluator's check
    of the whole answer (feasible, objective equal to the cells' sum, gap <= requested)."""
    status = worst([Status(c.status) for c in cells])
    limits = (Status.TIME_LIMIT, Status.ROUND_LIMIT, Status.ITERATION_LIMIT)
    if status != Status.OPTIMAL and not (status in limits and rel <= gap):
        first = next(c for c in cells if c.status == status)
        return status, f"cell {first.cell}: {first.reason}"
    # every cell certified, or stopped by a limit with a valid bound while the whole answer
    # is within the requested gap anyway
    obj = float(ds.attrs["objective"])
    total = sum(c.objective for c in cells)
    if int(ds.attrs["feasible"]) != 1 or abs(obj - total) > 1e-9 * max(abs(obj), 1.0):
        return Status.NUMERICAL, (f"the evaluator's objective {obj:.9g} s (feasible "
                                  f"{int(ds.attrs['feasible'])}) differs from the solver's "
                                  f"{total:.9g} s")
    if rel > gap:
        return outcome("sum_above_gap", gap=rel, target=gap)
    return Status.OPTIMAL, ""


__all__ = ["CellSummary", "SolveResult", "SolveSummary", "overall_status"]
