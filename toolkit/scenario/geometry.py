"""Hexagonal site layout and user drop (TR 38.901 Sec. 7.2, without wrap-around)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_DIRECTIONS = np.array([[np.cos(a), np.sin(a)] for a in np.deg2rad(np.arange(0, 360, 60))])


def hex_sites(n_sites: int, isd: float) -> NDArray[np.float64]:
    """Site positions of a hexagonal layout of 1, 7 or 19 sites.

    Parameters
    ----------
    n_sites : {1, 7, 19}
    isd : float [m]
        Inter-site distance.

    Returns
    -------
    xy : ndarray, shape (n_sites, 2) [m]
        Site 0 at the origin, then ring 1, then ring 2.
    """
    rings = {1: 0, 7: 1, 19: 2}[n_sites]
    pts = [
        (q, r)
        for q in range(-rings, rings + 1)
        for r in range(-rings, rings + 1)
        if abs(q + r) <= rings
    ]
    pts.sort(key=lambda qr: (max(abs(qr[0]), abs(qr[1]), abs(qr[0] + qr[1])), qr))
    axial = np.array(pts, dtype=float)
    x = isd * (axial[:, 0] + axial[:, 1] / 2)
    y = isd * (np.sqrt(3) / 2) * axial[:, 1]
    return np.column_stack([x, y])


def in_hexagon(offset: NDArray[np.float64], isd: float) -> NDArray[np.bool_]:
    """Whether points (relative to a site) lie in its hexagonal cell (apothem ``isd/2``)."""
    proj = np.abs(offset @ _DIRECTIONS.T)
    return np.all(proj <= isd / 2, axis=-1)


def drop_users(
    rng: np.random.Generator,
    n_users: int,
    isd: float,
    min_distance: float,
    min_edge_distance: float = 0.0,
) -> NDArray[np.float64]:
    """Drop users uniformly in a hexagonal cell, at least ``min_distance`` from the site.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_users : int
    isd : float [m]
    min_distance : float [m]
        Minimum 2-D distance to the site (TR 38.901 Table 7.2-1).
    min_edge_distance : float [m], default 0
        Cell-edge placement: users no closer than this to the site.

    Returns
    -------
    offset : ndarray, shape (n_users, 2) [m]
        Positions relative to the site.
    """
    radius = isd / np.sqrt(3)
    lo = max(min_distance, min_edge_distance)
    out = np.empty((0, 2))
    while out.shape[0] < n_users:
        cand = rng.uniform(-radius, radius, size=(4 * n_users + 8, 2))
        d = np.hypot(cand[:, 0], cand[:, 1])
        keep = in_hexagon(cand, isd) & (d >= lo)
        out = np.vstack([out, cand[keep]])
    return out[:n_users]
