"""Gymnasium plugin: registers ``genoffload/EdgeCloudOffload-v0`` without importing the env.

Gymnasium calls :func:`register_envs` on ``import gymnasium`` through the entry point
``[project.entry-points."gymnasium.envs"]`` of ``pyproject.toml``, so
``gymnasium.make("genoffload/EdgeCloudOffload-v0")`` works after ``pip install genoffload``
without importing :mod:`genoffload.rl` first. The registration names the environment class by
its import path only; :mod:`genoffload.rl.env` (and its NumPy/xarray stack) is imported by
``make``, not by ``import gymnasium``.
"""

from __future__ import annotations

ENV_ID = "genoffload/EdgeCloudOffload-v0"
ENTRY_POINT = "genoffload.rl.env:EdgeCloudOffloadEnv"
MAX_EPISODE_STEPS = 300
"""Default episode length [decisions] of the registered environment."""


def register_envs() -> None:
    """Register ``genoffload/EdgeCloudOffload-v0`` with gymnasium (once per process)."""
    import gymnasium

    if ENV_ID not in gymnasium.registry:
        gymnasium.register(id=ENV_ID, entry_point=ENTRY_POINT, max_episode_steps=MAX_EPISODE_STEPS)
