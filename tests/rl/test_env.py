"""The Gymnasium environment: registration, check_env, determinism, rewards = the runner's."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from genoffload.episode import EpisodeConfig
from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.models.reference import run_certified_episode
from genoffload.policies.icl import experience as icl
from genoffload.policy import RulePolicy
from genoffload.rl import ENV_ID, MAX_EPISODE_STEPS, EdgeCloudOffloadEnv
from genoffload.rl import observation as obs_mod
from genoffload.scenario import make_config

BUSY = {"users": 6, "seed": 2}
"""A small cell; with arrival_prob 0.4 runner steps hold several tasks."""


def test_registered_with_time_limit() -> None:
    assert ENV_ID in gymnasium.registry
    assert gymnasium.registry[ENV_ID].max_episode_steps == MAX_EPISODE_STEPS
    env = gymnasium.make(ENV_ID, max_episode_steps=4)
    env.reset(seed=0)
    flags = [env.step(0)[3] for _ in range(4)]
    assert flags == [False, False, False, True]


@pytest.mark.parametrize("kwargs", [{}, {"extras": ("link", "load"), "arrival_prob": 0.4,
                                         "scenario": BUSY}])
def test_check_env(kwargs: dict) -> None:
    env = gymnasium.make(ENV_ID, **kwargs)
    check_env(env.unwrapped)  # raises on any violation of the API
    assert isinstance(env.observation_space, gymnasium.spaces.MultiDiscrete)
    assert env.action_space == gymnasium.spaces.Discrete(2)


def _rollout(env: gymnasium.Env, seed: int, n: int) -> tuple[list, list, list]:
    obs, info = env.reset(seed=seed)
    observations, rewards, infos = [obs], [], [info]
    for k in range(n):
        obs, r, _, _, info = env.step(k % 2)
        observations.append(obs)
        rewards.append(r)
        infos.append(info)
    return observations, rewards, infos


def test_reset_seed_determinism() -> None:
    env = gymnasium.make(ENV_ID, scenario=BUSY, arrival_prob=0.4)
    a = _rollout(env, 11, 25)
    b = _rollout(env, 11, 25)
    c = _rollout(env, 12, 25)
    assert all(np.array_equal(x, y) for x, y in zip(a[0], b[0], strict=True))
    assert a[1] == b[1]
    assert [i["regret"] for i in a[2][1:]] == [i["regret"] for i in b[2][1:]]
    assert a[1] != c[1]


@pytest.mark.parametrize("arrival_prob", [0.05, 0.4])
def test_rewards_equal_the_runner(arrival_prob: float) -> None:
    """Quality-rule actions on the env give the runner's records decision by decision."""
    base = make_config(BUSY)
    ref = run_certified_episode(base, RulePolicy("quality-rule"), EpisodeConfig(steps=12, seed=5,
                                                                        arrival_prob=arrival_prob))
    n = ref.sizes["decision"]
    assert n > 12 if arrival_prob > 0.1 else n >= 12  # busy steps hold several tasks
    env = EdgeCloudOffloadEnv(base, arrival_prob=arrival_prob)
    obs, info = env.reset(seed=5)
    rewards, optimal, regret, services = [], [], [], []
    for _ in range(n):
        services.append(env.obs_spec.services[obs[0]])
        action = int(info["action_mask"][0] == 0)  # the edge misses quality: offload
        obs, r, terminated, truncated, info = env.step(action)
        assert not terminated and not truncated
        rewards.append(r)
        optimal.append(info["optimal_reward"])
        regret.append(info["regret"])
    assert services == ref["service"].values.astype(str).tolist()
    np.testing.assert_allclose(rewards, ref["reward"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(optimal, ref["optimal_reward"].values, rtol=0, atol=1e-9)
    np.testing.assert_allclose(regret, ref["regret"].values, rtol=0, atol=1e-9)


def test_reward_is_the_evaluators() -> None:
    """Step reward and both counterfactual rewards come from evaluate on the step's scenario."""
    env = EdgeCloudOffloadEnv(BUSY, arrival_prob=0.4)
    env.reset(seed=3)
    for _ in range(10):
        ds, z, i = env._ds, env._z, env._i
        alpha = env._alpha[: i + 1].copy()
        expected = []
        for a in (0, 1):
            alpha[i] = bool(a)
            expected.append(float(evaluate(ds.isel(task=slice(0, i + 1)), z, alpha)["reward"].values[i]))
        _, r, _, _, info = env.step(1)
        assert r == pytest.approx(expected[1], abs=1e-12)
        np.testing.assert_allclose(info["rewards"], expected, atol=1e-12)
        assert info["regret"] >= -1e-9


def test_action_mask_from_the_evaluator() -> None:
    env = EdgeCloudOffloadEnv()
    obs, info = env.reset(seed=0)
    seen = set()
    for _ in range(40):
        service = env.obs_spec.services[obs[0]]
        preferred = service in ("science", "coding", "math")
        expected = [0, 1] if preferred else [1, 1]  # Llama3-8B misses the quality of preferred tasks
        assert info["action_mask"].tolist() == expected
        assert info["action_mask"].dtype == np.int8
        seen.add(preferred)
        obs, _, _, _, info = env.step(1)
    assert seen == {True, False}


def test_scenario_inputs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cfg = tmp_path / "s.toml"
    cfg.write_text("users = 7\nquality_share = 1.0\n")
    for scenario in (cfg, str(cfg), {"users": 7, "quality_share": 1.0},
                     make_config({"users": 7, "quality_share": 1.0})):
        env = EdgeCloudOffloadEnv(scenario)
        assert env.base.users == 7 and env.base.quality_share == 1.0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"foo": 1}, "env.foo"),
    ({"arrival_prob": 0}, "env.arrival_prob"),
    ({"scheduler": "fifo"}, "env.scheduler"),
    ({"extras": ("weather",)}, "observe"),
    ({"size_edges": (1.0, 0.5)}, "env.size_edges"),
    ({"scenario": {"sites": 5}}, "scenario.sites"),
    ({"scenario": 42}, "scenario"),
    ({"scenario": "missing.toml"}, "config"),
])
def test_bad_options_one_line(kwargs: dict, field: str) -> None:
    with pytest.raises(InputError) as err:
        gymnasium.make(ENV_ID, **kwargs)
    assert str(err.value).startswith(f"{field}:") and "\n" not in str(err.value)


