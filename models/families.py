"""The MILP side of the optional constraint families: one ``define_*`` per family, by name.

Each :class:`genoffload.families.Family` names its ``define_*`` (``Family.milp``);
:func:`genoffload.models.joint.build` looks it up here with :func:`milp_define` for every active
family, in the registry's order. Units as in :mod:`genoffload.models.joint`: time [ms],
capacity [Mbit/s], content [Mbit], KV memory [GB]. A define may add a soft cost to the
objective by appending a term [ms] to ``m.penalties``. :func:`register_milp_define` adds one
(see "Adding a constraint family" in ``docs/architecture.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pyomo.environ as pyo

from genoffload.errors import InputError
from genoffload.models.data import CellData, min_generation

Define = Callable[[pyo.ConcreteModel, CellData], None]


def capacity_at_least(m: pyo.ConcreteModel, k: int, need: float, on: Any = 1) -> Any:
    """``C_k >= need * on`` [Mbit/s] written in scaled capacity: ``c_k >= (need / rho_k) on``."""
    return m.c[k] >= (need / m.rho[k]) * on


def define_slo_soft(m: pyo.ConcreteModel, cd: CellData) -> None:
    """Soft SLO: penalty ``p_i >= t_i - d_i``, ``p_i >= 0`` [ms], ``slo_weight sum_i p_i`` in
    the objective (``m.penalties``; ``m.p[i] >= m.t[i] - (d_i - g^min_i)``)."""
    late = [i for i in range(cd.n_task) if math.isfinite(cd.deadline[i])]
    g0 = min_generation(cd)
    m.p = pyo.Var(late, bounds=(0.0, None))
    m.p_def = pyo.Constraint(late, rule=lambda _m, i: m.p[i] >= m.t[i] - float(
        cd.deadline[i] - g0[i]))
    m.penalties.append(cd.fam.slo_weight * pyo.quicksum(m.p[i] for i in m.p))


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
            m.slo.add(capacity_at_least(m, k, need_c))
        r_c = need(bits, d - float(cd.g_cloud[i]))
        if cd.allow_cloud[i]:
            if r_c is None:
                m.slo.add(m.alpha[i] == 0)
            elif r_c > 0:
                m.slo.add(capacity_at_least(m, k, r_c, m.alpha[i]))
        if not cd.allow_edge[i]:
            continue
        for lv in levels:
            r_e = need(bits, d - _edge_level(cd, i, lv))
            ind = m.b[lv] if cd.slope > 0 else 1
            if r_e is None:
                m.slo.add(ind - m.alpha[i] <= 0)
            elif r_e > 0:
                m.slo.add(capacity_at_least(m, k, r_e, ind - m.alpha[i]))


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
    m.min_rate = pyo.Constraint(range(cd.n_user), rule=lambda _m, k: capacity_at_least(
        m, k, lo))


_DEFINES: dict[str, Define] = {f.__name__: f for f in (
    define_slo_soft, define_slo_hard, define_kv, define_backhaul, define_min_rate)}


def register_milp_define(define: Define, name: str | None = None) -> Define:
    """Make ``define`` (``(model, cell) -> None``) the MILP side of the family whose
    ``Family.milp`` is ``name`` (default ``define.__name__``); returns it."""
    key = name or define.__name__
    if key in _DEFINES and _DEFINES[key] is not define:
        raise InputError("family.milp", key, "another define_* of this name is registered")
    _DEFINES[key] = define
    return define


def unregister_milp_define(name: str) -> None:
    """Remove a define added by :func:`register_milp_define`."""
    _DEFINES.pop(name, None)


def milp_define(name: str) -> Define:
    """The ``define_*`` of a family (``Family.milp``).

    Raises
    ------
    InputError
        When no define of that name is registered.
    """
    try:
        return _DEFINES[name]
    except KeyError:
        raise InputError("family.milp", name, "no define_* of this name is registered "
                         "(genoffload.models.families.register_milp_define)") from None


__all__ = ["milp_define", "register_milp_define", "unregister_milp_define"]
