"""RB schedulers producing ``z[user, rb]``: proportional fair, round robin, max-rate.

Each scheduler works per cell (OFDMA: an RB goes to at most one user of the cell) and only
serves users that have tasks. Users are never given an RB they do not need.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.errors import InputError

BoolArray = NDArray[np.bool_]


def _users_with_tasks(scenario: xr.Dataset) -> BoolArray:
    has = np.zeros(scenario.sizes["user"], dtype=bool)
    has[scenario["task_user"].values] = True
    return has


def _cells(scenario: xr.Dataset) -> list[NDArray[np.int_]]:
    """Users with tasks, grouped by cell."""
    has = _users_with_tasks(scenario)
    cells = scenario["user_cell"].values
    return [np.flatnonzero(has & (cells == j)) for j in range(scenario.sizes["cell"])]


def proportional_fair(
    scenario: xr.Dataset, n_tti: int = 20, window: float = 10.0
) -> BoolArray:
    """Proportional-fair scheduling over TTIs with an averaging window.

    In each TTI every RB ``q`` goes to ``argmax_k r[k, q] / R_k``, where ``R_k`` is the
    exponentially averaged throughput of user ``k`` with window ``window`` [TTI],
    ``R_k <- (1 - 1/W) R_k + r_k(t) / W``. Within a TTI ``R_k`` also grows by ``r[k, q] / W``
    after each RB the user gets (frequency-domain PF), so a TTI spreads RBs across users;
    starting from ``R_k = 0``, every user gets an RB in the first TTI when RBs >= users.
    The allocation of the last TTI is returned.

    Parameters
    ----------
    scenario : xarray.Dataset
    n_tti : int, default 20
        Number of TTIs simulated.
    window : float, default 10 [TTI]
        Averaging window ``W`` (``t_c`` in the PF literature).

    Returns
    -------
    z : ndarray of bool, shape (user, rb)
    """
    if n_tti < 1 or window < 1:
        raise InputError("pf", (n_tti, window), "needs n_tti >= 1 and window >= 1")
    rate = scenario["rate"].values
    z = np.zeros(rate.shape, dtype=bool)
    for users in _cells(scenario):
        if users.size == 0:
            continue
        r = rate[users]
        avg = np.zeros(users.size)
        for _ in range(n_tti):
            got = np.zeros(users.size)
            z_cell = np.zeros(r.shape, dtype=bool)
            running = avg * (1 - 1 / window)
            for q in np.argsort(-r.max(axis=0)):
                with np.errstate(divide="ignore"):
                    metric = np.where(running > 0, r[:, q] / np.maximum(running, 1e-300), np.inf)
                # among users never served, take the best rate on this RB
                if np.isinf(metric).any():
                    metric = np.where(np.isinf(metric), r[:, q] + 1.0, -1.0)
                k = int(np.argmax(metric))
                z_cell[k, q] = True
                got[k] += r[k, q]
                running[k] += r[k, q] / window
            avg = avg * (1 - 1 / window) + got / window
        z[users] = _no_starvation(z_cell, r)
    return z


def _no_starvation(z_cell: BoolArray, r: NDArray[np.float64]) -> BoolArray:
    """Starvation guard: a user left without an RB takes, from a user holding several,
    the RB on which it has the best rate (needs RBs >= users)."""
    z_cell = z_cell.copy()
    for k in np.flatnonzero(~z_cell.any(axis=1)):
        donors = z_cell[:, z_cell.sum(axis=0) > 0].sum(axis=1) > 1
        spare = z_cell[donors].any(axis=0)
        if not spare.any():
            break
        q = int(np.argmax(np.where(spare, r[k], -1.0)))
        z_cell[:, q] = False
        z_cell[k, q] = True
    return z_cell


def round_robin(scenario: xr.Dataset) -> BoolArray:
    """Round robin: RB ``q`` of a cell goes to its ``(q mod n)``-th user with tasks."""
    z = np.zeros((scenario.sizes["user"], scenario.sizes["rb"]), dtype=bool)
    rbs = np.arange(scenario.sizes["rb"])
    for users in _cells(scenario):
        if users.size:
            z[users[rbs % users.size], rbs] = True
    return z


def max_rate(scenario: xr.Dataset) -> BoolArray:
    """Max-rate: each RB goes to the user with the highest rate on it (may starve users)."""
    rate = scenario["rate"].values
    z = np.zeros(rate.shape, dtype=bool)
    for users in _cells(scenario):
        if users.size:
            best = users[np.argmax(rate[users], axis=0)]
            z[best, np.arange(rate.shape[1])] = True
    return z


SCHEDULERS: dict[str, Callable[[xr.Dataset], BoolArray]] = {
    "pf": proportional_fair,
    "round-robin": round_robin,
    "max-rate": max_rate,
}


def get_scheduler(name: str) -> Callable[[xr.Dataset], BoolArray]:
    """Look up a scheduler by name; unknown names raise :class:`InputError`."""
    try:
        return SCHEDULERS[name]
    except KeyError:
        raise InputError("scheduler", name, f"unknown scheduler (known: {', '.join(SCHEDULERS)})") from None
