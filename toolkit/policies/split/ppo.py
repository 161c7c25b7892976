"""The paper's policy stage: PPO (stable-baselines3) trained on the learned surrogate.

A one-step Gymnasium environment: the observation is the channel state (log10 bit-error rate
/ 12, erasure probability), the action an index into the problem's actions, the reward the
surrogate's mean reward (no real evaluation). Training states are drawn uniformly from the
box spanned by the training states. Chen et al. use relative split moves over long episodes;
a channel state here does not depend on the previous split, so one step per state is the same
decision without the credit-assignment delay. Needs the ``drl`` (or ``torchllm``) extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from genoffload.policies.split.baselines import register
from genoffload.policies.split.mbrl import QualitySurrogate, _Surrogate
from genoffload.split.channel import ChannelState, bit_error_rate
from genoffload.split.problem import Action, QualityFn, SplitProblem


def observe(state: ChannelState, modulation: str = "qpsk") -> np.ndarray:
    ber = float(bit_error_rate(state.sinr_db, modulation))
    return np.asarray([math.log10(max(ber, 1e-12)) / 12.0, state.erasure], dtype=np.float32)


def surrogate_env(
    surrogate: QualitySurrogate, box: tuple[tuple[float, float], tuple[float, float]], seed: int = 0
) -> Any:
    """The one-step environment on ``surrogate`` (SINR and erasure drawn in ``box``)."""
    import gymnasium as gym

    actions = surrogate.problem.actions()

    class SurrogateSplitEnv(gym.Env):
        observation_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)
        action_space = gym.spaces.Discrete(len(actions))

        def __init__(self) -> None:
            self.rng = np.random.default_rng(seed)
            self.state = ChannelState(box[0][0], box[1][0])
            self.cache: dict[ChannelState, np.ndarray] = {}
            self.scale = 1.0

        def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[np.ndarray, dict[str, Any]]:
            if seed is not None:
                self.rng = np.random.default_rng(seed)
            # a finite set of states, so the surrogate is asked once per state
            sinr = round(float(self.rng.uniform(*box[0])), 1)
            p = round(float(self.rng.uniform(*box[1])), 3)
            self.state = ChannelState(sinr, p)
            return observe(self.state, surrogate.modulation), {}

        def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
            if self.state not in self.cache:
                r = surrogate.rewards(self.state, actions)
                self.cache[self.state] = r - r.max()  # regret-shaped: 0 at the surrogate's best
            r = float(self.cache[self.state][int(action)])
            return observe(self.state, surrogate.modulation), max(r, -10.0), True, False, {}

    return SurrogateSplitEnv()


@register("mbrl-ppo")
@dataclass
class SurrogatePPO(_Surrogate):
    """PPO on the surrogate (the paper's MBRL): the trained actor picks the action."""

    budget: int = 16
    kappa: float = 2.0
    timesteps: int = 4096

    def fit(
        self,
        problem: SplitProblem,
        states: Sequence[ChannelState],
        quality: QualityFn,
        ppl0: float,
        seed: int = 0,
    ) -> SurrogatePPO:
        super().fit(problem, states, quality, ppl0, seed)
        import torch
        from stable_baselines3 import PPO

        torch.set_num_threads(1)
        sinr = [s.sinr_db for s in states]
        era = [s.erasure for s in states]
        env = surrogate_env(self.surrogate, ((min(sinr), max(sinr)), (min(era), max(era))), seed)
        self.model = PPO(
            "MlpPolicy",
            env,
            n_steps=256,
            batch_size=64,
            n_epochs=10,
            learning_rate=3e-3,
            ent_coef=0.01,
            gamma=0.0,
            seed=seed,
            verbose=0,
            device="cpu",
        )
        self.model.learn(total_timesteps=self.timesteps)
        return self

    def choose(self, state: ChannelState) -> Action:
        act, _ = self.model.predict(observe(state, self.surrogate.modulation), deterministic=True)
        return self.problem.actions()[int(act)]
