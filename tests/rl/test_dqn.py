"""DQN (stable-baselines3, extra ``drl``): short training on the env, evaluation via run_episode."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="needs the drl extra: pip install -e '.[drl]'")

from genoffload.episode import EpisodeConfig, summary
from genoffload.errors import InputError
from genoffload.models.reference import run_certified_episode
from genoffload.pipeline import run_policy
from genoffload.policy import RulePolicy, get_policy
from genoffload.rl import (
    DQNAgent,
    DQNPolicy,
    TrainingResult,
    load_agent,
    online_policy,
    scenario_config,
    train_dqn,
)
from genoffload.scenario import ScenarioConfig, generate, make_config

pytestmark = pytest.mark.drl
HELD_OUT = EpisodeConfig(steps=40, seed=7)


@pytest.fixture(scope="module")
def dqn_trained(paper: ScenarioConfig) -> TrainingResult:
    return train_dqn(paper, 200, seed=0)


@pytest.fixture(scope="module")
def dqn_file(dqn_trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dqn_trained.agent.save(tmp_path_factory.mktemp("dqn") / "dqn.zip")


def _all_states(agent: DQNAgent) -> np.ndarray:
    return np.stack(np.meshgrid(*[np.arange(k) for k in agent.spec.nvec], indexing="ij"), -1).reshape(
        -1, len(agent.spec.nvec))


def test_training_smoke(dqn_trained: TrainingResult) -> None:
    s = dqn_trained.summary()
    assert s["algo"] == "dqn" and s["steps"] == 200 and s["decisions"] == dqn_trained.log.decisions > 200
    assert dqn_trained.agent.meta["training"]["hyperparameters"]["gamma"] == 0.0


def test_evaluated_through_the_runner(dqn_file: Path, paper: ScenarioConfig) -> None:
    policy = online_policy("dqn", paper, agent=dqn_file)
    assert isinstance(policy, DQNPolicy)
    ds = run_certified_episode(paper, policy, HELD_OUT)
    assert set(ds["source"].values.astype(str)) == {"rl"}
    s = summary(ds)
    rules = {name: summary(run_certified_episode(paper, RulePolicy(name), HELD_OUT))["mean_reward"]
             for name in ("all-edge", "all-cloud")}
    assert s["mean_reward"] > max(rules.values())  # it learned more than a constant decision
    print(f"DQN after 200 runner steps: tail reward ratio {s['tail_reward_ratio']:.3f}")


def test_save_load_round_trip(dqn_trained: TrainingResult, dqn_file: Path) -> None:
    with zipfile.ZipFile(dqn_file) as zf:  # JSON and plain tensors only: nothing is pickled
        assert set(zf.namelist()) == {"genoffload.json", "policy.pt"}
    agent = load_agent(dqn_file)
    assert isinstance(agent, DQNAgent) and agent.spec == dqn_trained.agent.spec
    states = _all_states(agent)
    np.testing.assert_array_equal(agent.greedy(states), dqn_trained.agent.greedy(states))
    for pa, pb in zip(agent.model.policy.parameters(), dqn_trained.agent.model.policy.parameters(),
                      strict=True):  # the rebuilt sb3 network holds the same weights
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())
    assert agent.meta["training"] == dqn_trained.agent.meta["training"]
    assert not list(dqn_file.parent.glob(".*.tmp"))


def test_same_seed_same_network(paper: ScenarioConfig) -> None:
    hyper = {"learning_starts": 10}
    a = train_dqn(paper, 12, seed=3, hyperparameters=hyper).agent
    b = train_dqn(paper, 12, seed=3, hyperparameters=hyper).agent
    for pa, pb in zip(a.model.policy.parameters(), b.model.policy.parameters(), strict=True):
        assert np.array_equal(pa.detach().numpy(), pb.detach().numpy())


def test_wrong_space_and_registry(dqn_file: Path, other_catalog: Path) -> None:
    with pytest.raises(InputError, match=r"^agent: trained for observation space service\(9\)"):
        online_policy("dqn", scenario_config(other_catalog), agent=dqn_file)
    with pytest.raises(InputError, match=r"^agent: is a dqn agent, not q-learning"):
        online_policy("q-learning", scenario_config(None), agent=dqn_file)
    ds = generate(make_config({"seed": 11}))
    plan, result = run_policy(ds, "pf", get_policy("dqn", agent=str(dqn_file)))
    assert plan.alpha.shape == (ds.sizes["task"],) and result.attrs["policy"] == "dqn"


def test_unknown_hyperparameter(paper: ScenarioConfig) -> None:
    with pytest.raises(InputError, match=r"^hyperparameters:"):
        train_dqn(paper, 2, hyperparameters={"momentum": 0.9})
