"""The environment is reachable from Gymnasium alone, and passes Gymnasium's and SB3's checkers."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points

import pytest

FRESH = r"""
import sys
import gymnasium as gym
env = gym.make("genoffload.gym_plugin:genoffload/EdgeCloudOffload-v0")
obs, info = env.reset(seed=0)
assert env.observation_space.contains(obs) and "action_mask" in info
print(type(env.unwrapped).__name__, env.spec.max_episode_steps)
"""


def test_make_from_gymnasium_alone_in_a_fresh_process() -> None:
    out = subprocess.run([sys.executable, "-c", FRESH], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["EdgeCloudOffloadEnv", "300"]


def test_the_entry_point_registers_without_importing_the_env() -> None:
    code = ("import sys, gymnasium\n"
            "from importlib.metadata import entry_points\n"
            "(ep,) = [e for e in entry_points(group='gymnasium.envs') if e.name == 'genoffload']\n"
            "ep.load()()\n"
            "assert 'genoffload/EdgeCloudOffload-v0' in gymnasium.registry\n"
            "assert 'genoffload.rl' not in sys.modules and 'xarray' not in sys.modules\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [e.value for e in entry_points(group="gymnasium.envs") if e.name == "genoffload"] == [
        "genoffload.gym_plugin:register_envs"]


def test_gymnasium_and_stable_baselines3_checkers() -> None:
    import gymnasium as gym
    from gymnasium.utils.env_checker import check_env as gym_check_env

    sb3 = pytest.importorskip("stable_baselines3.common.env_checker", reason="needs the drl extra")
    env = gym.make("genoffload.gym_plugin:genoffload/EdgeCloudOffload-v0")
    gym_check_env(env.unwrapped, skip_render_check=True)
    sb3.check_env(env.unwrapped, warn=True)
