"""Exact Snake Learning planner: contiguous layer segments and visiting order (Pyomo + HiGHS).

The plan assigns to each node ``m`` one contiguous segment ``[a, b]`` of the trainable layers;
segments partition the trainable layers and nodes are visited in the order of their segments.
Because the Snake round of eq. (S9) is the sum of per-node terms that depend only on the node
and its segment (eqs. S1, S6, S7), the problem is a set partitioning MILP over the columns
``s[m, a, b]`` in {0, 1}:

    min  sum_{m,a,b} c[m,a,b] s[m,a,b]
    s.t. sum_{a,b} s[m,a,b] = 1            for every node m  (<= 1 when nodes may sit out)
         sum_{m, a<=l<=b} s[m,a,b] = 1     for every trainable layer l
         s[m,a,b] = 0  when M_snake(a, b) > memory_m   (eq. S1: the memory limit)

with ``c`` the node's time (eq. S6, objective ``time``), bytes (eq. S7, ``bytes``) or
``w_time t / t_ref + (1 - w_time) B / B_ref`` (``weighted``). The certified status and the gap
use the words of :mod:`genoffload.models.status`.
"""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

from genoffload.errors import InputError
from genoffload.models.diagnose import InfeasibleError
from genoffload.models.status import Status, map_status
from genoffload.snake.cost import Training, memory_snake, snake_node_bytes, snake_node_time
from genoffload.snake.layers import ModelSpec
from genoffload.snake.nodes import GIB, NodeSet

Objective = Literal["time", "bytes", "weighted"]
MAX_COLUMNS = 2_000_000  # node x segment columns refused above this (before building)


@dataclass
class SnakePlan:
    """A plan and its certificate (times [s], bytes [B], memory [B])."""

    segments: list[tuple[int, int, int]]  # (node, a, b) in visiting order
    objective: float
    bound: float
    gap: float
    status: str
    reason: str
    round_time: float
    round_bytes: float
    memory: np.ndarray  # predicted peak per node (0: not visited)
    solve_s: float
    columns: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def certified(self) -> bool:
        return self.status == Status.OPTIMAL

    def to_dict(self) -> dict[str, Any]:
        return {"segments": [list(s) for s in self.segments], "objective": self.objective,
                "bound": self.bound, "gap": self.gap, "status": self.status, "reason": self.reason,
                "certified": self.certified, "round_time_s": self.round_time,
                "round_bytes": self.round_bytes, "memory_bytes": self.memory.tolist(),
                "solve_s": self.solve_s, "columns": self.columns}


def column_costs(spec: ModelSpec, nodes: NodeSet, tr: Training, objective: Objective = "time",
                 w_time: float = 0.5) -> dict[tuple[int, int, int], tuple[float, float, float, float]]:
    """Every (node, a, b) column that fits the node's memory -> (cost, time [s], bytes [B],
    memory [B])."""
    idx = spec.trainable
    lo, hi = idx[0], idx[-1]
    segs = [(a, b) for a in range(lo, hi + 1) for b in range(a, hi + 1)]
    mem = {(a, b): memory_snake(spec, a, b, tr) for a, b in segs}
    raw = {}
    for m in range(nodes.n):
        for a, b in segs:
            if mem[a, b] <= nodes.memory[m]:
                raw[m, a, b] = (snake_node_time(spec, nodes, m, a, b, tr),
                                snake_node_bytes(spec, a, b, tr), mem[a, b])
    if not raw:
        return {}
    t_ref = max(v[0] for v in raw.values()) or 1.0
    b_ref = max(v[1] for v in raw.values()) or 1.0
    out = {}
    for key, (t, by, mm) in raw.items():
        cost = {"time": t, "bytes": by, "weighted": w_time * t / t_ref + (1 - w_time) * by / b_ref}[objective]
        out[key] = (cost, t, by, mm)
    return out


