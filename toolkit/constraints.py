"""Optional constraint families beyond the paper (off by default), evaluation side.

Each family is defined here once for evaluation; ``genoffload.models`` writes the same
definition as MILP constraints (``define_*`` functions) and ``docs/model.md`` documents both.

- **slo** (``hard``/``soft``): task ``i`` should finish by ``deadline_i`` [s]; soft adds
  ``slo_weight * max(0, t_i - deadline_i)`` to the objective.
- **kv**: edge KV-cache memory per cell, ``sum_{i at edge, text} n_i kv_bytes_per_token <= cap``.
- **concurrency**: edge TPOT grows with the number ``m_j`` of tasks at the edge of cell ``j``:
  ``TPOT_edge * (1 + slope (m_j - 1))``.
- **backhaul**: offloaded content per cell, ``sum_{i offloaded} content_bits_i <= cap``.
- **min_rate**: ``C_k >= min_rate_bps`` for every user with tasks.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray


@dataclass(frozen=True)
class Families:
    """Settings of the optional constraint families (``Dataset.attrs``); defaults switch them off."""

    slo: str = "off"
    slo_weight: float = 1.0
    kv_bytes_per_token: float = 0.0
    edge_kv_capacity_bytes: float = math.inf
    edge_tpot_slope: float = 0.0
    backhaul_capacity_bits: float = math.inf
    min_rate_bps: float = 0.0

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Families:
        """Read the families from scenario attributes (missing keys: off)."""
        kw = {k: attrs[k] for k in cls.__dataclass_fields__ if k in attrs}
        kw = {k: (str(v) if k == "slo" else float(v)) for k, v in kw.items()}
        return cls(**kw)

    def to_attrs(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def active(self) -> list[str]:
        """Names of the families that are switched on."""
        on = []
        if self.slo != "off":
            on.append(f"slo_{self.slo}")
        if self.kv_bytes_per_token > 0 and math.isfinite(self.edge_kv_capacity_bytes):
            on.append("kv")
        if self.edge_tpot_slope > 0:
            on.append("concurrency")
        if math.isfinite(self.backhaul_capacity_bits):
            on.append("backhaul")
        if self.min_rate_bps > 0:
            on.append("min_rate")
        return on


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


def edge_tpot_factor(ds: xr.Dataset, fam: Families, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Concurrency multiplier of the edge TPOT of each task, ``1 + slope (m_j - 1)`` [1].

    For a task at the edge ``m_j >= 1``; a task in the cloud gets the factor it would see if
    it moved to the edge, so that the factor is defined for every task.
    """
    m = edge_tasks_per_cell(ds, alpha)[cell_of_task(ds)]
    at_edge = ~np.asarray(alpha, dtype=bool)
    m_seen = np.where(at_edge, m, m + 1)
    return 1.0 + fam.edge_tpot_slope * (m_seen - 1.0)


def kv_usage(ds: xr.Dataset, fam: Families, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Edge KV-cache bytes in use per cell [B]: text tasks at the edge times bytes per token."""
    text = np.asarray(ds["modality"].values) == "text"
    at_edge = ~np.asarray(alpha, dtype=bool)
    tokens = np.where(text & at_edge, ds["units"].values, 0.0)
    return per_cell_sum(ds, tokens * fam.kv_bytes_per_token)


def backhaul_usage(ds: xr.Dataset, alpha: NDArray[Any]) -> NDArray[np.float64]:
    """Offloaded content per cell [bit]."""
    return per_cell_sum(ds, np.where(np.asarray(alpha, dtype=bool), ds["content_bits"].values, 0.0))


def deadlines(ds: xr.Dataset) -> NDArray[np.float64]:
    """Deadline of each task [s] (``inf`` where none)."""
    if "deadline" not in ds:
        return np.full(ds.sizes["task"], np.inf)
    d = np.asarray(ds["deadline"].values, dtype=float)
    return np.where(np.isnan(d), np.inf, d)


def slo_excess(t_total: NDArray[Any], deadline: NDArray[Any]) -> NDArray[np.float64]:
    """Lateness ``max(0, t_i - deadline_i)`` [s]."""
    t = np.asarray(t_total, dtype=float)
    with np.errstate(invalid="ignore"):  # inf - inf: a starved task without a deadline
        return np.where(np.isfinite(deadline), np.maximum(t - deadline, 0.0), 0.0)
