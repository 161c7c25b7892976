"""Edge concurrency family: the edge TPOT grows with the number ``m_j`` of tasks at the edge of
cell ``j``, ``TPOT_edge * (1 + edge_tpot_slope (m_j - 1))``.

Setting ``edge_tpot_slope`` [1]; on when positive. It changes the generation delay (4c) rather
than adding a constraint: the evaluator scales the edge TPOT by :func:`edge_tpot_factor`, the
solver's ``CellData.slope`` enters ``define_generation`` of :mod:`genoffload.models.joint`
(McCormick product) and the per-level hard SLO.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.constraints import cell_of_task, edge_tasks_per_cell
from genoffload.families.base import Family, Settings

SETTINGS: dict[str, Any] = {"edge_tpot_slope": 0.0}


def edge_tpot_factor(ds: xr.Dataset, fam: Settings, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Concurrency multiplier of the edge TPOT of each task, ``1 + slope (m_j - 1)`` [1].

    For a task at the edge ``m_j >= 1``; a task in the cloud gets the factor it would see if
    it moved to the edge, so that the factor is defined for every task.
    """
    m = edge_tasks_per_cell(ds, alpha)[cell_of_task(ds)]
    at_edge = ~np.asarray(alpha, dtype=bool)
    m_seen = np.where(at_edge, m, m + 1)
    return 1.0 + fam.edge_tpot_slope * (m_seen - 1.0)


def _from_config(cfg: Any) -> dict[str, Any]:
    return {"edge_tpot_slope": cfg.edge_tpot_slope}


def _is_active(fam: Settings) -> bool:
    return bool(fam.edge_tpot_slope > 0)


CONCURRENCY = Family(
    name="concurrency", settings=SETTINGS, is_active=_is_active, from_config=_from_config,
    preset={"edge_tpot_slope": 0.05}, milp=None, couples="load",
    edge_tpot_factor=edge_tpot_factor)
