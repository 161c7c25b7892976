"""Per-cell data of problem (4) in the solver's scaled units, and a fast cell cost.

Every optional family of :mod:`genoffload.families` acts within one cell, so the problem
decomposes per cell. :class:`CellData` holds one cell in scaled units: time [ms], rate
[Mbit/s], content [Mbit]. :func:`task_costs` and :func:`cell_cost` re-implement the evaluator
(:func:`genoffload.evaluate.evaluate`) per cell with numpy for the local search; final answers
are always re-checked with the evaluator itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload import delay
from genoffload.families import CellCosts, Families, Family
from genoffload.families.kv import kv_need_gb
from genoffload.families.slo import SLO_TOL_MS as SLO_TOL_MS
from genoffload.families.slo import deadlines

FArr = NDArray[np.float64]
IArr = NDArray[np.int_]
BArr = NDArray[np.bool_]
BIG = 1e15  # stands for an infeasible cost in the local search [ms]


@dataclass
class CellData:
    """One cell of a scenario in scaled units (time [ms], rate [Mbit/s], content [Mbit]).

    Only users with tasks take part; ``users`` and ``tasks`` map back to the scenario.
    """

    cell: int
    users: IArr  # global user index of each local user
    tasks: IArr  # global task index of each local task
    rate: FArr  # (user, rb) [Mbit/s]
    owner: IArr  # local user of each task
    bits: FArr  # content [Mbit]
    g_edge: FArr  # edge generation ttft + n tpot with one edge task [ms]
    ntpot: FArr  # n tpot_edge, the part scaled by concurrency [ms]
    g_cloud: FArr  # cloud generation plus backhaul [ms]
    allow_edge: BArr  # edge model meets the quality requirement (4e)
    allow_cloud: BArr
    deadline: FArr  # [ms], inf where none
    kv: FArr  # KV-cache need at the edge [GB] (0 for media tasks or family off)
    fam: Families
    streamed: bool

    @property
    def n_user(self) -> int:
        return int(self.users.size)

    @property
    def n_task(self) -> int:
        return int(self.tasks.size)

    @property
    def n_rb(self) -> int:
        return int(self.rate.shape[1])

    @property
    def demand(self) -> FArr:
        """Content per user ``D_k`` [Mbit]."""
        return np.bincount(self.owner, weights=self.bits, minlength=self.n_user).astype(float)

    @cached_property
    def families(self) -> list[Family]:
        """The active families (:meth:`Families.members`), computed once per cell."""
        return self.fam.members()

    @property
    def slope(self) -> float:
        return float(self.fam.edge_tpot_slope)

    @property
    def coupled(self) -> bool:
        """True when ``alpha`` is not the closed-form per-task optimum (needs the joint model):
        streamed delivery or an active family that couples (:attr:`genoffload.families.Family.couples`)."""
        return self.streamed or any(f.couples is not None for f in self.families)

    def alpha_closed_form(self) -> BArr:
        """Per-task optimum of ``alpha`` when uncoupled: the faster side allowed by (4e)."""
        cloud_better = self.g_cloud < self.g_edge
        return np.where(self.allow_edge & self.allow_cloud, cloud_better, ~self.allow_edge)


def cell_data(scenario: xr.Dataset) -> list[CellData]:
    """Split a scenario into :class:`CellData` per cell (cells without tasks are skipped)."""
    fam = Families.from_attrs(scenario.attrs)
    owner_g = np.asarray(scenario["task_user"].values, dtype=int)
    ucell = np.asarray(scenario["user_cell"].values, dtype=int)
    tcell = ucell[owner_g]
    units = np.asarray(scenario["units"].values, dtype=float)
    t_back = float(scenario.attrs["t_back_s"])
    g_edge = delay.generation_delay(units, scenario["ttft_edge"].values,
                                    scenario["tpot_edge"].values)
    g_cloud = delay.generation_delay(units, scenario["ttft_cloud"].values,
                                     scenario["tpot_cloud"].values) + t_back
    req = scenario["quality_req"].values
    ok_e = delay.quality_met(False, req, scenario["quality_edge"].values,
                             scenario["quality_cloud"].values)
    ok_c = delay.quality_met(True, req, scenario["quality_edge"].values,
                             scenario["quality_cloud"].values)
    kv = kv_need_gb(scenario, fam)
    dl = deadlines(scenario)
    rate = np.asarray(scenario["rate"].values, dtype=float)
    out = []
    for j in range(scenario.sizes["cell"]):
        tasks = np.flatnonzero(tcell == j)
        if tasks.size == 0:
            continue
        users = np.unique(owner_g[tasks])
        local = {int(u): i for i, u in enumerate(users)}
        out.append(CellData(
            cell=j, users=users, tasks=tasks, rate=rate[users] / 1e6,
            owner=np.array([local[int(u)] for u in owner_g[tasks]], dtype=int),
            bits=np.asarray(scenario["content_bits"].values, dtype=float)[tasks] / 1e6,
            g_edge=g_edge[tasks] * 1e3,
            ntpot=(units * np.asarray(scenario["tpot_edge"].values, dtype=float))[tasks] * 1e3,
            g_cloud=g_cloud[tasks] * 1e3, allow_edge=ok_e[tasks], allow_cloud=ok_c[tasks],
            deadline=dl[tasks] * 1e3,
            kv=kv[tasks],
            fam=fam, streamed=scenario.attrs["delivery"] == "streamed"))
    return out


def min_generation(cd: CellData) -> np.ndarray:
    """``g^min_i`` [ms]: each task's fastest allowed generation with one edge task (a lower
    bound on its generation incl. backhaul)."""
    g_e = np.where(cd.allow_edge, cd.g_edge, np.inf)
    g_c = np.where(cd.allow_cloud, cd.g_cloud, np.inf)
    return np.minimum(g_e, g_c)


def generation(cd: CellData, alpha: BArr) -> FArr:
    """Generation delay of each task incl. backhaul and concurrency [ms]."""
    a = np.asarray(alpha, dtype=bool)
    m = float((~a).sum())
    edge = cd.g_edge + cd.slope * cd.ntpot * (m - 1.0)
    return np.where(a, cd.g_cloud, edge)


def task_costs(cd: CellData, alpha: BArr, cap: FArr,
               idx: IArr | None = None) -> tuple[FArr, FArr]:
    """Objective and radio part [ms] of tasks ``idx`` (default all) at capacities ``cap``.

    ``cap`` has shape ``(len(idx), ...)`` [Mbit/s], one row per task. Hard families that
    fail (hard SLO, minimum rate: each family's ``cell_costs``) give ``inf``.
    """
    sel = np.arange(cd.n_task) if idx is None else np.asarray(idx)
    cap = np.asarray(cap, dtype=float)
    extra = (1,) * (cap.ndim - 1)
    bits = cd.bits[sel].reshape(-1, *extra)
    g = generation(cd, alpha)[sel].reshape(-1, *extra)
    with np.errstate(divide="ignore", invalid="ignore"):
        radio = np.where(bits > 0, 1e3 * bits / cap, 0.0)
    radio = np.where((bits > 0) & (cap <= 0), np.inf, radio)
    total = np.maximum(radio, g) if cd.streamed else radio + g
    radio = total - g
    for f in cd.families:
        if f.cell_costs is not None:
            total, radio = f.cell_costs(cd, CellCosts(total, radio, cap, sel))
    return total, radio


def user_cost(cd: CellData, alpha: BArr, k: int, cap: FArr) -> FArr:
    """Cost [ms] of local user ``k`` at each capacity in ``cap`` [Mbit/s], ``alpha`` fixed.

    Infeasible values are clipped to :data:`BIG` so that differences stay finite.
    """
    idx = np.flatnonzero(cd.owner == k)
    cap = np.asarray(cap, dtype=float)
    total, _ = task_costs(cd, alpha, np.broadcast_to(cap, (idx.size, *cap.shape)), idx)
    return np.minimum(total.sum(axis=0), BIG)


def alpha_feasible(cd: CellData, alpha: BArr) -> bool:
    """Quality (4e) and the families that do not depend on the radio (KV, backhaul: each
    family's ``cell_ok``) hold for ``alpha``."""
    a = np.asarray(alpha, dtype=bool)
    if np.any(a & ~cd.allow_cloud) or np.any(~a & ~cd.allow_edge):
        return False
    return all(f.cell_ok(cd, a) for f in cd.families if f.cell_ok is not None)


def cell_cost(cd: CellData, z: BArr, alpha: BArr) -> tuple[float, float]:
    """Objective and radio part of one cell [ms] (``inf`` when a hard constraint fails)."""
    cap = (cd.rate * z).sum(axis=1)
    total, radio = task_costs(cd, alpha, cap[cd.owner][:, None])
    if not alpha_feasible(cd, alpha):
        return math.inf, math.inf
    return float(total.sum()), float(radio.sum())


def _per_user(cd: CellData, alpha: BArr, caps: FArr) -> FArr:
    """Cost [ms] of every user at per-user capacities ``caps`` of shape (user, n)."""
    out = np.zeros(caps.shape)
    for k in range(cd.n_user):
        out[k] = user_cost(cd, alpha, k, caps[k])
    return out


def local_search(cd: CellData, z: BArr, alpha: BArr, max_steps: int = 2000) -> BArr:
    """Improve an RB allocation of one cell by best-improvement moves and swaps.

    ``alpha`` stays fixed, so the cost is separable per user. A move gives one RB to another
    user; a swap exchanges two RBs between two users. Stops at a local optimum.

    Parameters
    ----------
    cd : CellData
    z : ndarray of bool, shape (user, rb)
        Start allocation (local users).
    alpha : ndarray of bool, shape (task,)
    max_steps : int
        Upper limit on applied moves and swaps.

    Returns
    -------
    z : ndarray of bool, shape (user, rb)
    """
    z = np.asarray(z, dtype=bool).copy()
    r = cd.rate
    nu, nq = r.shape
    if nu < 2:
        return np.ones_like(z) if nu == 1 else z
    own = np.where(z.any(axis=0), z.argmax(axis=0), -1)
    cap = (r * z).sum(axis=1)
    base = _per_user(cd, alpha, cap[:, None])[:, 0]
    cols = np.arange(nq)
    for _ in range(max_steps):
        tol = 1e-12 * max(1.0, float(np.abs(base).sum()))
        plus = _per_user(cd, alpha, cap[:, None] + r) - base[:, None]
        minus_all = _per_user(cd, alpha, cap[:, None] - r) - base[:, None]
        minus = np.where(own >= 0, minus_all[np.maximum(own, 0), cols], 0.0)
        delta = plus + minus[None, :]
        delta[own[own >= 0], cols[own >= 0]] = np.inf
        b, q = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if delta[b, q] < -tol:
            if own[q] >= 0:
                z[own[q], q] = False
                cap[own[q]] -= r[own[q], q]
                base[own[q]] += minus[q]
            z[b, q], own[q] = True, b
            cap[b] += r[b, q]
            base[b] += plus[b, q]
            continue
        # swaps: da[q, q2] = change of own[q]'s cost when it gives q and takes q2
        da = np.full((nq, nq), np.inf)
        for k in range(nu):
            mine = np.flatnonzero(own == k)
            if mine.size:
                caps = cap[k] - r[k, mine][:, None] + r[k][None, :]
                da[mine] = user_cost(cd, alpha, k, caps) - base[k]
        swap = da + da.T
        swap[(own[:, None] == own[None, :]) | (own[:, None] < 0) | (own[None, :] < 0)] = np.inf
        q1, q2 = np.unravel_index(int(np.argmin(swap)), swap.shape)
        if not swap[q1, q2] < -tol:
            break
        a, b2 = own[q1], own[q2]
        z[a, q1], z[b2, q2], z[a, q2], z[b2, q1] = False, False, True, True
        cap[a] += r[a, q2] - r[a, q1]
        cap[b2] += r[b2, q1] - r[b2, q2]
        base[a] += da[q1, q2]
        base[b2] += da[q2, q1]
        own[q1], own[q2] = b2, a
    return z


def improve_alpha(cd: CellData, z: BArr, alpha: BArr, max_steps: int = 200) -> BArr:
    """Best-improvement single flips of free ``alpha`` entries at a fixed allocation."""
    a = np.asarray(alpha, dtype=bool).copy()
    free = np.flatnonzero(cd.allow_edge & cd.allow_cloud)
    cur = cell_cost(cd, z, a)[0]
    for _ in range(max_steps):
        best, arg = cur, -1
        for i in free:
            a[i] = ~a[i]
            c = cell_cost(cd, z, a)[0]
            a[i] = ~a[i]
            if c < best - 1e-12 * max(1.0, abs(best)):
                best, arg = c, int(i)
        if arg < 0:
            break
        a[arg] = ~a[arg]
        cur = best
    return a


def repair_alpha(cd: CellData, alpha: BArr) -> BArr:
    """Make ``alpha`` meet quality, KV and backhaul where a greedy flip can (best effort)."""
    a = np.asarray(alpha, dtype=bool).copy()
    a = np.where(~cd.allow_edge, True, np.where(~cd.allow_cloud, False, a))
    free = cd.allow_edge & cd.allow_cloud
    kv_cap = cd.fam.edge_kv_capacity_bytes / 1e9
    for i in np.argsort(-cd.kv):  # offload the biggest KV users first
        if cd.kv[~a].sum() <= kv_cap * (1 + 1e-12):
            break
        if free[i] and not a[i] and cd.kv[i] > 0:
            a[i] = True
    bh = cd.fam.backhaul_capacity_bits / 1e6
    for i in np.argsort(-cd.bits):  # bring the biggest offloaded contents back to the edge
        if cd.bits[a].sum() <= bh * (1 + 1e-12):
            break
        if free[i] and a[i] and (cd.kv[~a].sum() + cd.kv[i] <= kv_cap * (1 + 1e-12)):
            a[i] = False
    return a
