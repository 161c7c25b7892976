"""The joint MILP of problem (4) for one cell, built by small stateless ``define_*`` functions.

Scaled units: time [ms], capacity [Mbit/s], content [Mbit], KV memory [GB]; each user's
capacity is further scaled by its own total rate ``rho_k`` (:func:`capacity_scale`), so that
``c_k = C_k / rho_k`` in [0, 1]. The convex transmission term ``1000 bits / C`` is kept exact by
outer approximation: ``v_k >= 1 / c_k`` (``v_k = rho_k w_k / 1000``, ``w_k = 1000 / C_k``
[ms/Mbit]) is represented by tangent cuts ``v_k + c_k / c0^2 >= 2 / c0`` added by
:func:`add_tangents` (the solve loop adds more until the certified gap is met); a known
allocation bounds ``c_k`` from below and ``v_k`` from above (:func:`capacity_bounds`), so the
tangents and coefficients stay in the range where an optimum can be. Each
``define_*`` docstring gives its mathematics; the optional families' ``define_*`` are in
:mod:`genoffload.models.families` and match :mod:`genoffload.families`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData

from genoffload.families import registered
from genoffload.models.data import CellData, min_generation
from genoffload.models.families import milp_define


def capacity_scale(cd: CellData) -> np.ndarray:
    """Per-user capacity scale ``rho_k = sum_q r[k, q]`` [Mbit/s] (1 for a user without a rate).

    The model works with the scaled capacity ``c_k = C_k / rho_k`` in [0, 1], so that users
    whose rates differ by orders of magnitude (deep fades at the cell edge) get coefficients of
    the same size.
    """
    rho = cd.rate.sum(axis=1)
    return np.where(rho > 0, rho, 1.0)


def define_allocation(m: pyo.ConcreteModel, cd: CellData, c_low: np.ndarray) -> None:
    """RB allocation and link capacity, eqs. (2), (4b), in scaled capacities.

    ``z[k, q] in {0, 1}``; ``sum_k z[k, q] <= 1`` per RB (OFDMA); ``c_k = C_k / rho_k =
    sum_q (r[k, q] / rho_k) z[k, q]`` [1] (:func:`capacity_scale`) with ``c_k >= c_low[k]``
    (:func:`capacity_bounds`: a user with content needs at least one RB, and no allocation
    better than a known one gives a user less). ``m.C[k] = rho_k c_k`` [Mbit/s].
    """
    users, rbs = range(cd.n_user), range(cd.n_rb)
    rho = capacity_scale(cd)
    m.rho = {k: float(rho[k]) for k in users}
    m.z = pyo.Var(users, rbs, within=pyo.Binary)
    m.c = pyo.Var(users, bounds=lambda _m, k: (float(c_low[k]), 1.0))
    m.cap_def = pyo.Constraint(users, rule=lambda _m, k: m.c[k] == pyo.quicksum(
        float(cd.rate[k, q] / rho[k]) * m.z[k, q] for q in rbs if cd.rate[k, q] > 0))
    for k, q in zip(*np.nonzero(cd.rate <= 0), strict=True):
        m.z[int(k), int(q)].fix(0)
    m.assign = pyo.Constraint(rbs, rule=lambda _m, q: pyo.quicksum(
        m.z[k, q] for k in users) <= 1)
    m.C = pyo.Expression(users, rule=lambda _m, k: m.rho[k] * m.c[k])


def min_delays(cd: CellData) -> np.ndarray:
    """``d_i = 1000 bits_i / rho_k`` [ms]: radio delay of task ``i`` with every RB of its user."""
    return 1e3 * cd.bits / capacity_scale(cd)[cd.owner]


def capacity_bounds(cd: CellData, budget: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bounds ``c_low[k] <= c_k`` and ``v_k <= v_high[k]`` valid for every allocation whose
    model objective (:func:`define_objective`, objective (4) minus the offset) is at most
    ``budget`` [ms], e.g. a known allocation's.

    Every task's term ``t_i - g^min_i`` (plus its soft-SLO penalty) is >= 0 and >= ``e_i``
    (``e_i = d_i`` store-and-forward, ``max(d_i - g^min_i, 0)`` streamed, :func:`min_delays`),
    so user ``k`` gets at most ``B_k = budget - sum_{i not of k} e_i``. Store-and-forward:
    ``sum_{i of k} d_i v_k <= B_k``; streamed: ``d_i v_k - g^min_i <= budget - sum_{i' != i}
    e_i'`` per task and ``sum_i d_i v_k <= B_k + sum_{i of k} g^min_i``. Hence
    ``v_k <= v_high[k]`` and ``c_k >= 1 / v_high[k]`` (``v_k >= 1 / c_k``). Without a budget
    only ``c_k >= min_q r[k, q] / rho_k`` for users with content (a user without an RB has an
    infinite delay).
    """
    rho = capacity_scale(cd)
    pos = np.where(cd.rate > 0, cd.rate, np.inf).min(axis=1)
    need = cd.demand > 0
    c_low = np.where(need & np.isfinite(pos), pos / rho, 0.0)
    v_high = np.where(c_low > 0, 1.0 / np.maximum(c_low, 1e-300), 1.0)
    if budget is None or not math.isfinite(budget):
        return c_low, v_high
    d = min_delays(cd)
    gmin = np.minimum(np.where(cd.allow_edge, cd.g_edge, np.inf),
                      np.where(cd.allow_cloud, cd.g_cloud, np.inf))
    e = np.maximum(d - gmin, 0.0) if cd.streamed else d
    slack = budget * (1 + 1e-9) + 1e-9  # keep the known allocation itself feasible
    for k in np.flatnonzero(need):
        mine = (cd.owner == k) & (d > 0)
        b_k = slack - float(e[cd.owner != k].sum())
        if cd.streamed:
            per_task = (slack - (e.sum() - e[mine]) + gmin[mine]) / d[mine]
            v = min(float(per_task.min()), (b_k + float(gmin[cd.owner == k].sum()))
                    / float(d[mine].sum()))
        else:
            v = b_k / float(d[mine].sum())
        if 1.0 <= v < v_high[k]:
            v_high[k], c_low[k] = v, max(c_low[k], 1.0 / v)
    return c_low, v_high


