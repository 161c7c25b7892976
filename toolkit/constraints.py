"""Per-cell helpers the constraint families share (:mod:`genoffload.families`).

Every optional family acts within one cell; each is defined once, in its own module of
:mod:`genoffload.families` (evaluation, per-cell cost, quick checks, presets) and its
``define_*`` in :mod:`genoffload.models.families` (MILP). ``docs/model.md`` documents both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray


def cell_of_task(ds: xr.Dataset) -> NDArray[np.int_]:
    """Cell index of each task [1]."""
    return np.asarray(ds["user_cell"].values)[np.asarray(ds["task_user"].values)]


def per_cell_sum(ds: xr.Dataset, values: NDArray[Any]) -> NDArray[np.float64]:
    """Sum a per-task quantity over the tasks of each cell."""
    out = np.bincount(cell_of_task(ds), weights=np.asarray(values, dtype=float),
                      minlength=ds.sizes["cell"])
    return out.astype(float)


def edge_tasks_per_cell(ds: xr.Dataset, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Number of tasks at the edge of each cell, ``m_j = sum_{i in j} (1 - alpha_i)``."""
    return per_cell_sum(ds, 1.0 - np.asarray(alpha, dtype=float))
