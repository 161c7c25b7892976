"""Simple offloading policies: all-edge, all-cloud, quality-rule and greedy."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import xarray as xr

from genoffload import delay
from genoffload.policy import BoolArray, Plan, PolicyEntry
from genoffload.rules import cloud_meets_quality, edge_meets_quality, quality_rule


class AllEdge:
    """Every task at the edge (``alpha = 0``), whatever its quality requirement."""

    name: ClassVar[str] = "all-edge"
    joint: ClassVar[bool] = False

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        return Plan(z, np.zeros(scenario.sizes["task"], dtype=bool))


class AllCloud:
    """Every task offloaded to the cloud (``alpha = 1``)."""

    name: ClassVar[str] = "all-cloud"
    joint: ClassVar[bool] = False

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        return Plan(z, np.ones(scenario.sizes["task"], dtype=bool))


class QualityRule:
    """Offload exactly when the edge model misses the task's quality requirement (4e)."""

    name: ClassVar[str] = "quality-rule"
    joint: ClassVar[bool] = False

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        return Plan(z, quality_rule(scenario))


class Greedy:
    """Per task, the faster side (radio, backhaul and generation) among those meeting quality.

    Myopic: it ignores the optional coupling families (concurrency, KV, backhaul capacity).
    """

    name: ClassVar[str] = "greedy"
    joint: ClassVar[bool] = False

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        cap = delay.link_capacity(scenario["rate"].values, z)
        t_radio = delay.radio_delay(scenario["content_bits"].values,
                                    cap[scenario["task_user"].values])
        t_radio = np.where(np.isinf(t_radio), 0.0, t_radio)  # a starved user: decide on generation
        units = scenario["units"].values
        t_edge = delay.generation_delay(units, scenario["ttft_edge"].values,
                                        scenario["tpot_edge"].values)
        t_cloud = delay.generation_delay(units, scenario["ttft_cloud"].values,
                                         scenario["tpot_cloud"].values)
        args = (t_radio, t_edge, t_cloud, float(scenario.attrs["t_back_s"]),
                scenario.attrs["delivery"])
        at_edge = np.where(edge_meets_quality(scenario), delay.task_delay(False, *args), np.inf)
        at_cloud = np.where(cloud_meets_quality(scenario), delay.task_delay(True, *args), np.inf)
        return Plan(z, at_cloud < at_edge)


ALL_EDGE = PolicyEntry("all-edge", "rule", offline=AllEdge, description=AllEdge.__doc__ or "")
ALL_CLOUD = PolicyEntry("all-cloud", "rule", offline=AllCloud, description=AllCloud.__doc__ or "")
QUALITY_RULE = PolicyEntry("quality-rule", "rule", offline=QualityRule,
                           description=(QualityRule.__doc__ or "").splitlines()[0])
GREEDY = PolicyEntry("greedy", "rule", offline=Greedy, description=(Greedy.__doc__ or "").splitlines()[0])
"""Registry entries (declared in ``pyproject.toml``, group ``genoffload.policies``)."""
