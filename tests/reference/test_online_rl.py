"""RL agents that learn during the measured episode (studies: agent = "online")."""

from __future__ import annotations

import numpy as np
import pytest

from genoffload.episode import EpisodeConfig
from genoffload.errors import InputError
from genoffload.models.reference import run_certified_episode
from genoffload.scenario import make_config
from genoffload.studies.policies import PolicySpec, check_policy, online_policy


def test_online_q_learning_learns_in_the_episode() -> None:
    base = make_config({"users": 10})
    pol = PolicySpec(name="q-learning", agent="online")
    check_policy(pol, "policy[0]")
    learner = online_policy(pol, base, 0)
    ds = run_certified_episode(base, learner, EpisodeConfig(steps=60, seed=1, arrival_prob=0.2))
    sources = ds["source"].values
    assert (sources == "explore").any() and (sources == "rl").any()
    step = ds["step"].values
    early = ds["reward"].values[step < 10].mean()
    late = ds["reward"].values[step >= 50].mean()
    assert late > early  # a learning curve, not a flat pre-trained line
    assert np.isfinite(ds["step_optimal_reward"].values).all()


def test_online_agent_refuses_a_training_budget() -> None:
    with pytest.raises(InputError, match="train_steps"):
        check_policy(PolicySpec(name="q-learning", agent="online", train_steps=10), "policy[0]")


@pytest.mark.drl
def test_online_dqn_runs_and_learns() -> None:
    base = make_config({"users": 10})
    learner = online_policy(PolicySpec(name="dqn", agent="online"), base, 0)
    ds = run_certified_episode(base, learner, EpisodeConfig(steps=40, seed=1, arrival_prob=0.3))
    assert learner.decisions == ds.sizes["decision"] > 100  # type: ignore[attr-defined]
    assert (ds["source"].values == "rl").any()