def _diagnose(spec: ModelSpec, nodes: NodeSet, tr: Training, cols: dict, require_all: bool) -> None:
    """One line naming the node and the segment that cannot be placed (InfeasibleError)."""
    idx = spec.trainable
    if require_all and nodes.n > len(idx):
        raise InputError("nodes.count", nodes.n, f"more nodes than trainable layers ({len(idx)})")
    if require_all:
        for m in range(nodes.n):
            if not any(k[0] == m for k in cols):
                best = min((memory_snake(spec, i, i, tr), i) for i in idx)
                raise InfeasibleError("memory", f"node {m} ({nodes.memory[m] / GIB:.3g} GiB) holds no "
                                      f"segment: the smallest, [{best[1]}, {best[1]}] "
                                      f"({spec.layers[best[1]].name}), needs {best[0] / GIB:.3g} GiB")
    for i in idx:
        if not any(k[1] <= i <= k[2] for k in cols):
            m = int(np.argmax(nodes.memory))
            need = memory_snake(spec, i, i, tr)
            raise InfeasibleError("memory", f"segment [{i}, {i}] ({spec.layers[i].name}) fits no node: "
                                  f"needs {need / GIB:.3g} GiB, the largest, node {m}, has "
                                  f"{nodes.memory[m] / GIB:.3g} GiB")


def plan(spec: ModelSpec, nodes: NodeSet, tr: Training | None = None, *, objective: Objective = "time",
         w_time: float = 0.5, require_all: bool = True, gap: float = 1e-6, threads: int = 1,
         time_limit: float | None = None) -> SnakePlan:
    """The optimal Snake plan (certified by HiGHS's dual bound).

    Parameters
    ----------
    spec, nodes, tr
        Model, nodes and how they train (:class:`~genoffload.snake.cost.Training`).
    objective : {"time", "bytes", "weighted"}
        Round time [s] (eq. S9), bytes [B] or the weighted sum of both, each over its largest
        column value.
    require_all : bool
        Every node trains a segment (default); otherwise nodes may sit out.
    gap : float [1]
        Relative gap to certify.

    Raises
    ------
    InfeasibleError
        No node can hold some segment (the message names the node and the segment).
    """
    tr = tr or Training()
    if objective not in ("time", "bytes", "weighted"):
        raise InputError("objective", objective, "must be time, bytes or weighted")
    if not 0.0 <= w_time <= 1.0:
        raise InputError("w_time", w_time, "must be in [0, 1]")
    if not spec.trainable:
        raise InputError("model", spec.name, "has no trainable layer")
    n_seg = len(spec.trainable) * (len(spec.trainable) + 1) // 2
    if nodes.n * n_seg > MAX_COLUMNS:
        raise InputError("nodes.count", nodes.n, f"x {n_seg} segments exceeds {MAX_COLUMNS} columns")
    t0 = time.perf_counter()
    cols = column_costs(spec, nodes, tr, objective, w_time)
    _diagnose(spec, nodes, tr, cols, require_all)
    m = pyo.ConcreteModel()
    keys = sorted(cols)
    m.s = pyo.Var(range(len(keys)), domain=pyo.Binary)
    by_node: dict[int, list[int]] = {}
    by_layer: dict[int, list[int]] = {i: [] for i in spec.trainable}
    for j, (n, a, b) in enumerate(keys):
        by_node.setdefault(n, []).append(j)
        for i in range(a, b + 1):
            by_layer[i].append(j)
    m.node = pyo.ConstraintList()
    for n in range(nodes.n):
        terms = sum(m.s[j] for j in by_node.get(n, []))
        if require_all:
            m.node.add(terms == 1)
        elif by_node.get(n):
            m.node.add(terms <= 1)
    m.layer = pyo.ConstraintList()
    for i in spec.trainable:
        m.layer.add(sum(m.s[j] for j in by_layer[i]) == 1)
    scale = max(abs(c[0]) for c in cols.values()) or 1.0
    m.obj = pyo.Objective(expr=sum(cols[k][0] / scale * m.s[j] for j, k in enumerate(keys)))
    opt = Highs()
    res = opt.solve(m, threads=threads, time_limit=time_limit, rel_gap=gap, load_solutions=False,
                    raise_exception_on_nonoptimal_result=False)
    st = map_status(res.termination_condition)
    if st == Status.INFEASIBLE:
        raise InfeasibleError("memory", f"no assignment of {len(spec.trainable)} layers to "
                              f"{nodes.n} nodes in contiguous segments fits every node's memory")
    if res.incumbent_objective is None:
        return _empty(nodes, st, f"HiGHS ended with {res.termination_condition.name} and no plan",
                      time.perf_counter() - t0, len(keys))
    res.solution_loader.load_vars()
    chosen = sorted((keys[j] for j in range(len(keys)) if pyo.value(m.s[j]) > 0.5), key=lambda k: k[1])
    obj = sum(cols[k][0] for k in chosen)
    bound = float(res.objective_bound) * scale if res.objective_bound is not None else -math.inf
    bound = min(bound, obj)
    rel = (obj - bound) / max(abs(obj), 1e-300)
    reason = ""
    if st == Status.OPTIMAL and rel > gap * (1 + 1e-9) + 1e-12:
        st, reason = Status.NUMERICAL, f"HiGHS's gap {rel:.2e} exceeds the requested {gap:.2e}"
    elif st != Status.OPTIMAL:
        reason = f"HiGHS ended with {res.termination_condition.name}, gap {rel:.2e}"
    return _result(chosen, cols, nodes, obj, bound, rel, st, reason, time.perf_counter() - t0, len(keys))


