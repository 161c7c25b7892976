"""Gymnasium environment ``genoffload/EdgeCloudOffload-v0``: one task decision per step.

The environment is not a second simulator: it draws runner steps exactly as
:func:`genoffload.episode.run_episode` does (:func:`~genoffload.episode.step_scenario`, the
scheduler, the token-estimate noise, all from ``self.np_random``), scores decisions with
:func:`genoffload.evaluate.evaluate` and the certified per-step reference with
:class:`genoffload.models.reference.Reference` (as the runner). The tasks of a runner step are queued; each
``step(action)`` decides the task at the head of the queue; when the queue is empty the next
runner step is drawn. With the same seed and a policy that draws no random numbers, the
environment visits the same scenarios and gives the same rewards as ``run_episode``.

Spaces (see ``docs/rl.md``): observation ``MultiDiscrete`` (:mod:`genoffload.rl.observation`:
service type, size bucket, optional link and load buckets); action ``Discrete(2)``: 0 = local
(edge), 1 = offload (cloud). Reward: eq. (10) of the decided task [s], from the evaluator on
the tasks of the runner step decided so far (the earlier tasks of the step keep their
decisions; without coupling constraint families a task's reward does not depend on the
others, and equals the runner's). The environment never terminates; ``gymnasium.make`` wraps
it in a ``TimeLimit`` of ``max_episode_steps`` decisions (default 300).

``info`` of ``step``: ``optimal_reward`` [s] and ``optimal_action`` of the decided task (its
reward and decision in the runner step's certified offloading optimum given the allocation,
alpha* | z), ``regret`` [s] (``optimal_reward - reward``; NaN when the task's cell is coupled:
``coupled``), ``joint_reward`` [s] (its reward in the certified joint optimum), the runner step's
totals ``step_optimal_reward``, ``step_joint_reward`` [s] and certified gaps ``offload_gap``,
``joint_gap`` [s], ``rewards`` [s] (the reward each action would have had given the earlier
decisions), ``quality_ok``, ``constraints_ok``; and for the observation returned with it:
``action_mask`` (int8, 1 = allowed: the action meets every hard constraint of the evaluator —
quality (4e), hard SLO, edge KV cache, backhaul capacity, minimum rate — given the earlier
decisions of the step; when neither does, both are allowed since the penalty is then
unavoidable), ``runner_step`` (index in the episode), ``task`` (index in the runner step),
``runner_steps`` (runner steps drawn since the last seeded reset: the position in the random
stream, counted across unseeded resets).
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from genoffload.episode import step_scenario
from genoffload.errors import InputError
from genoffload.evaluate import evaluate_arrays
from genoffload.gym_plugin import ENV_ID, MAX_EPISODE_STEPS
from genoffload.gym_plugin import register_envs as register_env
from genoffload.models.reference import Reference
from genoffload.rl.options import env_options, scenario_config
from genoffload.schedulers import get_scheduler

__all__ = ["ENV_ID", "MAX_EPISODE_STEPS", "EdgeCloudOffloadEnv", "register_env"]


class EdgeCloudOffloadEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Edge/cloud offloading of generation tasks, one task decision per step.

    Parameters
    ----------
    scenario : ScenarioConfig, dict, str or Path, optional
        The generating config (a dict of config keys or a TOML/JSON config file); default
        the paper setting.
    render_mode : {None, 'ansi'}
    **options
        :class:`genoffload.rl.options.EnvOptions` (``arrival_prob``, ``token_noise``,
        ``scheduler``, ``extras``, ``size_edges``, ``link_edges_mbps``, ``load_edges``);
        unknown options raise :class:`~genoffload.errors.InputError`.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}  # noqa: RUF012 (gymnasium API)

    def __init__(self, scenario: Any = None, render_mode: str | None = None, **options: Any) -> None:
        super().__init__()
        if render_mode not in (None, "ansi"):
            raise InputError("env.render_mode", render_mode, "must be None or 'ansi'")
        self.render_mode = render_mode
        self.base = scenario_config(scenario)
        self.options = env_options(options)
        self.obs_spec = self.options.observation(self.base)
        self.observation_space = spaces.MultiDiscrete(np.array(self.obs_spec.nvec, dtype=np.int64))
        self.action_space = spaces.Discrete(2)
        self._scheduler = get_scheduler(self.options.scheduler)
        self._reference = Reference("joint")
        self.runner_steps = 0
        self._t = -1
        self._i = 0

    # --- runner steps --------------------------------------------------------------------
    def _draw(self) -> None:
        """Draw the next runner step, exactly as ``run_episode`` does."""
        rng = self.np_random
        ds = step_scenario(self.base, rng, self.options.arrival_prob)
        z = self._scheduler(ds)
        units = ds["units"].values
        noise = rng.normal(0.0, self.options.token_noise, units.size) if self.options.token_noise else 0.0
        est = np.maximum(np.rint(units * (1.0 + noise)), 1.0)
        self._ds, self._z, self._est = ds, z, est
        self._obs = self.obs_spec.encode(ds, z, est)
        ref = self._reference(ds, z)
        assert ref is not None and ref.joint is not None
        self._ref = ref
        self._alpha = np.zeros(units.size, dtype=bool)
        self._t += 1
        self._i = 0
        self.runner_steps += 1
        self._outcomes()

    def _outcomes(self) -> None:
        """Reward and hard-constraint flags of both actions for the task at the head."""
        i, n = self._i, self._ds.sizes["task"]
        sub = self._ds if i == n - 1 else self._ds.isel(task=slice(0, i + 1))
        alpha = self._alpha[: i + 1].copy()
        out = []
        for action in (False, True):
            alpha[i] = action
            out.append(evaluate_arrays(sub, self._z, alpha))
        self._rewards = np.array([float(r["reward"][i]) for r in out])
        self._ok = np.array([bool(r["constraints_ok"][i]) for r in out])
        self._quality = np.array([bool(r["quality_ok"][i]) for r in out])

    def action_masks(self) -> np.ndarray:
        """Allowed actions for the current task (1 = meets every hard constraint)."""
        return (self._ok if self._ok.any() else np.ones(2, dtype=bool)).astype(np.int8)

    def _info(self) -> dict[str, Any]:
        return {"action_mask": self.action_masks(), "runner_step": self._t, "task": self._i,
                "runner_steps": self.runner_steps}

    # --- the gymnasium API ---------------------------------------------------------------
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode; with ``seed`` the runner steps are those of ``run_episode(seed)``."""
        super().reset(seed=seed)
        if seed is not None:
            self.runner_steps = 0
        if options:
            raise InputError("reset.options", options, "the environment takes no reset options")
        self._t = -1
        self._draw()
        return self._obs[self._i].copy(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Decide the task at the head of the queue (0 local/edge, 1 offload/cloud)."""
        if self._t < 0:
            raise gymnasium.error.ResetNeeded("call reset() before step()")
        a = int(action)
        if a not in (0, 1):
            raise InputError("action", action, "must be 0 (local) or 1 (offload)")
        i = self._i
        reward = float(self._rewards[a])
        ref, joint = self._ref.offload, self._ref.joint
        assert joint is not None
        best = float(ref.reward[i])
        coupled = bool(ref.coupled[i])
        done = {"optimal_reward": best, "regret": float("nan") if coupled else best - reward,
                "optimal_action": int(ref.alpha[i]), "coupled": coupled,
                "joint_reward": float(joint.reward[i]),
                "step_optimal_reward": float(ref.reward.sum()),
                "step_joint_reward": float(joint.reward.sum()), "offload_gap": float(ref.gap),
                "joint_gap": float(joint.gap), "rewards": self._rewards.copy(),
                "quality_ok": bool(self._quality[a]), "constraints_ok": bool(self._ok[a])}
        self._alpha[i] = bool(a)
        if i + 1 < self._ds.sizes["task"]:
            self._i += 1
            self._outcomes()
        else:
            self._draw()
        return self._obs[self._i].copy(), reward, False, False, {**done, **self._info()}

    def render(self) -> str | None:
        """Text of the current task (``render_mode='ansi'``)."""
        if self.render_mode != "ansi":
            return None
        obs = self._obs[self._i]
        parts = ", ".join(f"{n}={int(v)}" for n, v in zip(self.obs_spec.names, obs, strict=True))
        return (f"runner step {self._t} task {self._i + 1}/{self._ds.sizes['task']}: "
                f"{self._ds['service'].values[self._i]} ({parts}); rewards edge "
                f"{self._rewards[0]:.2f} s, cloud {self._rewards[1]:.2f} s; mask "
                f"{self.action_masks().tolist()}")


