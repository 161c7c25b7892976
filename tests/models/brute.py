"""Brute-force optimum of problem (4) for tiny scenarios (every RB assignment, every alpha)."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import xarray as xr

from genoffload.families import Families
from genoffload.families.slo import deadlines


def brute_force(ds: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimum objective over every RB assignment (incl. unassigned) and every alpha."""
    n_u, n_q, n_t = ds.sizes["user"], ds.sizes["rb"], ds.sizes["task"]
    fam = Families.from_attrs(ds.attrs)
    own = ds["task_user"].values
    rate = ds["rate"].values
    choices = np.array(list(itertools.product(range(n_u + 1), repeat=n_q)))  # n_u = nobody
    zs = choices[:, None, :] == np.arange(n_u)[None, :, None]  # (Z, user, rb)
    cap = np.einsum("kq,zkq->zk", rate, zs)
    alphas = np.array(list(itertools.product([False, True], repeat=n_t)))  # (A, task)
    bits = ds["content_bits"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        radio = np.where(bits > 0, bits / cap[:, own], 0.0)  # (Z, T)
    radio = np.where((bits > 0) & (cap[:, own] <= 0), np.inf, radio)
    units = ds["units"].values
    m = (~alphas).sum(axis=1, keepdims=True)
    m_seen = np.where(~alphas, m, m + 1)
    t_edge = ds["ttft_edge"].values + units * ds["tpot_edge"].values * (
        1 + fam.edge_tpot_slope * (m_seen - 1))
    t_cloud = ds["ttft_cloud"].values + units * ds["tpot_cloud"].values + ds.attrs["t_back_s"]
    gen = np.where(alphas, t_cloud, t_edge)  # (A, T)
    if ds.attrs["delivery"] == "streamed":
        tot = np.maximum(radio[:, None, :], gen[None])
    else:
        tot = radio[:, None, :] + gen[None]
    dl = deadlines(ds)
    ok = np.ones(tot.shape[:2], dtype=bool)
    obj = tot.sum(axis=2)
    if fam.slo == "soft":
        obj = obj + fam.slo_weight * np.maximum(tot - dl, 0).sum(axis=2)
    if fam.slo == "hard":
        ok &= (tot <= dl + 1e-9).all(axis=2)
    q_ok = np.where(alphas, ds["quality_cloud"].values, ds["quality_edge"].values) >= (
        ds["quality_req"].values - 1e-12)
    ok &= q_ok.all(axis=1)[None, :]
    text = ds["modality"].values == "text"
    kv = (np.where(~alphas & text, units, 0) * fam.kv_bytes_per_token).sum(axis=1)
    ok &= (kv <= fam.edge_kv_capacity_bytes * (1 + 1e-12))[None, :]
    bh = np.where(alphas, bits, 0).sum(axis=1)
    ok &= (bh <= fam.backhaul_capacity_bits * (1 + 1e-12))[None, :]
    has = np.zeros(n_u, dtype=bool)
    has[own] = True
    ok &= ((cap >= fam.min_rate_bps * (1 - 1e-12)) | ~has).all(axis=1)[:, None]
    obj = np.where(ok, obj, np.inf)
    zi, ai = np.unravel_index(int(np.argmin(obj)), obj.shape)
    return float(obj[zi, ai]), zs[zi], alphas[ai]


def cell_scenario(ds: xr.Dataset, j: int) -> tuple[xr.Dataset, np.ndarray, np.ndarray]:
    """Cell ``j`` of a scenario as a one-cell scenario, with its global users and tasks."""
    users = np.flatnonzero(ds["user_cell"].values == j)
    tasks = np.flatnonzero(np.isin(ds["task_user"].values, users))
    sub = ds.isel(user=users, task=tasks, cell=[j])
    local = {int(u): i for i, u in enumerate(users)}
    sub["task_user"] = ("task", np.array([local[int(u)] for u in sub["task_user"].values]))
    sub["user_cell"] = ("user", np.zeros(users.size, dtype=int))
    return sub, users, tasks


def brute_force_cells(ds: xr.Dataset) -> tuple[float, np.ndarray, np.ndarray]:
    """Optimum of a multi-cell scenario: every family acts within one cell and each cell has
    every RB, so the optimum is the sum of the cells' brute-force optima (checked with the
    evaluator on the whole scenario by the caller)."""
    z = np.zeros((ds.sizes["user"], ds.sizes["rb"]), dtype=bool)
    alpha = np.zeros(ds.sizes["task"], dtype=bool)
    total = 0.0
    for j in range(ds.sizes["cell"]):
        sub, users, tasks = cell_scenario(ds, j)
        if tasks.size == 0:
            continue
        best, z_j, a_j = brute_force(sub)
        total += best
        z[users], alpha[tasks] = z_j, a_j
    return total, z, alpha
