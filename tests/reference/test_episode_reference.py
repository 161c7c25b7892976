"""Episodes against the certified per-step reference: no policy beats a bound beyond its gap."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import genoffload.rl  # noqa: F401 (registers q-learning and dqn)
from genoffload.episode import EpisodeConfig, step_scenario, summary
from genoffload.models import InfeasibleError, solve
from genoffload.models.reference import Reference, run_certified_episode
from genoffload.policy import RulePolicy, entries, policy_names
from genoffload.scenario import make_config
from genoffload.schedulers import get_scheduler
from genoffload.studies.policies import PolicySpec, online_policy

from .conftest import FAMILIES

RULES = [e.name for e in entries() if e.offline is not None and not e.joint and not e.learned]


def _policy(name: str, base, seed: int):
    if name in RULES:
        return RulePolicy(name)
    if name == "q-learning-online":
        from genoffload.rl.options import env_options
        from genoffload.rl.qlearning import QAgent, QLearningPolicy

        return QLearningPolicy(QAgent(env_options({}).observation(base)), learn=True)
    if name == "icl-fake":
        return online_policy(PolicySpec(name="icl", llm="fake:edge,cloud,cloud"), base, seed)
    return online_policy(PolicySpec(name=name, train_steps=5), base, seed)


def _check(ds) -> None:
    tol = 1e-7
    gap = ds["step_offload_gap"].values
    regret = ds["step_regret"].values * ds["step_tasks"].values  # total regret of each step [s]
    assert (regret >= -gap - tol).all(), "a policy beat the certified offloading optimum"
    radio = ds["step_radio_regret"].values * ds["step_tasks"].values
    assert (radio >= -gap - tol).all(), "the joint optimum is below the offloading optimum"
    coupled = ds["coupled"].values
    assert np.isnan(ds["regret"].values[coupled]).all()
    free = ~coupled
    assert (ds["regret"].values[free] >= -tol).all()
    assert set(ds["step_offload_status"].values) == {"optimal"}


def test_registered_policies_are_covered() -> None:
    assert {"all-edge", "all-cloud", "quality-rule", "greedy"} <= set(RULES)
    assert {"q-learning", "dqn", "icl", "exact"} <= set(policy_names())  # one registry for all


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(sorted(FAMILIES)), policy=st.sampled_from([*RULES, "icl-fake",
                                                                          "q-learning-online"]),
       seed=st.integers(0, 10_000), p=st.floats(0.1, 0.6))
def test_no_policy_beats_the_certified_reference(family: str, policy: str, seed: int, p: float) -> None:
    base = make_config({"sites": 1, "users": 10, **FAMILIES[family]})
    ds = run_certified_episode(base, _policy(policy, base, seed),
                     EpisodeConfig(steps=4, seed=seed, arrival_prob=p))
    _check(ds)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_policy_every_family(family: str) -> None:
    base = make_config({"sites": 1, "users": 10, **FAMILIES[family]})
    for policy in [*RULES, "icl-fake", "q-learning-online", "q-learning"]:
        ds = run_certified_episode(base, _policy(policy, base, 3),
                                   EpisodeConfig(steps=3, seed=3, arrival_prob=0.4))
        _check(ds)


@pytest.mark.drl
def test_dqn_does_not_beat_the_reference() -> None:
    base = make_config({"sites": 1, "users": 10, **FAMILIES["concurrency"]})
    ds = run_certified_episode(base, _policy("dqn", base, 1),
                               EpisodeConfig(steps=4, seed=1, arrival_prob=0.4))
    _check(ds)


@pytest.mark.parametrize("family", ["none", "concurrency", "kv", "slo_hard", "streamed", "all"])
def test_joint_reference_is_certified_against_the_solver(family: str) -> None:
    """(b) from the closed form or the relaxation certificate bounds the exact solver's reward."""
    base = make_config({"sites": 1, "users": 10, **FAMILIES[family]})
    rng = np.random.default_rng(7)
    ref = Reference("joint", tol_s=5e-3)
    for _ in range(4):
        ds = step_scenario(base, rng, 0.4)
        z = get_scheduler("pf")(ds)
        out = ref(ds, z)
        assert out is not None and out.joint is not None
        joint = out.joint
        assert joint.reward.sum() >= out.offload.reward.sum() - 1e-9
        try:
            res = solve(ds, gap=1e-6)
        except InfeasibleError:
            continue
        exact = float(res.dataset["reward"].values.sum())
        assert exact <= joint.reward.sum() + joint.gap + res.summary.gap_abs + 1e-7


def test_issue_example_is_no_longer_beaten() -> None:
    """The issue's measurement: quality-rule earned more than the old per-task 'optimum'."""
    base = make_config({"sites": 1, "users": 20, "edge_tpot_slope": 0.3})
    ds = run_certified_episode(base, RulePolicy("quality-rule"),
                               EpisodeConfig(steps=30, seed=1, arrival_prob=0.3))
    s = summary(ds)
    assert s["mean_reward"] == pytest.approx(12.09, abs=0.01)
    assert s["optimal_reward"] >= s["mean_reward"]
    assert s["joint_reward"] >= s["optimal_reward"] - 1e-9
    assert math.isfinite(s["max_gap"])
    assert ds.attrs["reference"].startswith("optimal_*")
    _check(ds)


def test_reference_off_and_offload_only() -> None:
    base = make_config({"users": 8})
    none = run_certified_episode(base, RulePolicy("all-cloud"), EpisodeConfig(steps=3, reference="none"))
    offload = run_certified_episode(base, RulePolicy("all-cloud"),
                                    EpisodeConfig(steps=3, reference="offload"))
    joint = run_certified_episode(base, RulePolicy("all-cloud"), EpisodeConfig(steps=3))
    np.testing.assert_array_equal(none["reward"].values, joint["reward"].values)
    assert np.isnan(none["optimal_reward"].values).all()
    np.testing.assert_allclose(offload["optimal_reward"].values, joint["optimal_reward"].values)
    assert np.isnan(offload["joint_reward"].values).all()
