"""The joint MILP of problem (4) for one cell, built by small stateless ``define_*`` functions.

Scaled units: time [ms], capacity [Mbit/s], content [Mbit], KV memory [GB]. The convex
transmission term ``1000 bits / C`` is kept exact by outer approximation: ``w_k >= 1000 / C_k``
[ms/Mbit] is represented by tangent cuts ``w_k >= 2000 / C0 - 1000 C_k / C0^2`` added by
:func:`add_tangents` (the solve loop adds more until the certified gap is met). Each
``define_*`` docstring gives its mathematics; the families match :mod:`genoffload.constraints`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.constraint import ConstraintData

from genoffload.models.data import CellData


def define_allocation(m: pyo.ConcreteModel, cd: CellData) -> None:
    """RB allocation and link capacity, eqs. (2), (4b).

    ``z[k, q] in {0, 1}``; ``sum_k z[k, q] <= 1`` per RB (OFDMA); ``C_k = sum_q r[k, q] z[k, q]``
    [Mbit/s]; ``C_k >= min_{q: r>0} r[k, q]`` for users with content (a user without an RB has
    an infinite delay, so this cut is valid).
    """
    users, rbs = range(cd.n_user), range(cd.n_rb)
    m.z = pyo.Var(users, rbs, within=pyo.Binary)
    cmax = cd.rate.sum(axis=1)
    m.C = pyo.Var(users, bounds=lambda _m, k: (0.0, float(cmax[k])))
    m.cap_def = pyo.Constraint(users, rule=lambda _m, k: m.C[k] == pyo.quicksum(
        float(cd.rate[k, q]) * m.z[k, q] for q in rbs if cd.rate[k, q] > 0))
    for k, q in zip(*np.nonzero(cd.rate <= 0), strict=True):
        m.z[int(k), int(q)].fix(0)
    m.assign = pyo.Constraint(rbs, rule=lambda _m, q: pyo.quicksum(
        m.z[k, q] for k in users) <= 1)
    need = cd.demand > 0
    m.cap_min = pyo.Constraint([k for k in users if need[k]], rule=lambda _m, k: m.C[k] >= float(
        cd.rate[k][cd.rate[k] > 0].min()))


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
    m.gen = pyo.Expression(tasks, rule=lambda _m, i: (
        float(cd.g_cloud[i]) * m.alpha[i] + float(cd.g_edge[i]) * (1 - m.alpha[i])
        + (s * float(cd.ntpot[i]) * (m.u[i] - (1 - m.alpha[i])) if s > 0 else 0.0)))


def define_transmission(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Radio delay ``bits_i / C_k`` via ``w_k >= 1000 / C_k`` [ms/Mbit] (eq. 1).

    ``w_k`` is bounded by ``[1000 / C^max_k, 1000 / C^min_k]``; the convex constraint is
    represented by the tangent cuts of :func:`add_tangents` in ``m.cuts``. The radio delay of
    task ``i`` is ``bits_i w_k`` [ms], a valid lower bound, exact at every tangent point.
    """
    need = cd.demand > 0
    radio_users = [k for k in range(cd.n_user) if need[k]]
    cmax = cd.rate.sum(axis=1)
    cmin = np.array([cd.rate[k][cd.rate[k] > 0].min() if (cd.rate[k] > 0).any() else 1.0
                     for k in range(cd.n_user)])
    m.radio_users = radio_users
    m.w = pyo.Var(radio_users, bounds=lambda _m, k: (1e3 / float(cmax[k]), 1e3 / float(cmin[k])))
    m.cuts = pyo.ConstraintList()
    m.radio = pyo.Expression(range(cd.n_task), rule=lambda _m, i: (
        float(cd.bits[i]) * m.w[int(cd.owner[i])] if cd.bits[i] > 0 else 0.0))


