"""What training produces: the agent, a per-decision log, and the convergence point.

Convergence is measured on the greedy policy, not on the exploring one: at every training
decision the agent's greedy action (before any exploration) is recorded with the reward each
action had (the chosen one from the evaluator, the other from the evaluator on the flipped
decision). The greedy regret of a decision is ``max(rewards) - rewards[greedy]`` [s]. The log
also keeps each decision's reward in the runner step's certified offloading optimum
(:mod:`genoffload.models.reference`, reference (a)); ``optimal_reward`` (the scale of the
convergence threshold) is that reference when it was logged.
**Steps to converge** is the first training decision after which the moving average of the
greedy regret over ``window`` decisions stays below ``tol`` times the mean optimal reward of
the training run, to the end of training (reported also as the runner step of that decision);
``None`` when the last moving average is not below.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

CONVERGENCE_WINDOW = 100
"""Moving-average window of the convergence criterion [decisions]."""
CONVERGENCE_TOL = 0.01
"""Threshold of the convergence criterion, relative to the mean optimal reward [1]."""


@dataclass
class TrainingLog:
    """Per training decision: runner step, greedy action, chosen action, both rewards [s]."""

    step: list[int] = field(default_factory=list)
    greedy: list[int] = field(default_factory=list)
    action: list[int] = field(default_factory=list)
    reward_edge: list[float] = field(default_factory=list)
    reward_cloud: list[float] = field(default_factory=list)
    optimal: list[float] = field(default_factory=list)

    def add(self, step: int, greedy: Any, action: Any, reward_edge: Any, reward_cloud: Any,
            optimal: Any = None) -> None:
        """Append decisions (scalars or equal-length arrays); ``optimal``: the certified
        reference reward of each decision [s] (NaN when not given)."""
        g, a = np.atleast_1d(greedy).astype(int), np.atleast_1d(action).astype(int)
        self.step += [int(step)] * g.size
        self.greedy += g.tolist()
        self.action += a.tolist()
        self.reward_edge += np.atleast_1d(reward_edge).astype(float).tolist()
        self.reward_cloud += np.atleast_1d(reward_cloud).astype(float).tolist()
        self.optimal += (np.full(g.size, np.nan) if optimal is None
                         else np.atleast_1d(optimal).astype(float)).tolist()

    @property
    def decisions(self) -> int:
        return len(self.step)

    def greedy_regret(self) -> np.ndarray:
        """Regret of the greedy action of each decision [s]."""
        r = np.stack([self.reward_edge, self.reward_cloud], axis=1) if self.step else np.zeros((0, 2))
        g = np.asarray(self.greedy, dtype=int)
        return r.max(axis=1) - r[np.arange(g.size), g] if g.size else np.zeros(0)

    def optimal_reward(self) -> np.ndarray:
        """Reward of each decision in the certified reference [s] (where logged; else the
        better of its two actions)."""
        if not self.step:
            return np.zeros(0)
        flip = np.maximum(self.reward_edge, self.reward_cloud)
        ref = np.asarray(self.optimal, dtype=float)
        return np.where(np.isfinite(ref), ref, flip)

    def converged_at(self, window: int = CONVERGENCE_WINDOW,
                     tol: float = CONVERGENCE_TOL) -> tuple[int | None, int | None]:
        """(decision index, runner step) of convergence (module docstring), or (None, None)."""
        regret = self.greedy_regret()
        if regret.size < window:
            return None, None
        moving = np.convolve(regret, np.ones(window) / window, mode="valid")  # index k: ends at k+w-1
        threshold = tol * abs(float(self.optimal_reward().mean()))
        above = np.flatnonzero(moving >= threshold)
        if above.size and above[-1] == moving.size - 1:
            return None, None
        first = (above[-1] + 1 if above.size else 0) + window - 1
        return int(first), int(self.step[first])


@dataclass
class TrainingResult:
    """A trained agent with its training record.

    Attributes
    ----------
    agent : QAgent or DQNAgent
    log : TrainingLog
    steps : int
        Runner steps of training.
    elapsed_s : float [s]
        Wall time of training.
    episode : xarray.Dataset or None
        The training episode of the runner (Q-learning), None for DQN (trained on the env).
    """

    agent: Any
    log: TrainingLog
    steps: int
    elapsed_s: float
    episode: xr.Dataset | None = None

    def summary(self) -> dict[str, Any]:
        """Training figures: steps, decisions, time [s], convergence (decision, runner step)."""
        decision, step = self.log.converged_at()
        return {"algo": self.agent.algo, "steps": self.steps, "decisions": self.log.decisions,
                "time_s": self.elapsed_s, "converged_decision": decision, "converged_step": step,
                "final_greedy_regret": float(self.log.greedy_regret()[-CONVERGENCE_WINDOW:].mean())
                if self.log.decisions else 0.0}
