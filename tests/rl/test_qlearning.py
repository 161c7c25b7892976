"""Tabular Q-learning through the episode runner: learning, reproducibility, files, registry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genoffload.episode import EpisodeConfig, summary
from genoffload.errors import InputError
from genoffload.models.reference import run_certified_episode
from genoffload.pipeline import run_policy
from genoffload.policy import RulePolicy, get_policy, policy_entry
from genoffload.rl import (
    QAgent,
    QLearningPolicy,
    QSettings,
    TrainingLog,
    TrainingResult,
    load_agent,
    online_policy,
    train_q_learning,
)
from genoffload.scenario import ScenarioConfig, generate, make_config

HELD_OUT = EpisodeConfig(steps=120, seed=7)
"""A short held-out episode (training used seed 0)."""


def test_learns_the_paper_setting(paper: ScenarioConfig, q_trained: TrainingResult) -> None:
    ds = run_certified_episode(paper, q_trained.agent.online(), HELD_OUT)
    s = summary(ds)
    assert s["tail_reward_ratio"] >= 0.99
    assert s["success_rate"] == 1.0
    assert set(ds["source"].values.astype(str)) == {"rl"}
    # greedy evaluation draws nothing: the same scenarios as a rule policy for the same seed
    ref = run_certified_episode(paper, RulePolicy("quality-rule"), HELD_OUT)
    np.testing.assert_array_equal(ds["optimal_reward"].values, ref["optimal_reward"].values)
    np.testing.assert_array_equal(ds["alpha"].values, ref["optimal_alpha"].values)


def test_training_record(q_trained: TrainingResult) -> None:
    s = q_trained.summary()
    ep = q_trained.episode
    assert ep is not None and s["decisions"] == ep.sizes["decision"] == q_trained.log.decisions
    assert s["steps"] == 200 and s["time_s"] > 0
    explored = ep["source"].values == "explore"
    assert 0 < explored.sum() < explored.size
    # the log's reward of the chosen action is the runner's reward
    log = q_trained.log
    chosen = np.where(np.asarray(log.action) == 1, log.reward_cloud, log.reward_edge)
    np.testing.assert_allclose(chosen, ep["reward"].values, atol=1e-12)
    assert s["converged_step"] is not None and s["converged_step"] < 200
    assert q_trained.agent.visits.sum() == s["decisions"]


def test_same_seed_same_agent(paper: ScenarioConfig) -> None:
    a = train_q_learning(paper, 30, seed=4).agent
    b = train_q_learning(paper, 30, seed=4).agent
    c = train_q_learning(paper, 30, seed=5).agent
    np.testing.assert_array_equal(a.q, b.q)
    np.testing.assert_array_equal(a.visits, b.visits)
    assert not np.array_equal(a.q, c.q)


def test_save_load_round_trip(q_trained: TrainingResult, q_file: Path, paper: ScenarioConfig) -> None:
    agent = load_agent(q_file)
    assert isinstance(agent, QAgent)
    np.testing.assert_array_equal(agent.q, q_trained.agent.q)
    np.testing.assert_array_equal(agent.visits, q_trained.agent.visits)
    assert agent.spec == q_trained.agent.spec and agent.settings == q_trained.agent.settings
    assert agent.meta["training"]["seed"] == 0 and agent.meta["training"]["steps"] == 200
    with np.load(q_file) as data:
        meta = json.loads(str(data["meta"]))
    assert meta["observation_space"] == {"type": "MultiDiscrete", "nvec": [9, 5],
                                         "names": ["service", "size"]}
    assert not list(q_file.parent.glob(".*.tmp"))
    ds = generate(make_config({"seed": 9}))
    obs = agent.spec.encode(ds, np.zeros((20, 106), bool), ds["units"].values)
    np.testing.assert_array_equal(agent.greedy(obs), q_trained.agent.greedy(obs))


def test_agent_for_another_observation_space(q_file: Path, other_catalog: Path) -> None:
    from genoffload.rl import scenario_config

    with pytest.raises(InputError) as err:
        online_policy("q-learning", scenario_config(other_catalog), agent=q_file)
    msg = str(err.value)
    assert msg.startswith("agent: trained for observation space service(9) x size(5), the scenario needs "
                          "service(10) x size(5)") and "\n" not in msg


@pytest.mark.parametrize("content", [b"not an agent", b""])
def test_foreign_files(tmp_path: Path, content: bytes, paper: ScenarioConfig) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=r"^agent: not a genoffload agent file"):
        online_policy("q-learning", paper, agent=bad)
    with pytest.raises(InputError, match=r"^agent: no such file"):
        online_policy("q-learning", paper, agent=tmp_path / "missing.npz")


def test_corrupt_table(tmp_path: Path, q_file: Path) -> None:
    with np.load(q_file) as data:
        meta = str(data["meta"])
    bad = tmp_path / "short.npz"
    np.savez(bad, q=np.zeros((3, 2)), visits=np.zeros((3, 2), dtype=np.int64), meta=np.array(meta))
    with pytest.raises(InputError, match=r"^agent: corrupt agent file"):
        load_agent(bad)
    with pytest.raises(InputError, match=r"^agent: is a q-learning agent, not dqn"):
        load_agent(q_file, "dqn")


def test_registry_policy(q_file: Path) -> None:
    assert policy_entry("q-learning").learned and policy_entry("dqn").learned
    ds = generate(make_config({"seed": 11}))
    plan, result = run_policy(ds, "pf", get_policy("q-learning", agent=str(q_file)))
    _, rule = run_policy(ds, "pf", "quality-rule")
    np.testing.assert_array_equal(plan.alpha, rule["alpha"].values)
    assert result.attrs["policy"] == "q-learning"
    with pytest.raises(InputError, match=r"^agent: the dqn policy needs a trained agent: .*rl train"):
        get_policy("dqn")


def test_unknown_algo(paper: ScenarioConfig) -> None:
    with pytest.raises(InputError, match=r"^algo: unknown algorithm \(known: q-learning, dqn\)"):
        online_policy("sarsa", paper)


def test_online_policy_trains_when_no_agent(paper: ScenarioConfig) -> None:
    calls: list[tuple[int, int]] = []
    policy = online_policy("q-learning", make_config({"users": 5}), train_steps=15, seed=3,
                           progress=lambda d, t: calls.append((d, t)))
    assert isinstance(policy, QLearningPolicy) and not policy.learn
    assert calls[-1] == (15, 15) and len(calls) == 15


def test_discount_bootstraps_the_next_task(paper: ScenarioConfig) -> None:
    res = train_q_learning(make_config({"users": 6}), 25, seed=1, options={"arrival_prob": 0.4},
                           settings=QSettings(discount=0.5, learning_rate=0.5, epsilon="constant:0.3"))
    updates = res.agent.visits.sum()
    assert 0 < updates < res.log.decisions + 1  # the last decision waits for a next state
    assert updates == res.log.decisions - 1


@pytest.mark.parametrize(("kwargs", "field"), [({"learning_rate": 0}, "learning_rate"),
                                               ({"discount": 1.0}, "discount"),
                                               ({"epsilon": "exp:2:0:1"}, "epsilon"),
                                               ({"explore": "greedy"}, "explore")])
def test_bad_settings(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError, match=rf"^{field}:"):
        QSettings(**kwargs)


def test_convergence_definition() -> None:
    log = TrainingLog()
    # 300 decisions, optimal reward 20 s; one wrong greedy choice (regret 100 s) at decision 120
    for k in range(300):
        log.add(k, 1 if k == 120 else 0, 0, 20.0, -80.0)
    decision, step = log.converged_at(window=100, tol=0.01)
    assert decision == 120 + 100 and step == 220
    log.add(300, 1, 1, 20.0, -80.0)  # a mistake in the last window: not converged
    assert log.converged_at(window=100, tol=0.01) == (None, None)