def add_tangents(m: pyo.ConcreteModel, k: int, points: Iterable[float]) -> list[ConstraintData]:
    """Add tangents of ``1000 / C`` at ``C0`` [Mbit/s] to user ``k``: ``w_k >= 2000/C0 - 1000 C_k/C0^2``.

    Returns the new constraints (to pass to the persistent solver).
    """
    out = []
    for c0 in points:
        out.append(m.cuts.add(m.w[k] + (1e3 / c0**2) * m.C[k] >= 2e3 / c0))
    return out


def define_delay(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Task delay ``t_i`` [ms], the summand of (4).

    store-and-forward: ``t_i = radio_i + gen_i`` (an expression). streamed:
    ``t_i >= radio_i``, ``t_i >= gen_i`` (epigraph of the max; exact at the optimum).
    """
    tasks = range(cd.n_task)
    if not cd.streamed:
        m.t = pyo.Expression(tasks, rule=lambda _m, i: m.radio[i] + m.gen[i])
        return
    m.t = pyo.Var(tasks, bounds=(0.0, None))
    m.t_radio = pyo.Constraint(tasks, rule=lambda _m, i: m.t[i] >= m.radio[i])
    m.t_gen = pyo.Constraint(tasks, rule=lambda _m, i: m.t[i] >= m.gen[i])


def define_slo_soft(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Soft SLO: penalty ``p_i >= t_i - d_i``, ``p_i >= 0`` [ms], weighted in the objective."""
    late = [i for i in range(cd.n_task) if math.isfinite(cd.deadline[i])]
    m.p = pyo.Var(late, bounds=(0.0, None))
    m.p_def = pyo.Constraint(late, rule=lambda _m, i: m.p[i] >= m.t[i] - float(cd.deadline[i]))


def _edge_level(cd: CellData, i: int, level: int) -> float:
    """Edge generation of task ``i`` when ``level`` tasks are at the edge [ms]."""
    return float(cd.g_edge[i] + cd.slope * cd.ntpot[i] * (level - 1))


def define_slo_hard(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Hard SLO ``t_i <= d_i``, written exactly and linearly.

    store-and-forward, per side with generation ``g``: ``bits_i / C_k <= d_i - g``, i.e.
    ``C_k >= R alpha_i`` (cloud) with ``R = bits_i / (d_i - g)``; a side with ``d_i - g <= 0``
    (and content) is forbidden. streamed: ``C_k >= bits_i / d_i`` and ``g <= d_i`` per side.
    With concurrency the edge generation depends on ``m_j``: indicators ``b_l = [m_j >= l]``,
    ``b_l >= b_{l+1}``, ``sum_l b_l = m_j``, and per level ``C_k >= R_l (b_l - alpha_i)``
    (binding only at edge with ``m_j >= l``; ``R_l`` grows with ``l``), or
    ``b_l + 1 - alpha_i <= 1`` where level ``l`` is too slow.
    """
    levels = list(range(1, int(cd.allow_edge.sum()) + 1)) if cd.slope > 0 else [1]
    if cd.slope > 0:
        m.b = pyo.Var(levels, within=pyo.Binary)
        m.b_order = pyo.Constraint(levels[1:], rule=lambda _m, lv: m.b[lv] <= m.b[lv - 1])
        m.b_sum = pyo.Constraint(expr=pyo.quicksum(m.b[lv] for lv in levels) == m.m_edge)
    m.slo = pyo.ConstraintList()

    def need(bits: float, slack: float) -> float | None:  # required C [Mbit/s], None: impossible
        if cd.streamed:
            return 0.0 if slack >= 0 else None
        if bits <= 0:
            return 0.0 if slack >= 0 else None
        return 1e3 * bits / slack if slack > 0 else None

    for i in range(cd.n_task):
        d = float(cd.deadline[i])
        if not math.isfinite(d):
            continue
        k, bits = int(cd.owner[i]), float(cd.bits[i])
        if cd.streamed and bits > 0:
            need_c = 1e3 * bits / d if d > 0 else float(cd.rate[k].sum()) + 1.0  # d <= 0: none
            m.slo.add(m.C[k] >= need_c)
        r_c = need(bits, d - float(cd.g_cloud[i]))
        if cd.allow_cloud[i]:
            if r_c is None:
                m.slo.add(m.alpha[i] == 0)
            elif r_c > 0:
                m.slo.add(m.C[k] >= r_c * m.alpha[i])
        if not cd.allow_edge[i]:
            continue
        for lv in levels:
            r_e = need(bits, d - _edge_level(cd, i, lv))
            ind = m.b[lv] if cd.slope > 0 else 1
            if r_e is None:
                m.slo.add(ind - m.alpha[i] <= 0)
            elif r_e > 0:
                m.slo.add(m.C[k] >= r_e * (ind - m.alpha[i]))


def define_kv(m: pyo.ConcreteModel, cd: CellData) -> None:
    """KV cache: ``sum_{text i} n_i kv_bytes_per_token (1 - alpha_i) <= cap`` [GB] per cell."""
    used = [i for i in range(cd.n_task) if cd.kv[i] > 0]
    if used:
        m.kv = pyo.Constraint(expr=pyo.quicksum(float(cd.kv[i]) * (1 - m.alpha[i]) for i in used)
                              <= cd.fam.edge_kv_capacity_bytes / 1e9)


def define_backhaul(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Backhaul capacity: ``sum_i bits_i alpha_i <= cap`` [Mbit] per cell."""
    used = [i for i in range(cd.n_task) if cd.bits[i] > 0]
    if used:
        m.backhaul = pyo.Constraint(expr=pyo.quicksum(float(cd.bits[i]) * m.alpha[i] for i in used)
                                    <= cd.fam.backhaul_capacity_bits / 1e6)


def define_min_rate(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Minimum rate: ``C_k >= min_rate`` [Mbit/s] for every user with tasks."""
    lo = cd.fam.min_rate_bps / 1e6
    m.min_rate = pyo.Constraint(range(cd.n_user), rule=lambda _m, k: m.C[k] >= lo)


def objective_offset(cd: CellData) -> float:
    """Constant subtracted from the objective [ms]: each task's fastest allowed generation
    with one edge task (a lower bound on its generation), so the model objective is close to
    the z-dependent part and the MIP gap tolerances act on it."""
    g_e = np.where(cd.allow_edge, cd.g_edge, np.inf)
    g_c = np.where(cd.allow_cloud, cd.g_cloud, np.inf)
    return float(np.minimum(g_e, g_c).sum())


def define_objective(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Objective (4) plus the soft-SLO penalty, minus :func:`objective_offset` [ms]."""
    pen = 0.0
    if cd.fam.slo == "soft":
        pen = cd.fam.slo_weight * pyo.quicksum(m.p[i] for i in m.p)
    m.offset = objective_offset(cd)
    m.obj = pyo.Objective(expr=pyo.quicksum(m.t[i] for i in range(cd.n_task)) + pen - m.offset)


def build(cd: CellData, alpha_fixed: np.ndarray | None = None,
          families: Iterable[str] | None = None) -> pyo.ConcreteModel:
    """Build the cell model (without tangent cuts; see :func:`add_tangents`).

    Parameters
    ----------
    cd : CellData
    alpha_fixed : ndarray of bool, optional
        Fix ``alpha`` (uncoupled problems, where it is the closed-form optimum).
    families : iterable of str, optional
        Families to include (names of :attr:`Families.active`); default all active ones.
        The diagnosis builds models with one family at a time.
    """
    fams = set(cd.fam.active if families is None else families)
    m = pyo.ConcreteModel(name=f"cell{cd.cell}")
    define_allocation(m, cd)
    define_offloading(m, cd, alpha_fixed)
    define_generation(m, cd)
    define_transmission(m, cd)
    define_delay(m, cd)
    if "slo_soft" in fams:
        define_slo_soft(m, cd)
    if "slo_hard" in fams:
        define_slo_hard(m, cd)
    if "kv" in fams:
        define_kv(m, cd)
    if "backhaul" in fams:
        define_backhaul(m, cd)
    if "min_rate" in fams:
        define_min_rate(m, cd)
    define_objective(m, cd)
    return m
