"""Gymnasium registration of ``genoffload/EdgeCloudOffload-v0`` that imports nothing heavy.

Two ways in, without importing :mod:`genoffload.rl` first:

- Gymnasium 1.x (no plugin loader any more): the ``module:id`` form of ``make`` imports this
  module, which registers on import:
  ``gymnasium.make("genoffload.gym_plugin:genoffload/EdgeCloudOffload-v0")``.
- Gymnasium 0.26-0.29 call the ``gymnasium.envs`` entry points on ``import gymnasium``:
  ``pyproject.toml`` declares :func:`register_envs` there, so plain
  ``gymnasium.make("genoffload/EdgeCloudOffload-v0")`` works.

The registration names the environment class by its import path only; :mod:`genoffload.rl.env`
(and its NumPy/xarray stack) is imported by ``make``, not by the registration.
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


register_envs()
