"""The exact solver as a policy: joint RB allocation and offloading (problem 4)."""

from __future__ import annotations

from typing import ClassVar

import xarray as xr

from genoffload.models.solve import solve
from genoffload.policy import BoolArray, Plan, PolicyEntry

DEFAULT_GAP = 1e-4
"""Target gap of the exact policy relative to the z-dependent part of the objective [1]."""


class Exact:
    """Optimal ``z`` and ``alpha`` by :func:`genoffload.models.solve` (joint policy).

    Parameters
    ----------
    gap : float, default 1e-4
        Target gap relative to the z-dependent part of the objective [1].
    time_limit : float, optional
        Wall-clock limit [s].
    threads : int, default 1
        HiGHS threads.
    """

    name: ClassVar[str] = "exact"
    joint: ClassVar[bool] = True

    def __init__(self, gap: float = DEFAULT_GAP, time_limit: float | None = None,
                 threads: int = 1) -> None:
        self.gap, self.time_limit, self.threads = gap, time_limit, threads

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        """Solve the scenario (the given ``z`` is not needed: PF is the solver's warm start)."""
        res = solve(scenario, gap=self.gap, time_limit=self.time_limit, threads=self.threads)
        return Plan(res.z, res.alpha, info=res.to_dict())


def exact_policy(gap: float | None = None, time_limit_s: float | None = None, threads: int = 1,
                 time_limit: float | None = None) -> Exact:
    """The exact policy from study options (``gap``, ``time_limit_s`` [s]) or keywords."""
    return Exact(DEFAULT_GAP if gap is None else gap,
                 time_limit_s if time_limit_s is not None else time_limit, threads)


EXACT = PolicyEntry("exact", "joint", offline=exact_policy, options=("gap", "time_limit_s"), joint=True,
                    description="certified optimum of the joint problem (4) by the exact solver")
"""Registry entry (declared in ``pyproject.toml``, group ``genoffload.policies``)."""