def _result(chosen: list, cols: dict, nodes: NodeSet, obj: float, bound: float, rel: float, st: Status,
            reason: str, secs: float, n_cols: int) -> SnakePlan:
    mem = np.zeros(nodes.n)
    for k in chosen:
        mem[k[0]] = cols[k][3]
    return SnakePlan([(int(k[0]), int(k[1]), int(k[2])) for k in chosen], float(obj), float(bound),
                     float(rel), str(st), reason, float(sum(cols[k][1] for k in chosen)),
                     float(sum(cols[k][2] for k in chosen)), mem, secs, n_cols)


def _empty(nodes: NodeSet, st: Status, reason: str, secs: float, n_cols: int) -> SnakePlan:
    return SnakePlan([], math.inf, -math.inf, math.inf, str(st), reason, math.inf, math.inf,
                     np.zeros(nodes.n), secs, n_cols)


def brute_force(spec: ModelSpec, nodes: NodeSet, tr: Training | None = None, *,
                objective: Objective = "time", w_time: float = 0.5,
                require_all: bool = True) -> tuple[float, list[tuple[int, int, int]]] | None:
    """Best plan by enumeration of every partition into contiguous segments and every
    injective assignment of nodes to them (tiny cases only); None when nothing fits."""
    tr = tr or Training()
    cols = column_costs(spec, nodes, tr, objective, w_time)
    idx = spec.trainable
    best: tuple[float, list[tuple[int, int, int]]] | None = None
    counts = [nodes.n] if require_all else range(1, min(nodes.n, len(idx)) + 1)
    for k in counts:
        if k > len(idx):
            continue
        for cuts in itertools.combinations(range(1, len(idx)), k - 1):
            bounds = [0, *cuts, len(idx)]
            segs = [(idx[bounds[i]], idx[bounds[i + 1] - 1]) for i in range(k)]
            for who in itertools.permutations(range(nodes.n), k):
                plan_ = [(who[i], *segs[i]) for i in range(k)]
                if all(p in cols for p in plan_):
                    cost = sum(cols[p][0] for p in plan_)
                    if best is None or cost < best[0] - 1e-15:
                        best = (cost, plan_)
    return best


__all__ = ["MAX_COLUMNS", "SnakePlan", "brute_force", "column_costs", "plan"]
