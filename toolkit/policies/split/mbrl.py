"""Model-based split policies: a Gaussian-process surrogate of the quality, actively trained.

Chen et al. (2024) learn the whole reward with an MLP from (noise, split). Here only the
unknown part is learned: ``y = log(PPL / PPL_0)`` of a (state, action), by a scikit-learn
Gaussian process on physical features (log10 of the link's bit-error rate (S10), the erasure
probability, the split, the precision); delay, energy, memory and the load term are known
equations and are composed exactly (:meth:`SplitProblem.reward`). Which real evaluation to make
next is chosen by the surrogate's uncertainty: the (training state, action) whose optimistic
reward (mean + ``kappa`` sigma) exceeds the state's best mean the most.

Policies: ``mbrl-argmax`` (the surrogate's best action, no real evaluation at decision time),
``mbrl-verify`` (own best: the surrogate's top ``k`` actions measured, best one taken; those
real evaluations are counted) and ``mbrl-ppo`` (:mod:`genoffload.policies.split.ppo`).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genoffload.policies.split.baselines import SplitPolicy, register
from genoffload.split.channel import ChannelState, bit_error_rate
from genoffload.split.problem import Action, QualityFn, SplitProblem

Y_CAP = math.log(1e4)
"""Cap of ``log(PPL / PPL_0)`` [1]: a perplexity ratio beyond 10^4 is as bad as any."""


def features(
    problem: SplitProblem, state: ChannelState, action: Action, modulation: str = "qpsk"
) -> list[float]:
    """Surrogate inputs of a (state, action) [1]."""
    split, bits = action
    ber = float(bit_error_rate(state.sinr_db, modulation))
    return [
        math.log10(max(ber, 1e-12)) / 12.0,
        state.erasure,
        split / problem.layers,
        float(bits == 4),
        float(bits == 8),
        float(bits == 16),
        float(split == 0),
    ]


def target(ppl: float, ppl0: float) -> float:
    """``log(PPL / PPL_0)`` capped at :data:`Y_CAP` (``inf`` -> the cap)."""
    if not math.isfinite(ppl) or ppl <= 0:
        return Y_CAP
    return min(math.log(ppl / ppl0), Y_CAP)


@dataclass
class QualitySurrogate:
    """Gaussian process of ``log(PPL / PPL_0)`` over (state, action) features."""

    problem: SplitProblem
    ppl0: float
    modulation: str = "qpsk"
    seed: int = 0
    X: list[list[float]] = field(default_factory=list)
    y: list[float] = field(default_factory=list)
    gp: Any = None

    def add(self, state: ChannelState, action: Action, ppl: float) -> None:
        self.X.append(features(self.problem, state, action, self.modulation))
        self.y.append(target(ppl, self.ppl0))

    def refit(self) -> None:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(7), (1e-2, 1e2)) + WhiteKernel(
            1e-3, (1e-6, 1e0)
        )
        self.gp = GaussianProcessRegressor(
            kernel=kernel, normalize_y=True, n_restarts_optimizer=2, random_state=self.seed
        )
        with warnings.catch_warnings():  # length scales at a bound: an irrelevant feature, fine
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.gp.fit(np.asarray(self.X), np.asarray(self.y))

    def predict(self, state: ChannelState, actions: Sequence[Action]) -> tuple[np.ndarray, np.ndarray]:
        """Mean and standard deviation of ``log(PPL/PPL_0)`` per action (split ``L``: exactly 0)."""
        L = self.problem.layers
        mu, sd = np.zeros(len(actions)), np.zeros(len(actions))
        idx = [i for i, a in enumerate(actions) if a[0] < L]
        if idx and self.gp is not None:
            X = np.asarray([features(self.problem, state, actions[i], self.modulation) for i in idx])
            m, s = self.gp.predict(X, return_std=True)
            mu[idx], sd[idx] = np.clip(m, -1.0, Y_CAP), s
        return mu, sd

    def rewards(self, state: ChannelState, actions: Sequence[Action], kappa: float = 0.0) -> np.ndarray:
        """Predicted reward of each action; ``kappa > 0``: optimistic (quality ``mu - kappa sigma``)."""
        mu, sd = self.predict(state, actions)
        y = mu - kappa * sd
        return np.asarray(
            [
                self.problem.reward(a, state, self.ppl0 * math.exp(v), self.ppl0)
                for a, v in zip(actions, y, strict=True)
            ]
        )


def train_surrogate(
    problem: SplitProblem,
    states: Sequence[ChannelState],
    quality: QualityFn,
    ppl0: float,
    budget: int,
    seed: int = 0,
    kappa: float = 2.0,
    initial: int = 4,
    modulation: str = "qpsk",
) -> tuple[QualitySurrogate, list[tuple[int, Action]]]:
    """Train the surrogate with ``budget`` real evaluations chosen by its uncertainty.

    ``initial`` evaluations are drawn at random (seeded); each next one is the (training state,
    action) with the largest optimistic improvement ``UCB(s, a) - max_a' mean(s, a')``.

    Returns
    -------
    surrogate : QualitySurrogate
    trace : list of (state index, action)
        The real evaluations in order.
    """
    rng = np.random.default_rng(seed)
    actions = [a for a in problem.actions() if a[0] < problem.layers]  # split L is known exactly
    sur = QualitySurrogate(problem, ppl0, modulation, seed)
    done: set[tuple[int, Action]] = set()
    trace: list[tuple[int, Action]] = []

    def spend(i: int, a: Action) -> None:
        sur.add(states[i], a, float(quality(a[0], a[1], states[i])))
        done.add((i, a))
        trace.append((i, a))

    cells = [(i, a) for i in range(len(states)) for a in actions]
    for j in rng.permutation(len(cells))[: min(initial, budget, len(cells))]:
        spend(*cells[int(j)])
    while len(trace) < min(budget, len(cells)):
        sur.refit()
        best_gain, pick = -math.inf, None
        for i, s in enumerate(states):
            mean = sur.rewards(s, actions)
            ucb = sur.rewards(s, actions, kappa)
            top = float(mean.max())
            for k, a in enumerate(actions):
                if (i, a) in done:
                    continue
                gain = float(ucb[k]) - top
                if gain > best_gain:
                    best_gain, pick = gain, (i, a)
        assert pick is not None
        spend(*pick)
    sur.refit()
    return sur, trace


class _Surrogate(SplitPolicy):
    budget: int = 16
    kappa: float = 2.0

    def fit(
        self,
        problem: SplitProblem,
        states: Sequence[ChannelState],
        quality: QualityFn,
        ppl0: float,
        seed: int = 0,
    ) -> SplitPolicy:
        self.problem, self.ppl0 = problem, ppl0
        self.surrogate, self.trace = train_surrogate(
            problem, states, quality, ppl0, self.budget, seed, self.kappa
        )
        self.quality = quality
        return self


@register("mbrl-argmax")
@dataclass
class SurrogateArgmax(_Surrogate):
    """The surrogate's best action in each state (no real evaluation at decision time)."""

    budget: int = 16
    kappa: float = 2.0

    def choose(self, state: ChannelState) -> Action:
        actions = self.problem.actions()
        r = self.surrogate.rewards(state, actions)
        return actions[int(np.argmax(r))]


@register("mbrl-verify")
@dataclass
class SurrogateVerify(_Surrogate):
    """Own best: measure the surrogate's top ``k`` actions in the state, take the best measured.

    The ``k`` real evaluations per decision are counted and join the surrogate's data.
    """

    budget: int = 12
    kappa: float = 2.0
    k: int = 2

    def choose(self, state: ChannelState) -> Action:
        actions = self.problem.actions()
        r = self.surrogate.rewards(state, actions)
        top = [actions[int(i)] for i in np.argsort(-r)[: self.k]]
        measured = {}
        for a in top:
            ppl = float(self.quality(a[0], a[1], state))
            measured[a] = self.problem.reward(a, state, ppl, self.ppl0)
            if a[0] < self.problem.layers:
                self.surrogate.add(state, a, ppl)
        self.surrogate.refit()
        return max(measured, key=lambda a: (measured[a], -a[0], -a[1]))
