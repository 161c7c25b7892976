"""Q-learning and DQN in the policy registry: study options, their check, online and offline use.

A study's ``[[policy]]`` entry ``q-learning`` or ``dqn`` takes ``agent`` (an agent file;
``"online"``: an untrained agent that learns during the cell's episode, its online learning
curve) and ``train_steps`` (without an agent, the agent is trained in the cell for that budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genoffload.errors import InputError
from genoffload.policy import OnlinePolicy, PolicyEntry
from genoffload.scenario import ScenarioConfig

OPTIONS = ("agent", "train_steps")
ONLINE_AGENT = "online"
"""``agent = "online"``: the RL agent starts untrained and learns during the episode."""
RL_TRAIN_SEED_OFFSET = 1_000_003
"""RL agents trained in a cell use ``seed + offset``: training never sees the evaluation draws."""


def check(options: Mapping[str, Any], where: str, algo: str) -> None:
    """An online agent takes no budget; an agent file is loaded safely (no pickle) now, so that a
    bad file fails before any cell."""
    agent = options.get("agent")
    if agent == ONLINE_AGENT and options.get("train_steps") is not None:
        raise InputError(f"{where}.train_steps", options["train_steps"],
                         "an online agent learns in the episode")
    if agent is not None and agent != ONLINE_AGENT:
        from genoffload.rl.agents import load_agent

        try:
            load_agent(agent, algo)
        except InputError as err:
            raise InputError(f"{where}.agent", agent, err.reason) from None


def online(options: Mapping[str, Any], base: ScenarioConfig, seed: int, algo: str) -> OnlinePolicy:
    """The agent of the options for one cell: learning online, loaded, or trained on ``base`` with
    ``seed + RL_TRAIN_SEED_OFFSET``."""
    if options.get("agent") == ONLINE_AGENT:
        from genoffload.rl.online import online_learner

        return online_learner(algo, base, seed + RL_TRAIN_SEED_OFFSET)
    from genoffload.rl.agents import online_policy

    return online_policy(algo, base, agent=options.get("agent"), train_steps=options.get("train_steps"),
                         seed=seed + RL_TRAIN_SEED_OFFSET)


def _offline_q(**options: Any) -> Any:
    from genoffload.rl.agents import QLearningOffline

    return QLearningOffline(**options)


def _offline_dqn(**options: Any) -> Any:
    from genoffload.rl.agents import DQNOffline

    return DQNOffline(**options)


def _entry(algo: str, offline: Any, description: str) -> PolicyEntry:
    return PolicyEntry(
        algo, "rl", offline=offline, options=OPTIONS, learned=True,
        online=lambda options, base, seed: online(options, base, seed, algo),
        check=lambda options, where: check(options, where, algo),
        warm_up=lambda options: options.get("agent") == ONLINE_AGENT,
        description=description)


Q_LEARNING = _entry("q-learning", _offline_q, "tabular Q-learning (paper baseline 3), greedy when evaluated")
DQN = _entry("dqn", _offline_dqn, "DQN (stable-baselines3, extra drl), greedy when evaluated")
"""Registry entries (declared in ``pyproject.toml``, group ``genoffload.policies``)."""
