"""The certified per-step reference of an online episode: what the best decisions would earn.

For every step (one snapshot and the scheduler's allocation ``z``) two optima, each certified:

(a) **offloading optimum given the allocation**, ``alpha* | z``
    (:func:`genoffload.models.offload_given_z.offload_optimum`): the best reward of eq. (10)
    any offloading policy can reach under the scheduler's RBs, with the step's coupling
    families, penalties of violated hard constraints included. Closed form (per-task best of
    edge and cloud) in cells where decisions cannot interact, a MILP in the others.
(b) **joint optimum** ``(z*, alpha*)``: the best allocation and offloading together. Closed form
    for ``z`` when every cell has at most one user with tasks (that user gets every RB: more
    capacity never hurts), then (a) at that allocation. Otherwise first a cheap certificate:
    (a) with every user given the capacity of *all* RBs at once (a relaxation of the OFDMA
    constraint, so an upper bound on any allocation's reward) against (a) at the scheduler's
    allocation (reached); when the two are within ``tol_s`` per task the step's joint
    optimum is (a) at the scheduler's allocation with that certified gap (text content is a few
    kbit, so its radio delay rarely leaves room). Else the exact solver of problem (4)
    (:func:`genoffload.models.solve`, hard constraints enforced) through its public API.
    When (a) earns more than (4)'s optimum (a penalised choice under ``z`` beating every
    feasible one), (b) is taken as (a); when (4) is infeasible, (b) is (a) with status
    ``infeasible``.

The regret of a policy then splits into ``(a) - reward`` (offloading decisions) and
``(b) - (a)`` (radio allocation). Both are certified up to the reported gaps [s]: a policy's
reward can exceed (a) by at most (a)'s gap.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import xarray as xr

from genoffload import delay
from genoffload.episode import EpisodeConfig, run_episode
from genoffload.families import Families
from genoffload.models.diagnose import InfeasibleError
from genoffload.models.offload_given_z import OffloadOptimum, OffloadSolver, offload_optimum
from genoffload.models.solve import solve
from genoffload.policy import OnlinePolicy
from genoffload.scenario import ScenarioConfig

Mode = Literal["joint", "offload", "none"]
JOINT_CACHE_SIZE = 2048
_JOINT_CACHE: OrderedDict[bytes, JointOptimum] = OrderedDict()
"""Joint optima by step fingerprint, shared by the episodes of a process (the cells of one case
and seed in a study see the same steps)."""


@dataclass
class JointOptimum:
    """The joint optimum ``(z*, alpha*)`` of one step.

    Attributes
    ----------
    alpha : ndarray of bool, shape (task,)
    reward : ndarray, shape (task,) [s]
        Each task's reward of eq. (10) at the optimum (the evaluator's).
    gap : float [s]
        Certified gap of the step's total reward (closed form: that of (a) at ``z*``; solver:
        its ``gap_abs``).
    status : str
        ``optimal``, the solver's status (``time_limit``...) or ``infeasible``.
    method : str
        ``closed-form``, ``bound`` (the relaxation certificate), ``solver``, ``offload`` ((a)
        was better than (4)'s optimum) or ``infeasible``.
    """

    alpha: np.ndarray
    reward: np.ndarray
    gap: float
    status: str
    method: str


@dataclass
class StepReference:
    """Both references of one step and the time they took [s]."""

    offload: OffloadOptimum
    joint: JointOptimum | None
    time_s: float
    joint_s: float


def _fingerprint(scenario: xr.Dataset) -> bytes:
    h = hashlib.blake2b(digest_size=16)
    for name in ("rate", "task_user", "user_cell", "units", "content_bits", "ttft_edge", "tpot_edge",
                 "ttft_cloud", "tpot_cloud", "quality_req", "quality_edge", "quality_cloud"):
        h.update(np.ascontiguousarray(scenario[name].values).tobytes())
    if "deadline" in scenario:
        h.update(np.ascontiguousarray(scenario["deadline"].values).tobytes())
    h.update(repr(sorted((k, str(v)) for k, v in scenario.attrs.items() if k != "config")).encode())
    return h.digest()


def full_allocation(scenario: xr.Dataset) -> np.ndarray | None:
    """``z*`` in closed form when every cell has at most one user with tasks, else None.

    That user gets every RB with a positive rate: a larger capacity lowers its radio delay
    (eqs. 1, 2) and can only help the SLO and minimum-rate families.
    """
    owner = np.asarray(scenario["task_user"].values)
    users = np.unique(owner)
    cells = np.asarray(scenario["user_cell"].values)[users]
    if np.unique(cells).size < users.size:
        return None
    z = np.zeros((scenario.sizes["user"], scenario.sizes["rb"]), dtype=bool)
    z[users] = np.asarray(scenario["rate"].values)[users] > 0
    return z


def relaxed_capacity(scenario: xr.Dataset) -> tuple[xr.Dataset, np.ndarray] | None:
    """A scenario and allocation giving every user with tasks the capacity of all its RBs.

    Each such user gets one RB of its own carrying its total rate ``sum_q r[k, q]`` (eq. 2),
    so every user sees the largest capacity any allocation could give it: (a) on it bounds
    the reward of every allocation. None when there are more such users than RBs.
    """
    users = np.unique(np.asarray(scenario["task_user"].values))
    if users.size > scenario.sizes["rb"]:
        return None
    rate = np.asarray(scenario["rate"].values, dtype=float)
    new = np.zeros_like(rate)
    z = np.zeros(rate.shape, dtype=bool)
    slots = np.arange(users.size)
    new[users, slots] = rate[users].sum(axis=1)
    z[users, slots] = True
    return scenario.assign(rate=(scenario["rate"].dims, new, scenario["rate"].attrs)), z


def _radio(scenario: xr.Dataset, capacity: np.ndarray) -> np.ndarray:
    """Radio delay of each task [s] (eq. 1) for user capacities [bit/s]."""
    owner = np.asarray(scenario["task_user"].values)
    return delay.radio_delay(scenario["content_bits"].values, capacity[owner])


def _separable(scenario: xr.Dataset, z: np.ndarray, offload: OffloadOptimum,
               z_full: np.ndarray | None, tol_s: float) -> JointOptimum | None:
    """(b) by arithmetic when the allocation and the offloading do not interact, else None.

    Store-and-forward delivery without SLO and minimum-rate families: every task's reward is
    ``T - t^radio(z) - (terms of alpha only)``, so ``alpha*`` of (a) is optimal for every
    allocation and (b) = (a) + the radio delay an allocation saves against ``z``: exact with
    ``z_full``; bounded with every user at the capacity of all its RBs (accepted when the
    bound is within ``tol_s`` per task).
    """
    fam = Families.from_attrs(scenario.attrs)
    if scenario.attrs["delivery"] != "store-and-forward" or fam.slo != "off" or fam.min_rate_bps > 0:
        return None
    rate = np.asarray(scenario["rate"].values, dtype=float)
    now = _radio(scenario, delay.link_capacity(rate, z))
    if not np.isfinite(now).all():
        return None
    if z_full is not None:
        saved = now - _radio(scenario, delay.link_capacity(rate, z_full))
        return JointOptimum(offload.alpha, offload.reward + saved, offload.gap, offload.status,
                            "closed-form")
    best = _radio(scenario, rate.sum(axis=1))
    gap = offload.gap + float((now - best).sum())
    if gap <= tol_s * scenario.sizes["task"]:
        return JointOptimum(offload.alpha, offload.reward, gap, offload.status, "bound")
    return None


class Reference:
    """Computes :class:`StepReference` for the steps of one episode (keep one per episode).

    Parameters
    ----------
    mode : {"joint", "offload", "none"}
        Which references to compute: both, (a) only, or none.
    gap : float
        Target gap of the exact solver for (b), relative to its radio part [1].
    time_limit : float, optional
        Wall-clock limit of one exact solve [s] (then its status says ``time_limit``).
    tol_s : float
        Certified gap per task [s] up to which the relaxation certificate is accepted for (b)
        instead of an exact solve.
    """

    def __init__(self, mode: Mode = "joint", gap: float = 1e-4,
                 time_limit: float | None = None, tol_s: float = 5e-3) -> None:
        self.mode, self.gap, self.time_limit, self.tol_s = mode, gap, time_limit, tol_s
        self.solver = OffloadSolver(time_limit)
        self._joint_cache = _JOINT_CACHE
        self.joint_solves = 0
        self.joint_cache_hits = 0

    def __call__(self, scenario: xr.Dataset, z: np.ndarray,
                 evaluated: xr.Dataset | None = None) -> StepReference | None:
        """Both references of one step; ``evaluated``: the evaluator's result of the policy's
        decisions under ``z`` (saves an evaluation)."""
        if self.mode == "none":
            return None
        t0 = time.perf_counter()
        a = offload_optimum(scenario, z, self.solver, evaluated)
        t1 = time.perf_counter()
        joint = self.joint(scenario, z, a) if self.mode == "joint" else None
        t2 = time.perf_counter()
        return StepReference(a, joint, t2 - t0, t2 - t1)

    def joint(self, scenario: xr.Dataset, z: np.ndarray, offload: OffloadOptimum) -> JointOptimum:
        """The joint optimum of a step, given its (a) at the allocation ``z``."""
        z_full = full_allocation(scenario)
        separable = _separable(scenario, z, offload, z_full, self.tol_s)
        if separable is not None:
            return separable
        if z_full is not None:
            b = offload_optimum(scenario, z_full, self.solver)
            return JointOptimum(b.alpha, b.reward, b.gap, b.status, "closed-form")
        relaxed = relaxed_capacity(scenario)
        if relaxed is not None:
            upper = offload_optimum(*relaxed, self.solver).bound
            gap = upper - float(offload.reward.sum())
            if gap <= self.tol_s * scenario.sizes["task"]:
                return JointOptimum(offload.alpha, offload.reward, max(gap, offload.gap),
                                    offload.status, "bound")
        key = _fingerprint(scenario) + repr((self.gap, self.time_limit)).encode()
        hit = self._joint_cache.get(key)
        if hit is not None:
            self.joint_cache_hits += 1
            self._joint_cache.move_to_end(key)
            out = hit
        else:
            self.joint_solves += 1
            try:
                res = solve(scenario, gap=self.gap, time_limit=self.time_limit, threads=1)
                out = JointOptimum(res.alpha, np.asarray(res.dataset["reward"].values, dtype=float),
                                   float(res.summary.gap_abs), str(res.summary.status), "solver")
            except InfeasibleError:
                out = JointOptimum(offload.alpha, offload.reward, math.nan, "infeasible", "infeasible")
            self._joint_cache[key] = out
            if len(self._joint_cache) > JOINT_CACHE_SIZE:
                self._joint_cache.popitem(last=False)
        if out.method == "solver" and offload.reward.sum() > out.reward.sum():
            return JointOptimum(offload.alpha, offload.reward, offload.gap, offload.status, "offload")
        return out

    @classmethod
    def for_config(cls, config: EpisodeConfig) -> Reference:
        """The reference an episode's config asks for (``reference``, ``reference_gap``,
        ``reference_tol_s``)."""
        return cls(config.reference, config.reference_gap, tol_s=config.reference_tol_s)


def run_certified_episode(base: ScenarioConfig, policy: OnlinePolicy, config: EpisodeConfig,
                          progress: Callable[[int, dict[str, float]], None] | None = None) -> xr.Dataset:
    """:func:`genoffload.episode.run_episode` with the certified per-step reference of ``config``."""
    ref = Reference.for_config(config) if config.reference != "none" else None
    return run_episode(base, policy, config, progress, reference=ref)


__all__ = ["JointOptimum", "Reference", "StepReference", "full_allocation", "relaxed_capacity",
           "run_certified_episode"]
