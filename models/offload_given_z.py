"""The offloading optimum given an RB allocation: ``max_alpha sum_i r_i(z, alpha)`` (eq. 10).

With the allocation ``z`` fixed, every radio delay is a constant (eqs. 1, 2) and the reward of
eq. (10) is linear in ``alpha`` except for the coupling families of one cell (edge concurrency,
edge KV cache, backhaul capacity; :mod:`genoffload.families`). The problem therefore splits
per cell, and:

- in a cell where decisions cannot interact (no concurrency slope or a single task, a KV
  budget no choice can exceed, a backhaul capacity no choice can exceed) the per-task best of
  edge and cloud is the exact optimum (closed form, gap 0);
- in a coupled cell a small MILP over ``alpha`` (HiGHS through ``highspy``, certified to
  ``mip_rel_gap = 0``) gives the optimum and its dual bound.

Unlike problem (4) of :mod:`genoffload.models.joint`, hard constraints are *not* enforced:
a violated constraint costs ``r^penalty`` in the reward, as in the evaluator, so the optimum
bounds the reward of every decision a policy can take under ``z`` (also of infeasible ones).

MILP of one coupled cell, tasks ``i`` (times [s], KV [GB], content [Mbit]):

- ``alpha_i in {0,1}`` (1 = cloud), ``v_i in {0,1}`` (some hard constraint of task ``i``
  violated: reward minus ``P = penalty_s``), ``t_i`` total delay [s];
- generation ``gen_i = g^e_i + (g^c_i - g^e_i) alpha_i + s q_i (u_i - 1 + alpha_i)`` with
  ``g^e_i = ttft + n tpot_edge``, ``q_i = n tpot_edge``, ``g^c_i = ttft + n tpot_cloud + t_back``,
  concurrency slope ``s`` and ``u_i = (1 - alpha_i) m``, ``m = sum_k (1 - alpha_k)``, linearised
  exactly (McCormick, ``0 <= m <= N``);
- store-and-forward ``t_i = t^radio_i + gen_i``; streamed ``t_i >= t^radio_i``, ``t_i >= gen_i``;
- soft SLO ``e_i >= t_i - d_i``, ``e_i >= 0``; hard SLO ``t_i <= d_i + M_i v_i``;
- quality (4e): ``v_i >= 1 - alpha_i`` if the edge misses ``tau_i``, ``v_i >= alpha_i`` if the
  cloud does; minimum rate missed under ``z``: ``v_i = 1``;
- KV cache: ``sum_i kv_i (1 - alpha_i) <= cap + M w``, ``v_i >= w - alpha_i``;
  backhaul: ``sum_i b_i alpha_i <= cap_b + M_b y``, ``v_i >= y + alpha_i - 1``;
- minimise ``sum_i t_i + P v_i + w_slo e_i``; the reward is ``N T^Target`` minus it.

A cell with at most ``ENUMERATE_MAX`` tasks is solved exactly by evaluating the same cost for
every one of the ``2^N`` decision vectors at once (numpy; a HiGHS MIP costs ~6 ms even for
N = 6, the enumeration ~0.1 ms); larger cells by the MILP.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import highspy
import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload import constraints as cons
from genoffload import delay
from genoffload.evaluate import evaluate_arrays
from genoffload.families import Families
from genoffload.families.backhaul import backhaul_usage
from genoffload.families.kv import kv_usage
from genoffload.families.slo import deadlines

BArr = NDArray[np.bool_]
FArr = NDArray[np.float64]
REWARD_TOL = 1e-6  # relative tolerance of the evaluator-vs-MILP consistency check [1]
CACHE_SIZE = 4096  # cells kept by :class:`OffloadSolver` (identical cells are solved once)
ENUMERATE_MAX = 10  # cells with at most this many tasks are solved by enumerating every alpha


@dataclass
class OffloadOptimum:
    """The offloading optimum of one step given its allocation.

    Attributes
    ----------
    alpha : ndarray of bool, shape (task,)
        An optimal decision vector (True = cloud).
    reward : ndarray, shape (task,) [s]
        Each task's reward of eq. (10) under ``alpha`` (the evaluator's).
    bound : float [s]
        Certified upper bound on the step's total reward over every ``alpha``.
    gap : float [s]
        ``bound - reward.sum()`` (0 where the closed form is exact).
    status : str
        ``optimal`` (certified) or HiGHS's status word of the worst cell.
    coupled : ndarray of bool, shape (task,)
        Task in a cell where decisions interact (its own regret is not defined there).
    milp_cells, cache_hits : int
        Cells solved by the MILP, cells answered from the cache.
    """

    alpha: BArr
    reward: FArr
    bound: float
    gap: float
    status: str
    coupled: BArr
    milp_cells: int = 0
    cache_hits: int = 0


@dataclass
class _Cell:
    """Constants of one coupled cell (times [s], KV [GB], content [Mbit])."""

    radio: FArr
    g_edge: FArr
    q: FArr
    g_cloud: FArr
    deadline: FArr
    ok_edge: BArr
    ok_cloud: BArr
    rate_ok: BArr
    kv: FArr
    bits: FArr
    slope: float
    slo: str
    slo_weight: float
    kv_cap: float
    bh_cap: float
    streamed: bool
    penalty: float

    def key(self) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        for a in (self.radio, self.g_edge, self.q, self.g_cloud, self.deadline, self.ok_edge,
                  self.ok_cloud, self.rate_ok, self.kv, self.bits):
            h.update(np.ascontiguousarray(a).tobytes())
        h.update(repr((self.slope, self.slo, self.slo_weight, self.kv_cap, self.bh_cap,
                       self.streamed, self.penalty)).encode())
        return h.digest()


@dataclass
class _Lp:
    """A MILP in row form, built column by column."""

    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[tuple[dict[int, float], float, float]] = field(default_factory=list)

    def var(self, cost: float, lo: float, hi: float, integer: bool = False) -> int:
        self.cost.append(cost)
        self.lower.append(lo)
        self.upper.append(hi)
        self.integer.append(integer)
        return len(self.cost) - 1

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append((coef, lo, hi))


def _build(c: _Cell) -> tuple[_Lp, list[int]]:
    """The MILP of one coupled cell (see the module docstring); returns it and the alpha columns."""
    n, inf = c.radio.size, math.inf
    lp = _Lp()
    alpha = [lp.var(0.0, 0.0, 1.0, True) for _ in range(n)]
    v = [lp.var(c.penalty, 0.0 if c.rate_ok[i] else 1.0, 1.0, True) for i in range(n)]
    t = [lp.var(1.0, float(c.radio[i]) if c.streamed else -inf, inf) for i in range(n)]
    u = [lp.var(0.0, 0.0, float(n)) for _ in range(n)] if c.slope > 0 else []
    for i in range(n):
        sq = c.slope * float(c.q[i])
        coef = {t[i]: 1.0, alpha[i]: -(float(c.g_cloud[i] - c.g_edge[i]) + sq)}
        if u:
            coef[u[i]] = -sq
        rhs = float(c.g_edge[i]) - sq
        if c.streamed:
            lp.row(coef, rhs, inf)
        else:
            lp.row(coef, rhs + float(c.radio[i]), rhs + float(c.radio[i]))
        if u:  # u_i = (1 - alpha_i) m, m = n - sum_k alpha_k
            lp.row({u[i]: 1.0, **{a: 1.0 for a in alpha}, alpha[i]: 1.0 + n}, n, inf)
            lp.row({u[i]: 1.0, **{a: 1.0 for a in alpha}}, -inf, n)
            lp.row({u[i]: 1.0, alpha[i]: float(n)}, -inf, n)
        if not c.ok_edge[i]:
            lp.row({v[i]: 1.0, alpha[i]: 1.0}, 1.0, inf)
        if not c.ok_cloud[i]:
            lp.row({v[i]: 1.0, alpha[i]: -1.0}, 0.0, inf)
        d = float(c.deadline[i])
        if math.isfinite(d) and c.slo == "soft":
            e = lp.var(c.slo_weight, 0.0, inf)
            lp.row({e: 1.0, t[i]: -1.0}, -d, inf)
        if math.isfinite(d) and c.slo == "hard":
            worst = float(c.radio[i]) + max(float(c.g_cloud[i]),
                                            float(c.g_edge[i]) + c.slope * float(c.q[i]) * n)
            big = max(worst - d, 0.0) + 1.0
            lp.row({t[i]: 1.0, v[i]: -big}, -inf, d + 1e-9)
    if math.isfinite(c.kv_cap) and c.kv.sum() > c.kv_cap:
        big = float(c.kv.sum()) + 1.0
        w = lp.var(0.0, 0.0, 1.0, True)
        lp.row({**{alpha[i]: -float(c.kv[i]) for i in range(n) if c.kv[i] > 0}, w: -big},
               -inf, c.kv_cap - float(c.kv.sum()))
        for i in range(n):
            lp.row({v[i]: 1.0, w: -1.0, alpha[i]: 1.0}, 0.0, inf)
    if math.isfinite(c.bh_cap) and c.bits.sum() > c.bh_cap:
        big = float(c.bits.sum()) + 1.0
        y = lp.var(0.0, 0.0, 1.0, True)
        lp.row({**{alpha[i]: float(c.bits[i]) for i in range(n) if c.bits[i] > 0}, y: -big},
               -inf, c.bh_cap)
        for i in range(n):
            lp.row({v[i]: 1.0, y: -1.0, alpha[i]: -1.0}, -1.0, inf)
    return lp, alpha


def _enumerate(c: _Cell) -> tuple[BArr, float]:
    """Exact optimum of one cell by enumeration: (alpha, minimal cost [s]) (the MILP's cost)."""
    n = c.radio.size
    grid = ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(bool)  # (2^n, n)
    edge = ~grid
    m = edge.sum(axis=1, keepdims=True)
    gen = np.where(grid, c.g_cloud, c.g_edge + c.slope * c.q * (m - 1))
    t = np.maximum(c.radio, gen) if c.streamed else c.radio + gen
    bad = ~c.rate_ok | (edge & ~c.ok_edge) | (grid & ~c.ok_cloud)
    finite = np.isfinite(c.deadline)
    late = np.where(finite, t - np.where(finite, c.deadline, 0.0), 0.0)
    excess = np.maximum(late, 0.0) if c.slo == "soft" else np.zeros_like(t)
    if c.slo == "hard":
        bad |= finite & (late > 1e-9)
    if math.isfinite(c.kv_cap):
        bad |= edge & ((edge * c.kv).sum(axis=1, keepdims=True) > c.kv_cap)
    if math.isfinite(c.bh_cap):
        bad |= grid & ((grid * c.bits).sum(axis=1, keepdims=True) > c.bh_cap)
    cost = (t + c.penalty * bad + c.slo_weight * excess).sum(axis=1)
    best = int(np.argmin(cost))
    return grid[best], float(cost[best])


_CACHE: OrderedDict[bytes, tuple[BArr, float, str]] = OrderedDict()
"""Solved cells by their constants, shared by the solvers of a process."""


def _quiet_highs() -> highspy.Highs:
    """A HiGHS instance with its output off; its constructor's banner (written by the C++ library to
    file descriptor 1, before any option can be set) is sent to /dev/null, so a caller's stdout
    (a CLI's ``--json``, a subprocess protocol) stays clean."""
    sys.stdout.flush()
    saved, null = os.dup(1), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(null)
    return h


class OffloadSolver:
    """Solves :func:`offload_optimum` problems with one HiGHS instance and a cache of cells.

    Keep one per episode: the HiGHS object is reused (``clearModel`` + ``passModel``) and a
    cell identical to an earlier one (same constants) is answered from the cache.
    """

    def __init__(self, time_limit: float | None = None) -> None:
        self.h = _quiet_highs()
        self.h.setOptionValue("threads", 1)
        self.h.setOptionValue("mip_rel_gap", 0.0)
        self.h.setOptionValue("mip_abs_gap", 1e-9)
        if time_limit is not None:
            self.h.setOptionValue("time_limit", float(time_limit))
        self.cache = _CACHE
        self.solve_s = 0.0

    def solve_cell(self, c: _Cell) -> tuple[BArr, float, str, bool]:
        """(alpha, lower bound of the cost [s], status, from cache) of one coupled cell."""
        key = c.key()
        if key in self.cache:
            self.cache.move_to_end(key)
            return (*self.cache[key], True)
        t0 = time.perf_counter()
        if c.radio.size <= ENUMERATE_MAX:
            alpha, cost = _enumerate(c)
            self.cache[key] = (alpha, cost, "optimal")
            self.solve_s += time.perf_counter() - t0
            return alpha, cost, "optimal", False
        return (*self.solve_milp(c, key), False)

    def solve_milp(self, c: _Cell, key: bytes | None = None) -> tuple[BArr, float, str]:
        """(alpha, lower bound of the cost [s], status) of one coupled cell by the MILP."""
        t0 = time.perf_counter()
        lp, acols = _build(c)
        model = highspy.HighsLp()
        ncol = len(lp.cost)
        model.num_col_, model.num_row_ = ncol, len(lp.rows)
        model.col_cost_ = np.asarray(lp.cost, dtype=float)
        model.col_lower_ = np.asarray(lp.lower, dtype=float)
        model.col_upper_ = np.asarray(lp.upper, dtype=float)
        model.row_lower_ = np.asarray([r[1] for r in lp.rows], dtype=float)
        model.row_upper_ = np.asarray([r[2] for r in lp.rows], dtype=float)
        starts, index, value = [0], [], []
        for coef, _, _ in lp.rows:
            index += list(coef.keys())
            value += list(coef.values())
            starts.append(len(index))
        model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        model.a_matrix_.start_ = np.asarray(starts, dtype=np.int32)
        model.a_matrix_.index_ = np.asarray(index, dtype=np.int32)
        model.a_matrix_.value_ = np.asarray(value, dtype=float)
        model.integrality_ = [highspy.HighsVarType.kInteger if k else highspy.HighsVarType.kContinuous
                              for k in lp.integer]
        self.h.clearModel()
        self.h.passModel(model)
        self.h.run()
        st = self.h.getModelStatus()
        info = self.h.getInfo()
        x = np.asarray(self.h.getSolution().col_value)
        alpha = x[acols] > 0.5 if x.size else np.zeros(len(acols), dtype=bool)
        if st == highspy.HighsModelStatus.kOptimal:
            status, lb = "optimal", min(float(info.mip_dual_bound), float(info.objective_function_value))
        else:
            status = self.h.modelStatusToString(st).lower().replace(" ", "_")
            lb = float(info.mip_dual_bound) if math.isfinite(info.mip_dual_bound) else -math.inf
        self.solve_s += time.perf_counter() - t0
        if key is not None:
            self.cache[key] = (alpha, lb, status)
            if len(self.cache) > CACHE_SIZE:
                self.cache.popitem(last=False)
        return alpha, lb, status


def coupled_cells(scenario: xr.Dataset) -> BArr:
    """Per cell: can the decisions of its tasks interact (so the closed form is not exact)?

    True when the cell has at least two tasks and the edge concurrency slope is positive, or
    its text tasks at the edge together could exceed the KV budget, or its tasks offloaded
    together could exceed the backhaul capacity.
    """
    fam = Families.from_attrs(scenario.attrs)
    n_cell = scenario.sizes["cell"]
    count = cons.per_cell_sum(scenario, np.ones(scenario.sizes["task"]))
    out = (fam.edge_tpot_slope > 0) & (count >= 2)
    if "kv" in fam.active:
        kv_all = kv_usage(scenario, fam, np.zeros(scenario.sizes["task"], dtype=bool))
        out |= kv_all > fam.edge_kv_capacity_bytes * (1 + 1e-12)
    if "backhaul" in fam.active:
        bh_all = backhaul_usage(scenario, np.ones(scenario.sizes["task"], dtype=bool))
        out |= bh_all > fam.backhaul_capacity_bits * (1 + 1e-12)
    return np.asarray(out, dtype=bool).reshape(n_cell)


def _arrays(evaluated: xr.Dataset | dict[str, Any]) -> dict[str, Any]:
    """The arrays ``alpha``, ``reward``, ``quality_ok``, ``capacity``, ``t_radio`` of an evaluation."""
    if isinstance(evaluated, dict):
        return evaluated
    return {k: evaluated[k].values for k in ("alpha", "reward", "quality_ok", "capacity", "t_radio")}


def _cell_constants(scenario: xr.Dataset, evaluated: xr.Dataset | dict[str, Any], ok_e: np.ndarray,
                    ok_c: np.ndarray, tasks: np.ndarray) -> _Cell:
    fam = Families.from_attrs(scenario.attrs)
    units = np.asarray(scenario["units"].values, dtype=float)[tasks]
    tpot_e = np.asarray(scenario["tpot_edge"].values, dtype=float)[tasks]
    g_edge = delay.generation_delay(units, scenario["ttft_edge"].values[tasks], tpot_e)
    g_cloud = delay.generation_delay(units, scenario["ttft_cloud"].values[tasks],
                                     scenario["tpot_cloud"].values[tasks])
    owner = np.asarray(scenario["task_user"].values)[tasks]
    arrays = _arrays(evaluated)
    cap = np.asarray(arrays["capacity"], dtype=float)[owner]
    radio = np.asarray(arrays["t_radio"], dtype=float)[tasks]
    text = np.asarray(scenario["modality"].values)[tasks] == "text"
    return _Cell(
        radio=np.where(np.isfinite(radio), radio, 0.0), g_edge=g_edge, q=units * tpot_e,
        g_cloud=g_cloud + float(scenario.attrs["t_back_s"]),
        deadline=deadlines(scenario)[tasks],
        ok_edge=np.asarray(ok_e, dtype=bool)[tasks], ok_cloud=np.asarray(ok_c, dtype=bool)[tasks],
        rate_ok=cap >= fam.min_rate_bps * (1 - 1e-12),
        kv=np.where(text, units * fam.kv_bytes_per_token, 0.0) / 1e9,
        bits=np.asarray(scenario["content_bits"].values, dtype=float)[tasks] / 1e6,
        slope=float(fam.edge_tpot_slope), slo=fam.slo, slo_weight=float(fam.slo_weight),
        kv_cap=fam.edge_kv_capacity_bytes * (1 + 1e-12) / 1e9,
        bh_cap=fam.backhaul_capacity_bits * (1 + 1e-12) / 1e6,
        streamed=scenario.attrs["delivery"] == "streamed", penalty=float(scenario.attrs["penalty_s"]))


def offload_optimum(scenario: xr.Dataset, z: np.ndarray, solver: OffloadSolver | None = None,
                    evaluated: xr.Dataset | dict[str, Any] | None = None) -> OffloadOptimum:
    """The certified offloading optimum ``alpha* | z`` of a scenario (every task at once).

    Parameters
    ----------
    scenario : xarray.Dataset
        A validated scenario (in an episode: one step's tasks).
    z : ndarray of bool, shape (user, rb)
        The RB allocation, kept fixed.
    solver : OffloadSolver, optional
        Reused HiGHS instance and cache (one per episode); default a new one.
    evaluated : xarray.Dataset, optional
        The evaluator's result of some decisions under ``z`` (e.g. the policy's): saves one
        evaluation (only the flipped decisions are evaluated).

    Returns
    -------
    OffloadOptimum
        The rewards are the evaluator's at ``alpha*``; ``bound`` bounds every ``alpha``.
    """
    n = scenario.sizes["task"]
    base = (evaluate_arrays(scenario, z, np.zeros(n, dtype=bool)) if evaluated is None
            else _arrays(evaluated))
    a0 = np.asarray(base["alpha"], dtype=bool)
    flipped = evaluate_arrays(scenario, z, ~a0)
    r0, r1 = np.asarray(base["reward"], dtype=float), flipped["reward"]
    r_e, r_c = np.where(a0, r1, r0), np.where(a0, r0, r1)
    alpha = r_c > r_e
    task_cell = cons.cell_of_task(scenario)
    coupled_cell = coupled_cells(scenario)
    coupled = coupled_cell[task_cell]
    if not coupled.any():
        best = np.maximum(r_e, r_c)
        return OffloadOptimum(alpha, best, float(best.sum()), 0.0, "optimal", coupled)
    solver = solver or OffloadSolver()
    t_target = float(scenario.attrs["t_target_s"])
    q0, q1 = np.asarray(base["quality_ok"], dtype=bool), flipped["quality_ok"]
    ok_e, ok_c = np.where(a0, q1, q0), np.where(a0, q0, q1)
    bound_coupled, statuses, milp, hits = 0.0, [], 0, 0
    for j in np.flatnonzero(coupled_cell):
        tasks = np.flatnonzero(task_cell == j)
        a, lb, status, hit = solver.solve_cell(
            _cell_constants(scenario, base, ok_e, ok_c, tasks))
        alpha[tasks] = a
        bound_coupled += tasks.size * t_target - lb
        statuses.append(status)
        milp += int(not hit)
        hits += int(hit)
    if np.array_equal(alpha, a0):
        reward = np.asarray(r0, dtype=float)
    elif np.array_equal(alpha, ~a0):
        reward = np.asarray(r1, dtype=float)
    else:
        reward = np.asarray(evaluate_arrays(scenario, z, alpha)["reward"], dtype=float)
    best_free = np.maximum(r_e, r_c)[~coupled]
    bound = float(best_free.sum()) + bound_coupled
    got = float(reward.sum())
    gap = bound - got if math.isfinite(got) else 0.0
    status = next((s for s in statuses if s != "optimal"), "optimal")
    if gap < -REWARD_TOL * max(1.0, abs(got)):
        raise RuntimeError(f"offload_optimum: the evaluator's reward {got:.9g} s exceeds the MILP "
                           f"bound {bound:.9g} s (model mismatch)")
    return OffloadOptimum(alpha, reward, bound, max(gap, 0.0), status, coupled, milp, hits)


__all__ = ["OffloadOptimum", "OffloadSolver", "coupled_cells", "offload_optimum"]
