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

import enum
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from pyomo.contrib.solver.common.results import TerminationCondition
from pyomo.contrib.solver.solvers.highs import Highs

from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.models import data, diagnose, joint
from genoffload.policies.heuristics import QualityRule
from genoffload.schedulers import proportional_fair

FINE_STEP = 0.01  # relative spacing of the fine tangent grid around the incumbent [1]
FINE_HALF = 0  # fine tangents on each side (0: only at the incumbent; measured fastest)
COARSE_RATIO = 2.0  # ratio of the coarse grid from C_min to C_max [1]
MAX_ROUNDS = 60
SEED_LP_ROUNDS = 0  # Kelley rounds on the LP relaxation before the first MILP (measured: no gain)
SEED_TOL = 1e-3  # relative distance below which an LP capacity gets no new tangent [1]
USE_CALLBACKS = True  # certify inside HiGHS (interrupt) and cut at every improving solution
# HiGHS options (measured, docs/solver.md): presolve re-runs on every OA round and its
# reductions trigger root restarts; the root reduced-cost sub-MIP heuristic dominated the time.
HIGHS_OPTIONS: dict[str, Any] = {"presolve": "off", "mip_heuristic_run_root_reduced_cost": False}


class _OwnInterrupt(logging.Filter):
    """Drop Pyomo's warning about HiGHS's ``kInterrupt`` status: the solver loop interrupts
    HiGHS itself once the gap is certified (see :meth:`_CellSolver._on_interrupt`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


logging.getLogger("pyomo.contrib.solver.solvers.highs").addFilter(_OwnInterrupt())


class Status(enum.StrEnum):
    """Outcome of a solve (never ``optimal`` unless the gap is certified)."""

    OPTIMAL = "optimal"
    TIME_LIMIT = "time_limit"
    INFEASIBLE = "infeasible"
    ERROR = "error"


def map_status(tc: TerminationCondition) -> Status:
    """Map a Pyomo (HiGHS) termination condition to :class:`Status`."""
    if tc == TerminationCondition.convergenceCriteriaSatisfied:
        return Status.OPTIMAL
    if tc in (TerminationCondition.maxTimeLimit, TerminationCondition.iterationLimit,
              TerminationCondition.interrupted, TerminationCondition.objectiveLimit):
        return Status.TIME_LIMIT
    if tc in (TerminationCondition.provenInfeasible, TerminationCondition.locallyInfeasible,
              TerminationCondition.infeasibleOrUnbounded):
        return Status.INFEASIBLE
    return Status.ERROR


@dataclass
class CellSummary:
    """Per-cell outcome (times [s], objective parts [s])."""

    cell: int
    users: int
    tasks: int
    objective: float
    bound: float
    gap_abs: float
    radio_part: float
    status: str
    iterations: int
    cuts: int
    heuristic_s: float = 0.0
    build_s: float = 0.0
    transfer_s: float = 0.0
    solve_s: float = 0.0
    extract_s: float = 0.0


@dataclass
class SolveSummary:
    """Summary of :func:`solve` (objective parts [s], times [s], gap [1])."""

    objective: float
    bound: float
    gap_abs: float
    gap: float
    radio_part: float
    status: str
    heuristic_objective: float
    heuristic_s: float
    build_s: float
    transfer_s: float
    solve_s: float
    extract_s: float
    total_s: float
    iterations: int
    cuts: int
    cells: list[CellSummary] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SolveResult:
    """Solution (the evaluator's Dataset incl. ``z``, ``alpha``) and its summary."""

    dataset: xr.Dataset
    summary: SolveSummary

    @property
    def z(self) -> np.ndarray:
        return np.asarray(self.dataset["z"].values, dtype=bool)

    @property
    def alpha(self) -> np.ndarray:
        return np.asarray(self.dataset["alpha"].values, dtype=bool)

    def to_dict(self) -> dict[str, Any]:
        return self.summary.to_dict()


def _grid(cmin: float, cmax: float, center: float) -> list[float]:
    """Tangent points [Mbit/s]: a coarse geometric grid and a fine one around ``center``."""
    n = max(1, math.ceil(math.log(cmax / cmin) / math.log(COARSE_RATIO)))
    pts = set(np.geomspace(cmin, cmax, n + 1).tolist())
    if center > 0:
        fine = center * (1 + FINE_STEP) ** np.arange(-FINE_HALF, FINE_HALF + 1)
        pts |= set(fine[(fine >= cmin) & (fine <= cmax)].tolist()) | {center}
    return sorted(pts)


class _CellSolver:
    """State of the outer-approximation loop for one cell."""

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
        t = time.perf_counter()
        cd = self.cd
        self.m = m = joint.build(cd, self.fixed)
        cap = (cd.rate * self.z).sum(axis=1)
        for k in m.radio_users:
            pos = cd.rate[k][cd.rate[k] > 0]
            self.points[k] = _grid(float(pos.min()), float(pos.sum()), float(cap[k]))
            self.n_cuts += len(joint.add_tangents(m, k, self.points[k]))
        self.zvars = [m.z[k, q] for k in range(cd.n_user) for q in range(cd.n_rb)]
        self.avars = [m.alpha[i] for i in range(cd.n_task)]
        self.times["build_s"] += time.perf_counter() - t
        t = time.perf_counter()
        self.opt = opt = Highs()
        for key in ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                    "check_for_new_or_removed_params", "check_for_new_objective",
                    "update_constraints", "update_vars", "update_parameters",
                    "update_named_expressions", "update_objective"):
            setattr(opt.config.auto_updates, key, False)
        opt.set_instance(m)
        self.times["transfer_s"] += time.perf_counter() - t

    def _columns(self) -> None:
        """HiGHS column of every z and alpha (-1: not a column) and the fixed values."""
        colmap = self.opt._pyomo_var_to_solver_var_map
        vs = self.zvars + self.avars
        self.cols = np.array([colmap.get(id(v), -1) for v in vs], dtype=np.int64)
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

    def _certified(self, lb: float) -> bool:
        """The stopping rule: ``UB - LB <= gap * radio_part`` plus a numerical floor [ms]
        relative to the model objective (``UB - offset``); never with an infeasible UB."""
        if not math.isfinite(self.ub):
            return False
        floor = max(1e-6, 1e-9 * abs(self.ub - self.m.offset))
        return self.ub - lb <= self.gap * self.radio + floor

    def _on_solution(self, e: Any) -> None:  # HiGHS callback: improving MILP solution
        try:
            self._consider(*self._decode(np.asarray(e.data_out.mip_solution)))
        except Exception as exc:  # never raise into HiGHS
            self.cb_error = exc

    def _on_interrupt(self, e: Any) -> None:  # HiGHS callback: stop once certified
        lb = float(e.data_out.mip_dual_bound) + self.m.offset
        if self._certified(lb):
            self.cert_lb = max(self.cert_lb, lb)
            e.interrupt()

    def _warm_start(self) -> None:
        """Hand the incumbent's integer values to HiGHS (it completes the continuous part)."""
        if not math.isfinite(self.ub):
            return
        vals = np.concatenate([self.z.ravel(), self.a]).astype(float)
        sel = self.cols >= 0
        idx = self.cols[sel].astype(np.int32)
        self.opt._solver_model.setSolution(len(idx), idx, vals[sel])

    def _seed_lp(self, deadline: float) -> None:
        """Kelley rounds on the continuous relaxation: tangents at its capacities ``C*_k``."""
        m = self.m
        cvars = [m.C[k] for k in m.radio_users]
        for _ in range(SEED_LP_ROUNDS):
            if time.perf_counter() >= deadline:
                return
            t = time.perf_counter()
            res = self.opt.solve(m, threads=self.threads, load_solutions=False,
                                 raise_exception_on_nonoptimal_result=False,
                                 solver_options={**HIGHS_OPTIONS, "solve_relaxation": True})
            self.times["solve_s"] += time.perf_counter() - t
            if map_status(res.termination_condition) != Status.OPTIMAL:
                return
            res.solution_loader.load_vars(cvars)
            new = []
            for k, v in zip(m.radio_users, cvars, strict=True):
                c = float(v.value)
                if c > 0 and min(abs(p / c - 1) for p in self.points[k]) > SEED_TOL:
                    self.points[k].append(c)
                    new += joint.add_tangents(m, k, [c])
            if not new:
                return
            self.opt.add_constraints(new)
            self.n_cuts += len(new)

    def run(self, gap: float, deadline: float) -> tuple[Status, float, int]:
        """Outer-approximation loop; returns (status, lower bound [ms], rounds)."""
        self.gap, self.cert_lb = gap, -math.inf
        self.pending, self.cb_error = [], None
        self._columns()
        h = self.opt._solver_model
        if not USE_CALLBACKS:
            return self._loop(deadline)
        h.cbMipImprovingSolution.subscribe(self._on_solution)
        h.cbMipInterrupt.subscribe(self._on_interrupt)
        try:
            return self._loop(deadline)
        finally:
            h.cbMipImprovingSolution.unsubscribe(self._on_solution)
            h.cbMipInterrupt.unsubscribe(self._on_interrupt)

    def _loop(self, deadline: float) -> tuple[Status, float, int]:
        m, gap, h = self.m, self.gap, self.opt._solver_model
        lb, status, rounds = -math.inf, Status.ERROR, 0
        shrink = 0.5
        self._seed_lp(deadline)
        for rounds in range(1, MAX_ROUNDS + 1):
            left = deadline - time.perf_counter()
            if left <= 0:
                status = Status.TIME_LIMIT
                break
            target = gap * self.radio + 1e-6 if math.isfinite(self.radio) else math.inf
            self._warm_start()
            t = time.perf_counter()
            res = self.opt.solve(
                m, threads=self.threads, time_limit=left if math.isfinite(left) else None,
                rel_gap=0.0, abs_gap=max(shrink * target, 1e-9) if math.isfinite(target) else 1e-6,
                load_solutions=False, raise_exception_on_nonoptimal_result=False,
                solver_options={**HIGHS_OPTIONS, "solve_relaxation": False})
            self.times["solve_s"] += time.perf_counter() - t
            t = time.perf_counter()
            if self.cb_error is not None:
                raise self.cb_error
            st = map_status(res.termination_condition)
            certified = self.cert_lb > -math.inf
            if st == Status.INFEASIBLE:
                return st, lb, rounds
            if res.objective_bound is not None and math.isfinite(res.objective_bound):
                lb = max(lb, float(res.objective_bound) + m.offset)
            lb = max(lb, self.cert_lb)
            if res.incumbent_objective is not None and not certified:
                x = np.asarray(h.getSolution().col_value)
                self._consider(*self._decode(x))
            new = []
            for cap in self.pending:
                for k in m.radio_users:
                    if cap[k] > 0 and min(abs(p / cap[k] - 1) for p in self.points[k]) > 1e-9:
                        self.points[k].append(float(cap[k]))
                        new += joint.add_tangents(m, k, [float(cap[k])])
            self.pending = []
            self.times["extract_s"] += time.perf_counter() - t
            if self._certified(lb):
                status = Status.OPTIMAL
                break
            if st != Status.OPTIMAL:
                status = st
                break
            if not new:  # model exact at its solution: only the MIP tolerance is left
                shrink *= 0.1
            t = time.perf_counter()
            self.opt.add_constraints(new)
            self.n_cuts += len(new)
            self.times["transfer_s"] += time.perf_counter() - t
        else:
            status = Status.TIME_LIMIT
        return status, lb, rounds


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


