"""Reinforcement learning on the offloading problem (the paper's baseline 3).

The environment ``genoffload/EdgeCloudOffload-v0`` is registered by :mod:`genoffload.gym_plugin`
(imported with :mod:`genoffload.rl.env`); the policies ``q-learning`` and ``dqn`` are in the
policy registry (:mod:`genoffload.rl.entries`, ``genoffload.policy.get_policy``).
See ``docs/rl.md``.
"""

from genoffload.rl.agents import (
    ALGOS,
    DEFAULT_TRAIN_STEPS,
    DQNOffline,
    QLearningOffline,
    check_observation,
    load_agent,
    offline_policy,
    online_policy,
    train,
)
from genoffload.rl.dqn import DQN_DEFAULTS, DQNAgent, DQNPolicy, train_dqn
from genoffload.rl.env import ENV_ID, MAX_EPISODE_STEPS, EdgeCloudOffloadEnv, register_env
from genoffload.rl.observation import ObservationSpec
from genoffload.rl.options import EnvOptions, env_options, scenario_config
from genoffload.rl.qlearning import QAgent, QLearningPolicy, QSettings, train_q_learning
from genoffload.rl.training import TrainingLog, TrainingResult

__all__ = [
    "ALGOS",
    "DEFAULT_TRAIN_STEPS",
    "DQN_DEFAULTS",
    "ENV_ID",
    "MAX_EPISODE_STEPS",
    "DQNAgent",
    "DQNOffline",
    "DQNPolicy",
    "EdgeCloudOffloadEnv",
    "EnvOptions",
    "ObservationSpec",
    "QAgent",
    "QLearningOffline",
    "QLearningPolicy",
    "QSettings",
    "TrainingLog",
    "TrainingResult",
    "check_observation",
    "env_options",
    "load_agent",
    "offline_policy",
    "online_policy",
    "register_env",
    "scenario_config",
    "train",
    "train_dqn",
    "train_q_learning",
]
