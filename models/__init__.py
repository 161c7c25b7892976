"""Exact models of problem (4): the joint MILP (Pyomo), its outer-approximation solve (HiGHS)
and the diagnosis of infeasible instances."""

from genoffload.models import data
from genoffload.models.diagnose import InfeasibleError
from genoffload.models.solve import SolveResult, SolveSummary, solve
from genoffload.models.status import Status

__all__ = ["InfeasibleError", "SolveResult", "SolveSummary", "Status", "data", "solve"]