def test_auto_extras_follow_the_scenario() -> None:
    assert EdgeCloudOffloadEnv().obs_spec.names == ("service", "size")
    assert EdgeCloudOffloadEnv({"slo": "hard"}).obs_spec.names == ("service", "size", "link")
    assert EdgeCloudOffloadEnv({"edge_tpot_slope": 0.1}).obs_spec.names == ("service", "size", "load")
    assert EdgeCloudOffloadEnv(extras=()).obs_spec.nvec == (9, 5)


def test_same_buckets_as_the_icl_keywords() -> None:
    """RL and ICL see the same state (eq. 8)."""
    assert obs_mod.SIZE_EDGES == tuple(u for u, _ in icl.SIZE_BUCKETS[:-1])
    assert obs_mod.REFERENCE_UNITS == icl.REFERENCE_UNITS
    assert tuple(1e6 * e for e in obs_mod.LINK_EDGES_MBPS) == tuple(u for u, _ in icl.LINK_BUCKETS[:-1])
    assert obs_mod.LOAD_EDGES == tuple(float(u) for u, _ in icl.LOAD_BUCKETS[:-1])
    env = EdgeCloudOffloadEnv(BUSY, arrival_prob=0.4, extras=("link", "load"))
    env.reset(seed=4)
    words = icl.step_keywords(env._ds, env._z, env._est, ("link", "load"))
    sizes = [w for _, w in icl.SIZE_BUCKETS]
    links = [w for _, w in icl.LINK_BUCKETS]
    loads = [w for _, w in icl.LOAD_BUCKETS]
    for row, kw in zip(env._obs, words, strict=True):
        assert (env.obs_spec.services[row[0]], sizes[row[1]], links[row[2]], loads[row[3]]) == kw