def define_offloading(m: pyo.ConcreteModel, cd: CellData, fixed: np.ndarray | None) -> None:
    """Offloading ``alpha_i in {0, 1}`` with the quality constraint (4e).

    (4e) fixes ``alpha_i = 1`` where only the cloud meets ``tau_i`` and ``alpha_i = 0`` where
    only the edge does. ``fixed`` (uncoupled problems) fixes every ``alpha`` to its closed form.
    """
    m.alpha = pyo.Var(range(cd.n_task), within=pyo.Binary)
    for i in range(cd.n_task):
        if fixed is not None:
            m.alpha[i].fix(int(fixed[i]))
        elif not cd.allow_edge[i]:
            m.alpha[i].fix(1)
        elif not cd.allow_cloud[i]:
            m.alpha[i].fix(0)


def define_generation(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Generation delay incl. backhaul [ms], eqs. (1), (3), (4c), (4d) and concurrency.

    ``gen_i = alpha_i (t^cloud_i + t_back) + (1 - alpha_i) t^edge_i``. With concurrency
    (``s > 0``) the edge TPOT is scaled by ``1 + s (m_j - 1)``, ``m_j = sum_i (1 - alpha_i)``:
    ``t^edge_i = ttft + n tpot + s n tpot (m_j - 1)``; the product ``u_i = (1 - alpha_i) m_j`` is
    linearised exactly by McCormick with ``0 <= m_j <= N``: ``u_i >= m_j - N alpha_i``,
    ``u_i <= m_j``, ``u_i <= N (1 - alpha_i)``, ``u_i >= 0`` (exact for binary ``alpha_i``).
    ``m.gen[i]`` is the excess ``gen_i - g^min_i`` over the fastest allowed generation
    (:func:`min_generation`), so that the rows carry no large constants.
    """
    tasks = range(cd.n_task)
    s = cd.slope
    if s > 0:
        big_n = float(cd.allow_edge.sum())
        m.m_edge = pyo.Expression(expr=pyo.quicksum(1 - m.alpha[i] for i in tasks))
        m.u = pyo.Var(tasks, bounds=(0.0, big_n))
        m.u_lo = pyo.Constraint(tasks, rule=lambda _m, i: m.u[i] >= m.m_edge - big_n * m.alpha[i])
        m.u_hi = pyo.Constraint(tasks, rule=lambda _m, i: m.u[i] <= m.m_edge)
        m.u_on = pyo.Constraint(tasks, rule=lambda _m, i: m.u[i] <= big_n * (1 - m.alpha[i]))
    g0 = min_generation(cd)
    m.gen = pyo.Expression(tasks, rule=lambda _m, i: (
        float(cd.g_cloud[i] - g0[i]) * m.alpha[i] + float(cd.g_edge[i] - g0[i]) * (1 - m.alpha[i])
        + (s * float(cd.ntpot[i]) * (m.u[i] - (1 - m.alpha[i])) if s > 0 else 0.0)))


def define_transmission(m: pyo.ConcreteModel, cd: CellData, v_high: np.ndarray) -> None:
    """Radio delay ``bits_i / C_k`` (eq. 1) via ``v_k >= 1 / c_k`` [1].

    ``v_k = w_k rho_k / 1000`` is the scaled inverse capacity (``w_k = 1000 / C_k`` [ms/Mbit]),
    bounded by ``[1, v_high[k]]`` (:func:`capacity_bounds`); the convex constraint is
    represented by the tangent cuts of :func:`add_tangents` in ``m.cuts``. The radio delay of
    task ``i`` is ``d_i v_k`` [ms] with ``d_i = 1000 bits_i / rho_k`` (:func:`min_delays`), a
    valid lower bound, exact at every tangent point.
    """
    need = cd.demand > 0
    m.radio_users = [k for k in range(cd.n_user) if need[k]]
    m.v = pyo.Var(m.radio_users, bounds=lambda _m, k: (1.0, float(v_high[k])))
    m.cuts = pyo.ConstraintList()
    d = min_delays(cd)
    m.radio = pyo.Expression(range(cd.n_task), rule=lambda _m, i: (
        float(d[i]) * m.v[int(cd.owner[i])] if cd.bits[i] > 0 else 0.0))


def add_tangents(m: pyo.ConcreteModel, k: int, points: Iterable[float]) -> list[ConstraintData]:
    """Tangents of ``1 / c`` at ``c0 = C0 / rho_k`` for user ``k``: ``v_k + c_k / c0^2 >= 2 / c0``.

    ``points`` are capacities ``C0`` [Mbit/s]. Returns the new constraints (to pass to the
    persistent solver).
    """
    out = []
    for p in points:
        c0 = p / m.rho[k]
        out.append(m.cuts.add(m.v[k] + (1.0 / c0**2) * m.c[k] >= 2.0 / c0))
    return out


def define_delay(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Task delay in excess of the fastest allowed generation, ``t_i - g^min_i`` [ms]
    (``m.t[i]``), the summand of (4) minus :func:`min_generation`.

    store-and-forward: ``t_i = radio_i + gen_i`` (an expression). streamed:
    ``t_i >= radio_i``, ``t_i >= gen_i`` (epigraph of the max; exact at the optimum), i.e.
    ``m.t[i] >= radio_i - g^min_i``, ``m.t[i] >= m.gen[i]``.
    """
    tasks = range(cd.n_task)
    if not cd.streamed:
        m.t = pyo.Expression(tasks, rule=lambda _m, i: m.radio[i] + m.gen[i])
        return
    g0 = min_generation(cd)
    m.t = pyo.Var(tasks, bounds=(0.0, None))
    m.t_radio = pyo.Constraint(tasks, rule=lambda _m, i: m.t[i] >= m.radio[i] - float(g0[i]))
    m.t_gen = pyo.Constraint(tasks, rule=lambda _m, i: m.t[i] >= m.gen[i])


def objective_offset(cd: CellData) -> float:
    """Constant left out of the model objective [ms]: ``sum_i g^min_i``
    (:func:`min_generation`), so that the model objective is close to the z-dependent part and
    the MIP gap tolerances act on it."""
    return float(min_generation(cd).sum())


def objective_scale(budget: float | None) -> float:
    """Factor [1/ms] of the model objective: ``1 / budget`` (clipped to [1e-6, 1e6]), so that a
    known allocation has model objective 1 and the MIP tolerances act relative to it; 1 without
    a budget."""
    if budget is None or not math.isfinite(budget) or budget <= 0:
        return 1.0
    return float(min(max(1.0 / budget, 1e-6), 1e6))


def define_objective(m: pyo.ConcreteModel, cd: CellData, scale: float = 1.0) -> None:
    """Objective (4) plus the soft families' penalties (``m.penalties``), minus
    :func:`objective_offset` [ms] (the sum of the excess delays ``m.t``, :func:`define_delay`), times
    ``scale`` [1/ms] (:func:`objective_scale`): ``m.offset`` and ``m.obj_scale`` map the model
    objective ``x`` back to milliseconds, ``x / obj_scale + offset``."""
    terms = list(m.penalties)  # soft families' terms (define_slo_soft)
    pen: Any = terms[0] if len(terms) == 1 else (pyo.quicksum(terms) if terms else 0.0)
    m.offset = objective_offset(cd)
    m.obj_scale = scale
    m.obj = pyo.Objective(expr=scale * (pyo.quicksum(m.t[i] for i in range(cd.n_task)) + pen))


def build(cd: CellData, alpha_fixed: np.ndarray | None = None,
          families: Iterable[str] | None = None,
          budget: float | None = None) -> pyo.ConcreteModel:
    """Build the cell model (without tangent cuts; see :func:`add_tangents`).

    Parameters
    ----------
    cd : CellData
    alpha_fixed : ndarray of bool, optional
        Fix ``alpha`` (uncoupled problems, where it is the closed-form optimum).
    families : iterable of str, optional
        Families to include (names of :attr:`Families.active`); default all active ones. Each
        adds its ``define_*`` (:func:`genoffload.models.families.milp_define`).
        The diagnosis builds models with one family at a time.
    budget : float, optional
        Model objective [ms] of a known feasible allocation (objective (4) minus
        :func:`objective_offset`): bounds every user's capacity (:func:`capacity_bounds`;
        ``m.c_low`` and ``m.v_high`` keep them) and scales the objective
        (:func:`objective_scale`).
    """
    fams = set(cd.fam.active if families is None else families)
    m = pyo.ConcreteModel(name=f"cell{cd.cell}")
    m.c_low, m.v_high = capacity_bounds(cd, budget)
    define_allocation(m, cd, m.c_low)
    define_offloading(m, cd, alpha_fixed)
    define_generation(m, cd)
    define_transmission(m, cd, m.v_high)
    define_delay(m, cd)
    m.penalties = []
    for f in registered():  # the registry's order
        if f.name in fams and f.milp is not None:
            milp_define(f.milp)(m, cd)
    define_objective(m, cd, objective_scale(budget))
    return m
