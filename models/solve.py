"""Exact solution of problem (4): per-cell outer approximation with HiGHS (Pyomo persistent).

Per cell: a PF + quality-rule incumbent improved by local search; the MILP of
:mod:`genoffload.models.joint` with tangents of ``1000 / C`` on a geometric grid and at the
incumbent's capacities; HiGHS (``pyomo.contrib.solver`` persistent interface, warm-started,
presolve and the root reduced-cost heuristic off) re-solved after adding tangents at the
capacities of every improving MILP solution of the round. HiGHS callbacks evaluate each
improving solution exactly and interrupt HiGHS as soon as the stopping rule holds. The lower
bound is HiGHS's dual bound, the upper bound the evaluator's objective at the incumbent; the
loop stops when their difference is at most ``gap`` times the z-dependent part (the
evaluator's ``radio_part``). See docs/solver.md for the measurements behind the settings.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import xarray as xr

from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.models import data, diagnose, joint
from genoffload.models import highs_adapter as hx
from genoffload.models.result import CellSummary, SolveResult, SolveSummary, overall_status
from genoffload.models.status import Status, map_status, milp_ending, outcome
from genoffload.rules import quality_rule
from genoffload.schedulers import proportional_fair

COARSE_RATIO = 2.0  # ratio of the coarse grid from the smallest rate to C_max [1]
NEIGHBOURS = 3  # per user, tangents at the capacities one RB move away from the incumbent's:
# without each of its RBs and with each of its NEIGHBOURS best free ones (measured, issue 10)
MAX_ROUNDS = 60
STALL_ROUNDS = 4  # rounds without a new tangent nor a better bound before "numerical"
USE_CALLBACKS = True  # certify inside HiGHS (interrupt) and cut at every improving solution
CERT_MARGIN = 1e-6  # cells certify gap * (1 - margin), so that the summed gap stays <= gap
ZERO_RADIO_TOL_MS = 1e-6  # certified UB - LB of a cell without a z-dependent part [ms]
# HiGHS options (measured, docs/solver.md): presolve re-runs on every OA round and its
# reductions trigger root restarts; the root reduced-cost sub-MIP heuristic dominated the time.
HIGHS_OPTIONS: dict[str, Any] = {"presolve": "off", "mip_heuristic_run_root_reduced_cost": False}
# HiGHS's integrality tolerance lets z be 1e-6 off 0/1, which moves a radio delay by about as
# much relatively: below the default gap, tighter gaps tighten it (gap / 10).
MIP_FEAS_TOL = 1e-6
# Documented limits (docs/solver.md): larger cells are refused before a model is built.
MAX_USERS_PER_CELL = 200  # users with tasks
MAX_TASKS_PER_CELL = 1000
MAX_RBS = 275


def _grid(anchor: float, low: float, cmax: float, center: float) -> list[float]:
    """Tangent points [Mbit/s]: a coarse geometric grid from ``anchor`` (the smallest positive
    rate) to ``cmax``, kept from ``low`` up (a tangent left of ``low`` is dominated by one at
    ``low`` where ``C >= low``), and one at ``center`` (the incumbent's capacity; no finer grid
    around it: measured slower)."""
    n = max(1, math.ceil(math.log(cmax / anchor) / math.log(COARSE_RATIO)))
    grid = np.geomspace(anchor, cmax, n + 1)
    pts = set(grid[grid >= low].tolist())
    if center > 0:
        pts.add(center)
    return sorted(pts)


def _neighbours(cd: data.CellData, z: np.ndarray, k: int, low: float, cmax: float) -> set[float]:
    """Capacities [Mbit/s] of user ``k`` one RB move away from allocation ``z``: without each
    of its RBs, and with each of its :data:`NEIGHBOURS` best free ones (within [low, cmax])."""
    cap = float(cd.rate[k] @ z[k])
    free = np.flatnonzero(~z[k] & (cd.rate[k] > 0))
    best = free[np.argsort(-cd.rate[k][free])[:NEIGHBOURS]]
    near = np.concatenate([cap - cd.rate[k][z[k]], cap + cd.rate[k][best]])
    return {float(c) for c in near if low <= c <= cmax}


class _CellSolver:
    """State of the outer-approximation loop for one cell (times [ms] unless noted)."""

    def __init__(self, cd: data.CellData, threads: int) -> None:
        self.cd, self.threads = cd, threads
        self.fixed = None if cd.coupled else cd.alpha_closed_form()
        self.times = {"heuristic_s": 0.0, "build_s": 0.0, "transfer_s": 0.0, "solve_s": 0.0,
                      "extract_s": 0.0}
        self.points: dict[int, list[float]] = {}
        self.n_cuts = 0
        self.gap, self.cert_lb = 0.0, -math.inf
        self.pending: list[np.ndarray] = []  # capacities of MILP solutions without tangents
        self.cb_error: Exception | None = None
        self.reason = ""

    def incumbent(self, z0: np.ndarray, a0: np.ndarray) -> None:
        t = time.perf_counter()
        cd = self.cd
        a = self.fixed if self.fixed is not None else data.repair_alpha(cd, a0)
        z = data.local_search(cd, z0, a)
        if self.fixed is None:
            for _ in range(3):
                a2 = data.improve_alpha(cd, z, a)
                z2 = data.local_search(cd, z, a2)
                if data.cell_cost(cd, z2, a2)[0] >= data.cell_cost(cd, z, a)[0]:
                    break
                z, a = z2, a2
        self.z, self.a = z, a
        self.ub, self.radio = data.cell_cost(cd, z, a)
        self.times["heuristic_s"] += time.perf_counter() - t

    def build(self) -> None:
        """The model with capacity bounds from the incumbent (:func:`joint.capacity_bounds`)
        and tangents on a geometric grid over each user's possible range plus one at the
        incumbent's capacity."""
        t = time.perf_counter()
        cd = self.cd
        budget = self.ub - joint.objective_offset(cd) if math.isfinite(self.ub) else None
        self.m = m = joint.build(cd, self.fixed, budget=budget)
        cap = (cd.rate * self.z).sum(axis=1)
        for k in m.radio_users:
            anchor = float(cd.rate[k][cd.rate[k] > 0].min())
            lo, hi = max(float(m.c_low[k]) * m.rho[k], anchor), float(cd.rate[k].sum())
            self.points[k] = _grid(anchor, lo, hi, float(cap[k]))
            if NEIGHBOURS:
                self.points[k] = sorted(set(self.points[k]) | _neighbours(cd, self.z, k, lo, hi))
            self.n_cuts += len(joint.add_tangents(m, k, self.points[k]))
        self.zvars = [m.z[k, q] for k in range(cd.n_user) for q in range(cd.n_rb)]
        self.avars = [m.alpha[i] for i in range(cd.n_task)]
        self.times["build_s"] += time.perf_counter() - t
        t = time.perf_counter()
        self.opt = hx.persistent(m)
        self.times["transfer_s"] += time.perf_counter() - t

    def _ms(self, x: float) -> float:
        """Model objective value -> objective [ms]."""
        return x / self.m.obj_scale + self.m.offset

    def _columns(self) -> None:
        """HiGHS column of every z and alpha (-1: not a column) and the fixed values."""
        vs = self.zvars + self.avars
        self.cols = hx.columns(self.opt, vs)
        self.colvals = np.array([float(v.value) if v.fixed and v.value is not None else 0.0
                                 for v in vs])

    def _decode(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(z, alpha) of a HiGHS column vector."""
        vals = np.where(self.cols >= 0, x[np.maximum(self.cols, 0)], self.colvals) > 0.5
        nz = self.cd.n_user * self.cd.n_rb
        return vals[:nz].reshape(self.z.shape), vals[nz:]

    def _consider(self, z: np.ndarray, a: np.ndarray) -> None:
        """Evaluate an integer solution exactly; keep it if better; queue its capacities."""
        cost, radio = data.cell_cost(self.cd, z, a)
        if cost < self.ub:
            self.z, self.a, self.ub, self.radio = z, a, cost, radio
        self.pending.append((self.cd.rate * z).sum(axis=1))

    def _target(self) -> float:
        """Largest certified ``UB - LB`` [ms]: ``gap (1 - CERT_MARGIN) radio_part``."""
        return self.gap * (1 - CERT_MARGIN) * self.radio if math.isfinite(self.radio) else 0.0

    def _certified(self, lb: float) -> bool:
        """The stopping rule ``UB - LB <= gap * radio_part`` (a cell without a z-dependent
        part: ``UB - LB`` within 1 ns); never with an infeasible UB."""
        if not math.isfinite(self.ub):
            return False
        if self.radio <= 0:
            return self.ub - lb <= ZERO_RADIO_TOL_MS
        return self.ub - lb <= self._target()

    def _gap(self, lb: float) -> float:
        """``(UB - LB) / radio_part`` [1] (inf without a feasible UB)."""
        if not math.isfinite(self.ub) or not math.isfinite(lb):
            return math.inf
        return max(self.ub - lb, 0.0) / self.radio if self.radio > 0 else 0.0

    def _on_solution(self, e: Any) -> None:  # HiGHS callback: improving MILP solution
        try:
            self._consider(*self._decode(np.asarray(e.data_out.mip_solution)))
        except Exception as exc:  # never raise into HiGHS
            self.cb_error = exc

    def _on_interrupt(self, e: Any) -> None:  # HiGHS callback: stop once certified
        lb = self._ms(float(e.data_out.mip_dual_bound))
        if self._certified(lb) and lb <= self.ub + self._tol():
            self.cert_lb = max(self.cert_lb, lb)
            e.interrupt()

    def _tol(self) -> float:
        """How far [ms] HiGHS's dual bound may exceed the exact UB (its MIP tolerances)."""
        return 1e-6 / self.m.obj_scale + 1e-9 * abs(self.ub)

    def _warm_start(self) -> None:
        """Hand the incumbent's integer values to HiGHS (it completes the continuous part)."""
        if not math.isfinite(self.ub):
            return
        vals = np.concatenate([self.z.ravel(), self.a]).astype(float)
        sel = self.cols >= 0
        hx.set_solution(self.opt, self.cols[sel], vals[sel])

    def run(self, gap: float, deadline: float) -> tuple[Status, float, int]:
        """Outer-approximation loop; returns (status, lower bound [ms], rounds); the reason
        of a status other than ``optimal`` is in ``self.reason``."""
        self.gap, self.cert_lb = gap, -math.inf
        self.pending, self.cb_error = [], None
        self._columns()
        if not USE_CALLBACKS:
            return self._loop(deadline)
        with hx.own_interrupts_quiet(), hx.callbacks(self.opt, self._on_solution,
                                                     self._on_interrupt):
            return self._loop(deadline)

    def _end(self, name: str, lb: float, rounds: int, **fields: Any) -> tuple[Status, float, int]:
        status, self.reason = outcome(name, gap=self._gap(lb), target=self.gap, rounds=rounds,
                                      **fields)
        return status, lb, rounds

    def _loop(self, deadline: float) -> tuple[Status, float, int]:
        m = self.m
        lb, rounds, shrink, stalled = -math.inf, 0, 0.5, 0
        refused = hx.rows_refused(self.opt)
        if refused:
            return self._end("rows_refused", lb, rounds, n=refused)
        for rounds in range(1, MAX_ROUNDS + 1):
            left = deadline - time.perf_counter()
            if left <= 0:
                return self._end("deadline", lb, rounds - 1)
            target = self._target() if self.radio > 0 else ZERO_RADIO_TOL_MS
            abs_gap = max(shrink * target * m.obj_scale, 1e-12) if math.isfinite(self.ub) else 1e-6
            self._warm_start()
            t = time.perf_counter()
            res = self.opt.solve(
                m, threads=self.threads, time_limit=left if math.isfinite(left) else None,
                rel_gap=0.0, abs_gap=abs_gap, load_solutions=False,
                raise_exception_on_nonoptimal_result=False,
                solver_options={**HIGHS_OPTIONS, "solve_relaxation": False,
                                "mip_feasibility_tolerance": min(MIP_FEAS_TOL, 0.1 * self.gap)})
            self.times["solve_s"] += time.perf_counter() - t
            t = time.perf_counter()
            if self.cb_error is not None:
                raise self.cb_error
            st = map_status(res.termination_condition)
            certified = self.cert_lb > -math.inf
            if st == Status.INFEASIBLE and not certified:
                if math.isfinite(self.ub):
                    return self._end("false_infeasible", lb, rounds)
                return Status.INFEASIBLE, lb, rounds
            lb_before = lb
            if res.objective_bound is not None and math.isfinite(res.objective_bound):
                lb = max(lb, self._ms(float(res.objective_bound)))
            lb = max(lb, self.cert_lb)
            if res.incumbent_objective is not None and not certified:
                self._consider(*self._decode(hx.column_values(self.opt)))
            new = []
            for cap in self.pending:
                for k in m.radio_users:
                    if cap[k] > 0 and min(abs(p / cap[k] - 1) for p in self.points[k]) > 1e-9:
                        self.points[k].append(float(cap[k]))
                        new += joint.add_tangents(m, k, [float(cap[k])])
            self.pending = []
            self.times["extract_s"] += time.perf_counter() - t
            if math.isfinite(self.ub) and lb > self.ub + self._tol():
                return self._end("bound_above_incumbent", lb, rounds, excess=lb - self.ub)
            lb = min(lb, self.ub)
            if self._certified(lb):
                return self._end("certified", lb, rounds)
            if st != Status.OPTIMAL:
                return self._end(milp_ending(st), lb, rounds, tc=res.termination_condition.name)
            if not new:  # model exact at its solution: only the MIP tolerance is left
                shrink *= 0.1
                stalled = stalled + 1 if lb <= lb_before else 0
                if stalled >= STALL_ROUNDS:
                    return self._end("stalled", lb, rounds)
            t = time.perf_counter()
            self.opt.add_constraints(new)
            self.n_cuts += len(new)
            self.times["transfer_s"] += time.perf_counter() - t
            refused = hx.rows_refused(self.opt)
            if refused:
                return self._end("rows_refused", lb, rounds, n=refused)
        return self._end("round_cap", lb, MAX_ROUNDS)


def _check_options(scenario: xr.Dataset, gap: float, time_limit: float | None,
                   threads: int) -> None:
    if not (isinstance(gap, int | float) and 0 < gap < 1):
        raise InputError("gap", gap, "must be in (0, 1)")
    if time_limit is not None and not (time_limit >= 0):
        raise InputError("time_limit", time_limit, "must be >= 0 seconds")
    if not (isinstance(threads, int) and threads >= 1):
        raise InputError("threads", threads, "must be an integer >= 1")
    if scenario.sizes.get("task", 0) < 1:
        raise InputError("scenario.tasks", 0, "needs at least one task")


def check_size(cells: list[data.CellData]) -> None:
    """Refuse cells beyond the documented limits (:data:`MAX_USERS_PER_CELL`,
    :data:`MAX_TASKS_PER_CELL`, :data:`MAX_RBS`) before any model is built."""
    for cd in cells:
        for what, n, limit in (("users_with_tasks", cd.n_user, MAX_USERS_PER_CELL),
                               ("tasks", cd.n_task, MAX_TASKS_PER_CELL),
                               ("rbs", cd.n_rb, MAX_RBS)):
            if n > limit:
                raise InputError(f"scenario.cell[{cd.cell}].{what}", n,
                                 f"the exact solver is documented for at most {limit} "
                                 "(docs/solver.md)")


def solve(scenario: xr.Dataset, gap: float = 1e-4, time_limit: float | None = None,
          threads: int = 1) -> SolveResult:
    """Solve problem (4) with the active constraint families to a certified gap.

    Parameters
    ----------
    scenario : xarray.Dataset
        A validated scenario with at least one task, within the documented sizes
        (:func:`check_size`).
    gap : float, default 1e-4
        Target gap relative to the z-dependent part of the objective (``radio_part``) [1].
    time_limit : float, optional
        Wall-clock limit [s]; on reaching it the incumbent is returned, status ``time_limit``.
    threads : int, default 1
        HiGHS threads.

    Returns
    -------
    SolveResult
        Status ``optimal`` only if every cell is certified and ``gap`` is at most the
        requested one; otherwise the status and ``reason`` say what happened
        (:mod:`genoffload.models.status`).

    Raises
    ------
    InputError
        Bad options or scenario; :class:`~genoffload.models.diagnose.InfeasibleError` (a
        subclass) when no allocation meets the constraint families.
    """
    _check_options(scenario, gap, time_limit, threads)
    t0 = time.perf_counter()
    deadline = t0 + time_limit if time_limit is not None else math.inf
    cells = data.cell_data(scenario)
    check_size(cells)
    for cd in cells:
        diagnose.quick_checks(cd)
    t = time.perf_counter()
    z_pf = proportional_fair(scenario)
    a_qr = quality_rule(scenario)
    heur_obj = float(evaluate(scenario, z_pf, a_qr).attrs["objective"])
    heur_s = time.perf_counter() - t
    z = np.zeros((scenario.sizes["user"], scenario.sizes["rb"]), dtype=bool)
    alpha = np.zeros(scenario.sizes["task"], dtype=bool)
    summaries: list[CellSummary] = []
    for n, cd in enumerate(cells):
        cs = _CellSolver(cd, threads)
        cs.incumbent(z_pf[cd.users], a_qr[cd.tasks])
        cs.build()
        share = (deadline - time.perf_counter()) / (len(cells) - n)
        status, lb, rounds = cs.run(gap, time.perf_counter() + share)
        if status == Status.INFEASIBLE:
            raise diagnose.diagnose(cd)
        z[cd.users], alpha[cd.tasks] = cs.z, cs.a
        summaries.append(CellSummary(
            cell=cd.cell, users=cd.n_user, tasks=cd.n_task, objective=cs.ub / 1e3,
            bound=lb / 1e3, gap_abs=(cs.ub - lb) / 1e3, radio_part=cs.radio / 1e3,
            status=status.value, iterations=rounds, cuts=cs.n_cuts, reason=cs.reason,
            **cs.times))
    t = time.perf_counter()
    ds = evaluate(scenario, z, alpha)
    extract = time.perf_counter() - t
    obj, radio = float(ds.attrs["objective"]), float(ds.attrs["radio_part"])
    bound = float(sum(c.bound for c in summaries)) + (obj - sum(c.objective for c in summaries))
    gap_abs = max(obj - bound, 0.0)
    zero_tol = len(summaries) * ZERO_RADIO_TOL_MS / 1e3 * (1 + 1e-6)  # [s]
    rel = gap_abs / radio if radio > 0 else (0.0 if gap_abs <= zero_tol else math.inf)
    status, reason = overall_status(summaries, ds, rel, gap)
    summary = SolveSummary(
        objective=obj, bound=bound, gap_abs=gap_abs, gap=rel, radio_part=radio,
        status=status.value, reason=reason, requested_gap=float(gap),
        heuristic_objective=heur_obj,
        heuristic_s=heur_s + sum(c.heuristic_s for c in summaries),
        build_s=sum(c.build_s for c in summaries),
        transfer_s=sum(c.transfer_s for c in summaries),
        solve_s=sum(c.solve_s for c in summaries),
        extract_s=extract + sum(c.extract_s for c in summaries),
        total_s=time.perf_counter() - t0, iterations=max(c.iterations for c in summaries),
        cuts=sum(c.cuts for c in summaries), cells=summaries)
    ds.attrs.update(solver_status=status.value, solver_reason=reason, bound=bound,
                    gap_abs=gap_abs, gap=summary.gap, requested_gap=float(gap),
                    certified=int(summary.certified))
    return SolveResult(ds, summary)


__all__ = ["CellSummary", "SolveResult", "SolveSummary", "Status", "check_size", "map_status",
           "solve"]
