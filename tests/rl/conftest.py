"""Fixtures of the RL tests: the paper setting, one trained Q agent shared by the module tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from genoffload.rl import QAgent, TrainingResult, train_q_learning
from genoffload.scenario import ScenarioConfig, make_config

TRAIN_STEPS = 200
"""Runner steps of the shared agent (the paper setting converges in ~160)."""


@pytest.fixture(scope="session")
def paper() -> ScenarioConfig:
    """The paper setting: 20 users, half the tasks quality-preferred, Llama3-8B + GPT-4o."""
    return make_config({})


@pytest.fixture(scope="session")
def q_trained(paper: ScenarioConfig) -> TrainingResult:
    return train_q_learning(paper, TRAIN_STEPS, seed=0)


@pytest.fixture(scope="session")
def q_file(q_trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    agent: QAgent = q_trained.agent
    return agent.save(tmp_path_factory.mktemp("agents") / "q.npz")


@pytest.fixture(scope="session")
def other_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scenario config whose catalog has one more service: another observation space."""
    folder = tmp_path_factory.mktemp("catalog")
    csv = folder / "services.csv"
    csv.write_text("name,service_class,modality,unit,mean_units,bytes_per_unit,description\n"
                   "poetry,regular,text,token,1000,4,poems\n")
    cfg = folder / "other.toml"
    cfg.write_text(f'catalog_services = "{csv}"\n')
    return cfg
