"""RL agents that learn during the episode they are measured on (the paper's Fig. 5a DRL curve).

``online_learner(algo, base)`` returns an :class:`~genoffload.policy.OnlinePolicy` that
starts untrained and learns from every outcome of the episode, so its per-step reward is its
online learning curve (beside ICL's), not the flat line of a pre-trained greedy agent:

- ``q-learning``: :class:`~genoffload.rl.qlearning.QLearningPolicy` with ``learn=True`` on a
  fresh :class:`~genoffload.rl.qlearning.QAgent` (its epsilon schedule and updates as in
  training).
- ``dqn``: :class:`DQNOnlinePolicy`: a stable-baselines3 DQN (``DQN_DEFAULTS``: network,
  learning rate, batch, replay buffer, ``gamma`` 0) whose decisions are epsilon-greedy (linear
  from 1 to 0.02 over the first ``EXPLORE_DECISIONS``) and which, after each step, stores every
  decision in its replay buffer and runs ``gradient_steps`` updates per decision once
  ``learning_starts`` decisions are stored. Exploration draws two uniforms per task from
  ``Step.rng`` whatever epsilon is, so the episode's scenarios are those of every other policy.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import xarray as xr

from genoffload.errors import InputError
from genoffload.exploration import exploration_draws
from genoffload.policy import OnlinePolicy, Step, StepDecision
from genoffload.rl.options import env_options
from genoffload.scenario import ScenarioConfig

EXPLORE_DECISIONS = 300
"""Decisions over which the online DQN's epsilon decays linearly from 1 to its floor."""


class DQNOnlinePolicy:
    """A DQN that learns online inside ``run_episode`` (see the module docstring)."""

    name: ClassVar[str] = "dqn"

    def __init__(self, base: ScenarioConfig, seed: int = 0, options: dict[str, Any] | None = None) -> None:
        import torch

        from genoffload.rl.dqn import DQN_DEFAULTS, require_sb3
        from genoffload.rl.env import EdgeCloudOffloadEnv

        sb3 = require_sb3()
        torch.set_num_threads(1)
        opts = env_options(options)
        self.spec = opts.observation(base)
        env = EdgeCloudOffloadEnv(base, **opts.model_dump())
        self.params = dict(DQN_DEFAULTS)
        self.model = sb3.DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **self.params)
        self.model._setup_learn(total_timesteps=10**9)  # logger and internal counters
        self.decisions = 0

    def epsilon(self) -> float:
        final = float(self.params["exploration_final_eps"])
        share = min(1.0, self.decisions / EXPLORE_DECISIONS)
        return float(self.params["exploration_initial_eps"]) + share * (final - float(
            self.params["exploration_initial_eps"]))

    def act(self, step: Step) -> StepDecision:
        obs = self.spec.encode(step.scenario, step.z, step.est_units)
        n = obs.shape[0]
        greedy = np.asarray(self.model.predict(obs, deterministic=True)[0], dtype=bool).reshape(n)
        explore, coin = exploration_draws(step.rng, n, np.full(n, self.epsilon()))
        alpha = np.where(explore, coin.astype(bool), greedy)
        self._obs = obs
        return StepDecision(alpha, ["explore" if e else "rl" for e in explore], np.zeros(n), np.zeros(n))

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        reward = result["reward"].values.astype(np.float32)
        buffer = self.model.replay_buffer
        for i, a in enumerate(np.asarray(decision.alpha, dtype=np.int64)):
            o = self._obs[i : i + 1]
            buffer.add(o, o, np.array([a]), reward[i : i + 1], np.array([True]), [{}])
        self.decisions += reward.size
        if self.decisions >= int(self.params["learning_starts"]):
            self.model.train(gradient_steps=int(self.params["gradient_steps"]) * reward.size,
                             batch_size=int(self.params["batch_size"]))


def online_learner(algo: str, base: ScenarioConfig, seed: int = 0) -> OnlinePolicy:
    """An untrained agent of ``algo`` that learns during the episode (see the module docstring)."""
    if algo == "q-learning":
        from genoffload.rl.qlearning import QAgent, QLearningPolicy

        return QLearningPolicy(QAgent(env_options({}).observation(base)), learn=True)
    if algo == "dqn":
        return DQNOnlinePolicy(base, seed)
    raise InputError("algo", algo, "must be q-learning or dqn")


__all__ = ["EXPLORE_DECISIONS", "DQNOnlinePolicy", "online_learner"]
