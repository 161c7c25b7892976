"""Offloading rules on the quality constraint (4e), shared by the policies and the exact solver.

Pure functions of a scenario: the ``quality-rule`` policy
(:class:`genoffload.policies.heuristics.QualityRule`) returns :func:`quality_rule` as its
offloading, and the exact solver (:mod:`genoffload.models.solve`) uses it for its incumbent, so
neither layer imports the other.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload import delay


def edge_meets_quality(scenario: xr.Dataset) -> NDArray[np.bool_]:
    """Per task, whether the edge model meets the task's quality requirement (4e)."""
    return delay.quality_met(False, scenario["quality_req"].values,
                             scenario["quality_edge"].values, scenario["quality_cloud"].values)


def cloud_meets_quality(scenario: xr.Dataset) -> NDArray[np.bool_]:
    """Per task, whether the cloud model meets the task's quality requirement (4e)."""
    return delay.quality_met(True, scenario["quality_req"].values,
                             scenario["quality_edge"].values, scenario["quality_cloud"].values)


def quality_rule(scenario: xr.Dataset) -> NDArray[np.bool_]:
    """Offloading ``alpha`` [bool per task]: to the cloud exactly when the edge model misses the
    task's quality requirement (4e)."""
    return ~edge_meets_quality(scenario)


__all__ = ["cloud_meets_quality", "edge_meets_quality", "quality_rule"]
