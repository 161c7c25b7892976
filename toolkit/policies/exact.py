"""The exact solver as a policy: joint RB allocation and offloading (problem 4)."""

from __future__ import annotations

from typing import ClassVar

import xarray as xr

from genoffload.policies.base import BoolArray, Plan, register


@register("exact")
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

    def __init__(self, gap: float = 1e-4, time_limit: float | None = None,
                 threads: int = 1) -> None:
        self.gap, self.time_limit, self.threads = gap, time_limit, threads

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        """Solve the scenario (the given ``z`` is not needed: PF is the solver's warm start)."""
        from genoffload.models import solve  # local: importing policies loads no Pyomo

        res = solve(scenario, gap=self.gap, time_limit=self.time_limit, threads=self.threads)
        return Plan(res.z, res.alpha, info=res.to_dict())