def solve(scenario: xr.Dataset, gap: float = 1e-4, time_limit: float | None = None,
          threads: int = 1) -> SolveResult:
    """Solve problem (4) with the active constraint families to a certified gap.

    Parameters
    ----------
    scenario : xarray.Dataset
        A validated scenario with at least one task.
    gap : float, default 1e-4
        Target gap relative to the z-dependent part of the objective (``radio_part``) [1].
    time_limit : float, optional
        Wall-clock limit [s]; on reaching it the incumbent is returned, status ``time_limit``.
    threads : int, default 1
        HiGHS threads.

    Returns
    -------
    SolveResult

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
    for cd in cells:
        diagnose.quick_checks(cd)
    t = time.perf_counter()
    z_pf = proportional_fair(scenario)
    a_qr = QualityRule().decide(scenario, z_pf).alpha
    heur_obj = float(evaluate(scenario, z_pf, a_qr).attrs["objective"])
    heur_s = time.perf_counter() - t
    z = np.zeros((scenario.sizes["user"], scenario.sizes["rb"]), dtype=bool)
    alpha = np.zeros(scenario.sizes["task"], dtype=bool)
    summaries: list[CellSummary] = []
    statuses = []
    for n, cd in enumerate(cells):
        cs = _CellSolver(cd, threads)
        cs.incumbent(z_pf[cd.users], a_qr[cd.tasks])
        cs.build()
        share = (deadline - time.perf_counter()) / (len(cells) - n)
        status, lb, rounds = cs.run(gap, time.perf_counter() + share)
        if status == Status.INFEASIBLE:
            raise diagnose.diagnose(cd)
        statuses.append(status)
        z[cd.users], alpha[cd.tasks] = cs.z, cs.a
        summaries.append(CellSummary(
            cell=cd.cell, users=cd.n_user, tasks=cd.n_task, objective=cs.ub / 1e3,
            bound=lb / 1e3, gap_abs=(cs.ub - lb) / 1e3, radio_part=cs.radio / 1e3,
            status=status.value, iterations=rounds, cuts=cs.n_cuts, **cs.times))
    t = time.perf_counter()
    ds = evaluate(scenario, z, alpha)
    extract = time.perf_counter() - t
    status = next((s for s in (Status.ERROR, Status.TIME_LIMIT) if s in statuses), Status.OPTIMAL)
    obj, radio = float(ds.attrs["objective"]), float(ds.attrs["radio_part"])
    bound = float(sum(c.bound for c in summaries)) + (obj - sum(c.objective for c in summaries))
    gap_abs = max(obj - bound, 0.0)
    summary = SolveSummary(
        objective=obj, bound=bound, gap_abs=gap_abs,
        gap=gap_abs / radio if radio > 0 else (0.0 if gap_abs <= 1e-9 else math.inf),
        radio_part=radio, status=status.value, heuristic_objective=heur_obj,
        heuristic_s=heur_s + sum(c.heuristic_s for c in summaries),
        build_s=sum(c.build_s for c in summaries),
        transfer_s=sum(c.transfer_s for c in summaries),
        solve_s=sum(c.solve_s for c in summaries),
        extract_s=extract + sum(c.extract_s for c in summaries),
        total_s=time.perf_counter() - t0, iterations=max(c.iterations for c in summaries),
        cuts=sum(c.cuts for c in summaries), cells=summaries)
    ds.attrs.update(solver_status=status.value, bound=bound, gap_abs=gap_abs, gap=summary.gap)
    return SolveResult(ds, summary)


__all__ = ["CellSummary", "SolveResult", "SolveSummary", "Status", "map_status", "solve"]
