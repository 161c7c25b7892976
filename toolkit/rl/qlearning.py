"""Tabular Q-learning (numpy), trained and evaluated through the episode runner.

The state is the discrete observation of :mod:`genoffload.rl.observation` (the paper's eq. 8),
the action local (0) / offload (1), the reward eq. (10) of the task from the evaluator. Update
of a decision ``(s, a, r)`` followed by state ``s'`` (the next task)::

    Q[s, a] += lr * (r + discount * max_a' Q[s', a'] - Q[s, a])

Default ``discount = 0``: a decision does not change what comes next (arrivals, services,
channels and sizes of later tasks are drawn independently of it), so the problem is a
contextual bandit and ``Q[s, a]`` is the expected reward of the decision; a positive
discount only adds the (action-independent) future to both actions, with more variance.
Default learning rate ``None``: ``1 / n(s, a)``, the sample mean of the rewards seen, the
best estimate for a stationary one-step problem; a number gives the classic constant step.

Exploration is epsilon-greedy with a schedule (``constant:EPS``, ``linear:START:FLOOR:N``,
``exp:START:FLOOR:HALFLIFE``, as the ICL policy's) over the number of earlier visits of the
task's state, so a state first seen late is still explored. An exploring task takes the
action never tried in its state when there is one (``explore="untried"``, default, as the ICL
policy), else a fair coin (``"random"``: the textbook rule, with which a state whose first
action paid a positive reward may never try the other one while its epsilon decays).
Exploration draws come from the runner's generator (``Step.rng``), two uniforms per task
whatever the schedule; a greedy agent (evaluation) draws nothing, so it sees the same
scenarios as any rule policy for the same seed. Ties (e.g. a never-visited state) go to local.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from genoffload import __version__
from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.exploration import (
    EXPLORE_CHOICES,
    exploration_draws,
    explore_choice,
    parse_epsilon,
)
from genoffload.io import load_json, write_atomic
from genoffload.models.reference import run_certified_episode
from genoffload.policy import Step, StepDecision
from genoffload.rl.observation import ObservationSpec
from genoffload.rl.options import EnvOptions, env_options
from genoffload.rl.training import TrainingLog, TrainingResult
from genoffload.scenario import ScenarioConfig

FORMAT = "genoffload-q-learning"
DEFAULT_EPSILON = "exp:1:0.02:4"
"""Per-state schedule: explore always at the first visit, half as often every 4 visits, 2 % floor."""


@dataclass(frozen=True)
class QSettings:
    """Learning settings of :class:`QAgent` (see the module docstring).

    Attributes
    ----------
    epsilon : str
        Exploration schedule over the state's earlier visits.
    learning_rate : float or None
        Step size in (0, 1]; None: ``1 / n(s, a)``.
    discount : float
        Discount factor in [0, 1).
    explore : {'untried', 'random'}
        What an exploring task does: the untried action of its state if any, else a coin
        (``untried``); always a coin (``random``).
    """

    epsilon: str = DEFAULT_EPSILON
    learning_rate: float | None = None
    discount: float = 0.0
    explore: str = "untried"

    def __post_init__(self) -> None:
        object.__setattr__(self, "epsilon", parse_epsilon(self.epsilon).spec)
        lr = self.learning_rate
        if lr is not None and not (0 < lr <= 1):
            raise InputError("learning_rate", lr, "must be in (0, 1] (or none for 1/n)")
        if not 0 <= self.discount < 1:
            raise InputError("discount", self.discount, "must be in [0, 1)")
        if self.explore not in EXPLORE_CHOICES:
            raise InputError("explore", self.explore, f"must be one of {', '.join(EXPLORE_CHOICES)}")


class QAgent:
    """A Q table over the observation space, with visit counts and its training record."""

    algo: ClassVar[str] = "q-learning"

    def __init__(self, spec: ObservationSpec, settings: QSettings | None = None,
                 q: np.ndarray | None = None, visits: np.ndarray | None = None,
                 meta: dict[str, Any] | None = None) -> None:
        self.spec = spec
        self.settings = settings or QSettings()
        self.q = np.zeros((spec.n_states, 2)) if q is None else np.asarray(q, dtype=float)
        self.visits = np.zeros((spec.n_states, 2), dtype=np.int64) if visits is None else \
            np.asarray(visits, dtype=np.int64)
        self.meta: dict[str, Any] = dict(meta or {})
        self._schedule = parse_epsilon(self.settings.epsilon)

    def states(self, obs: np.ndarray) -> np.ndarray:
        """Flat state index of each observation row."""
        return self.spec.state_index(obs)

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """Greedy decision of each observation row (True = offload; ties go to local)."""
        s = self.states(obs)
        return self.q[s, 1] > self.q[s, 0]

    def epsilon(self, states: np.ndarray) -> np.ndarray:
        """Exploration probability of each state from its earlier visits."""
        return np.array([self._schedule(int(n)) for n in self.visits[states].sum(axis=1)])

    def update(self, state: int, action: int, reward: float, next_value: float = 0.0) -> None:
        """One Q-learning update; ``next_value`` is ``max_a' Q[s', a']`` (0 when discount is 0)."""
        self.visits[state, action] += 1
        lr = self.settings.learning_rate or 1.0 / self.visits[state, action]
        target = reward + self.settings.discount * next_value
        self.q[state, action] += lr * (target - self.q[state, action])

    # --- files ---------------------------------------------------------------------------
    def save(self, path: Path | str) -> Path:
        """Write the agent atomically as ``.npz``: ``q``, ``visits`` and ``meta`` (JSON text)."""
        meta = {"format": FORMAT, "version": 1, "algo": self.algo, "genoffload_version": __version__,
                "observation": self.spec.to_dict(),
                "observation_space": {"type": "MultiDiscrete", "nvec": list(self.spec.nvec),
                                      "names": list(self.spec.names)},
                "settings": asdict(self.settings), **{k: v for k, v in self.meta.items()
                                                      if k not in ("format", "version")}}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                np.savez(fh, q=self.q, visits=self.visits, meta=np.array(json.dumps(meta)))

        return write_atomic(path, write)

    @classmethod
    def load(cls, path: Path | str) -> QAgent:
        """Read an agent written by :meth:`save`; anything else raises :class:`InputError`."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = load_json(str(data["meta"]), "agent", str(path))
                q, visits = data["q"], data["visits"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise InputError("agent", str(path),
                             f"not a q-learning agent file ({type(err).__name__})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError("agent", str(path), "not a q-learning agent file (unknown format)")
        try:
            spec = ObservationSpec.from_dict(meta["observation"])
            settings = QSettings(**meta["settings"])
        except (KeyError, TypeError) as err:
            raise InputError("agent", str(path), f"corrupt agent file ({err})") from None
        if q.shape != (spec.n_states, 2) or visits.shape != q.shape or not np.isfinite(q).all():
            raise InputError("agent", str(path), f"corrupt agent file (Q table of shape {list(q.shape)} "
                             f"for {spec.n_states} states)")
        extra = {k: v for k, v in meta.items() if k not in ("observation", "observation_space", "settings")}
        return cls(spec, settings, q, visits, extra)

    def online(self) -> QLearningPolicy:
        """A greedy, non-learning online policy of this agent (evaluation)."""
        return QLearningPolicy(self, learn=False)


class QLearningPolicy:
    """Q-learning as an :class:`~genoffload.policy.OnlinePolicy` for ``run_episode``.

    Parameters
    ----------
    agent : QAgent
    learn : bool
        True: epsilon-greedy decisions and updates after each step (training), recorded in
        ``log``; False: greedy decisions only, no random draws, no updates (evaluation).
    """

    name: ClassVar[str] = "q-learning"

    def __init__(self, agent: QAgent, learn: bool = False) -> None:
        self.agent = agent
        self.learn = learn
        self.log = TrainingLog()
        self._states = np.zeros(0, dtype=np.int64)
        self._greedy = np.zeros(0, dtype=bool)
        self._pending: tuple[int, int, float] | None = None

    def act(self, step: Step) -> StepDecision:
        obs = self.agent.spec.encode(step.scenario, step.z, step.est_units)
        states = self.agent.states(obs)
        greedy = self.agent.greedy(obs)
        n = states.size
        if self._pending is not None and n:  # bootstrap the last task of the previous step
            s, a, r = self._pending
            self.agent.update(s, a, r, float(self.agent.q[states[0]].max()))
            self._pending = None
        self._states, self._greedy = states, greedy
        if not self.learn:
            return StepDecision(greedy.copy(), ["rl"] * n, np.zeros(n), np.zeros(n))
        explore, coin = exploration_draws(step.rng, n, self.agent.epsilon(states))
        alpha = greedy.copy()
        for i in np.flatnonzero(explore):
            tried = {bool(a) for a in (0, 1) if self.agent.visits[states[i], a] > 0}
            alpha[i] = explore_choice(bool(coin[i]), tried, self.agent.settings.explore)
        return StepDecision(alpha, ["explore" if e else "rl" for e in explore], np.zeros(n), np.zeros(n))

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        if not self.learn:
            return None
        alpha = np.asarray(decision.alpha, dtype=bool)
        reward = result["reward"].values.astype(float)
        other = evaluate(step.scenario, step.z, ~alpha)["reward"].values.astype(float)
        optimal = result.attrs.get("optimal_reward")
        self.log.add(step.index, self._greedy, alpha, np.where(alpha, other, reward),
                     np.where(alpha, reward, other), optimal)
        states, discount = self._states, self.agent.settings.discount
        for i in range(states.size):
            if discount == 0:
                self.agent.update(int(states[i]), int(alpha[i]), float(reward[i]))
            elif i + 1 < states.size:
                self.agent.update(int(states[i]), int(alpha[i]), float(reward[i]),
                                  float(self.agent.q[states[i + 1]].max()))
            else:
                self._pending = (int(states[i]), int(alpha[i]), float(reward[i]))
        return None


def train_q_learning(base: ScenarioConfig, steps: int, seed: int = 0,
                     options: EnvOptions | dict[str, Any] | None = None,
                     settings: QSettings | None = None,
                     progress: Callable[[int, int], None] | None = None) -> TrainingResult:
    """Train a Q agent on ``steps`` runner steps of ``run_certified_episode(base, seed)``.

    Parameters
    ----------
    base : ScenarioConfig
        The generating config of the runner steps.
    steps : int
        Runner steps of training.
    seed : int
        Seed of the training episode (scenarios and exploration).
    options : EnvOptions or dict, optional
        Arrival probability, token noise, scheduler and observation buckets.
    settings : QSettings, optional
    progress : callable(done, total), optional
        Called after every runner step.
    """
    if steps < 1:
        raise InputError("steps", steps, "must be >= 1")
    opts = env_options(options)
    agent = QAgent(opts.observation(base), settings)
    policy = QLearningPolicy(agent, learn=True)
    t0 = time.perf_counter()
    episode = run_certified_episode(base, policy, opts.episode(steps, seed),
                          progress=(lambda t, _: progress(t + 1, steps)) if progress else None)
    elapsed = time.perf_counter() - t0
    agent.meta["training"] = {"steps": steps, "decisions": policy.log.decisions, "seed": seed,
                              "time_s": elapsed, "scenario": base.model_dump(mode="json"),
                              "options": opts.model_dump(mode="json")}
    return TrainingResult(agent, policy.log, steps, elapsed, episode)
