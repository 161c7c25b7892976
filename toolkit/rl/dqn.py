"""DQN from stable-baselines3 (optional extra ``drl``), trained on the Gymnasium environment.

Training runs ``stable_baselines3.DQN`` on :class:`~genoffload.rl.env.EdgeCloudOffloadEnv`
(the observation is one-hot encoded by sb3) until the environment has drawn ``steps`` runner
steps, so the budget means the same as for Q-learning. Exploration decays linearly from 1 to
``exploration_final_eps`` over ``explore_share`` of the expected decisions. Evaluation goes
through :func:`genoffload.episode.run_episode` with :class:`DQNPolicy` (greedy, no learning).

Files: sb3's own ``.zip`` (``model.save``) with one extra member, ``genoffload.json``, holding
the observation specification and the training record; sb3 ignores it when loading.
"""

from __future__ import annotations

import copy
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from genoffload import __version__
from genoffload.episode import Step, StepDecision
from genoffload.errors import InputError
from genoffload.io import write_atomic
from genoffload.rl.observation import ObservationSpec
from genoffload.rl.options import EnvOptions, env_options
from genoffload.rl.training import TrainingLog, TrainingResult
from genoffload.scenario import ScenarioConfig

FORMAT = "genoffload-dqn"
META_MEMBER = "genoffload.json"
INSTALL_HINT = "needs the drl extra: pip install 'genoffload[drl]' (stable-baselines3, torch)"
DQN_DEFAULTS: dict[str, Any] = {
    "learning_rate": 3e-3,
    "buffer_size": 20_000,
    "learning_starts": 100,
    "batch_size": 64,
    "gamma": 0.0,  # one-step decisions, as Q-learning's discount (genoffload.rl.qlearning)
    "train_freq": 1,
    "gradient_steps": 4,
    "target_update_interval": 100,
    "exploration_initial_eps": 1.0,
    "exploration_final_eps": 0.02,
    "policy_kwargs": {"net_arch": [64, 64]},
}
"""Hyperparameters of ``stable_baselines3.DQN`` used unless overridden."""
EXPLORE_SHARE = 0.3
"""Share of the expected training decisions over which epsilon decays [1]."""


def require_sb3() -> Any:
    """The ``stable_baselines3`` module, or :class:`InputError` telling how to install it."""
    try:
        import stable_baselines3
    except ImportError:
        raise InputError("algo", "dqn", INSTALL_HINT) from None
    return stable_baselines3


def expected_decisions(base: ScenarioConfig, steps: int, arrival_prob: float) -> float:
    """Expected decisions of ``steps`` runner steps: ``E[max(Binomial(U, p), 1)]`` per step."""
    users = base.users * base.sites
    return steps * (users * arrival_prob + (1 - arrival_prob) ** users)


class DQNAgent:
    """A trained sb3 DQN model with its observation specification."""

    algo: ClassVar[str] = "dqn"

    def __init__(self, model: Any, spec: ObservationSpec, meta: dict[str, Any] | None = None) -> None:
        self.model = model
        self.spec = spec
        self.meta: dict[str, Any] = dict(meta or {})

    def greedy(self, obs: np.ndarray) -> np.ndarray:
        """Greedy decision of each observation row (True = offload)."""
        obs = np.asarray(obs, dtype=np.int64)
        if obs.shape[0] == 0:
            return np.zeros(0, dtype=bool)
        action, _ = self.model.predict(obs, deterministic=True)
        return np.asarray(action).reshape(-1).astype(bool)

    def save(self, path: Path | str) -> Path:
        """Write sb3's zip plus ``genoffload.json``, atomically."""
        meta = {"format": FORMAT, "version": 1, "algo": self.algo, "genoffload_version": __version__,
                "observation": self.spec.to_dict(),
                "observation_space": {"type": "MultiDiscrete", "nvec": list(self.spec.nvec),
                                      "names": list(self.spec.names)},
                **{k: v for k, v in self.meta.items() if k not in ("format", "version")}}

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                self.model.save(fh)
            with zipfile.ZipFile(tmp, "a") as zf:
                zf.writestr(META_MEMBER, json.dumps(meta, indent=1))

        return write_atomic(path, write)

    @classmethod
    def load(cls, path: Path | str) -> DQNAgent:
        """Read an agent written by :meth:`save`."""
        try:
            with zipfile.ZipFile(path) as zf:
                meta = json.loads(zf.read(META_MEMBER))
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as err:
            raise InputError("agent", str(path), f"not a dqn agent file ({type(err).__name__})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError("agent", str(path), "not a dqn agent file (unknown format)")
        sb3 = require_sb3()
        try:
            spec = ObservationSpec.from_dict(meta["observation"])
            model = sb3.DQN.load(path, device="cpu")
        except (KeyError, TypeError, ValueError, RuntimeError, zipfile.BadZipFile) as err:
            raise InputError("agent", str(path), f"corrupt dqn agent file ({type(err).__name__})") from None
        if tuple(model.observation_space.nvec) != spec.nvec:
            raise InputError("agent", str(path), "corrupt dqn agent file (model and observation differ)")
        extra = {k: v for k, v in meta.items() if k not in ("observation", "observation_space")}
        return cls(model, spec, extra)

    def online(self) -> DQNPolicy:
        """A greedy online policy of this agent (evaluation)."""
        return DQNPolicy(self)


class DQNPolicy:
    """Adapter: a trained DQN as a greedy :class:`~genoffload.episode.OnlinePolicy`."""

    name: ClassVar[str] = "dqn"

    def __init__(self, agent: DQNAgent) -> None:
        self.agent = agent

    def act(self, step: Step) -> StepDecision:
        alpha = self.agent.greedy(self.agent.spec.encode(step.scenario, step.z, step.est_units))
        n = alpha.size
        return StepDecision(alpha, ["rl"] * n, np.zeros(n), np.zeros(n))

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        return None


def _callback_class(base_callback: type) -> type:
    class Budget(base_callback):
        """Stops after ``steps`` runner steps; logs greedy actions; reports progress."""

        def __init__(self, steps: int, log: TrainingLog,
                     progress: Callable[[int, int], None] | None) -> None:
            super().__init__()
            self.steps, self.log, self.report = steps, log, progress
            self.current = 1

        def _on_training_start(self) -> None:
            self.current = int(self.training_env.get_attr("runner_steps")[0])

        def _on_step(self) -> bool:
            greedy, _ = self.model.predict(self.model._last_obs, deterministic=True)
            info = self.locals["infos"][0]
            rewards = info["rewards"]
            self.log.add(self.current - 1, int(np.asarray(greedy).reshape(-1)[0]),
                         int(np.asarray(self.locals["actions"]).reshape(-1)[0]), rewards[0], rewards[1],
                         info.get("optimal_reward"))
            now = int(self.training_env.get_attr("runner_steps")[0])
            if now != self.current and self.report is not None:
                self.report(min(now - 1, self.steps), self.steps)
            self.current = now
            return now <= self.steps

    return Budget


def train_dqn(base: ScenarioConfig, steps: int, seed: int = 0,
              options: EnvOptions | dict[str, Any] | None = None,
              hyperparameters: dict[str, Any] | None = None,
              progress: Callable[[int, int], None] | None = None) -> TrainingResult:
    """Train sb3's DQN on the environment for ``steps`` runner steps from ``seed``.

    Parameters
    ----------
    base : ScenarioConfig
    steps : int
        Runner steps drawn by the environment during training.
    seed : int
        Seeds the environment (the scenarios of ``run_episode(seed)``) and sb3 (network,
        exploration).
    options : EnvOptions or dict, optional
    hyperparameters : dict, optional
        Overrides of :data:`DQN_DEFAULTS` (any ``stable_baselines3.DQN`` argument).
    progress : callable(done, total), optional
    """
    if steps < 1:
        raise InputError("steps", steps, "must be >= 1")
    sb3 = require_sb3()
    import gymnasium
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    from genoffload.rl.env import ENV_ID

    opts = env_options(options)
    params = copy.deepcopy({**DQN_DEFAULTS, **(hyperparameters or {})})
    expected = expected_decisions(base, steps, opts.arrival_prob)
    cap = steps * base.users * base.sites + 1  # most decisions the budget can hold
    params.setdefault("exploration_fraction", min(1.0, EXPLORE_SHARE * expected / cap))
    env = gymnasium.make(ENV_ID, scenario=base, **opts.model_dump())
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny network: one thread is fastest, and reproducible
    log = TrainingLog()
    try:
        try:
            model = sb3.DQN("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **params)
        except TypeError as err:  # an unknown hyperparameter
            raise InputError("hyperparameters", hyperparameters, str(err)) from None
        t0 = time.perf_counter()
        model.learn(total_timesteps=cap, callback=_callback_class(BaseCallback)(steps, log, progress))
        elapsed = time.perf_counter() - t0
    finally:
        torch.set_num_threads(threads)
        env.close()
    model.env = None
    spec = opts.observation(base)
    meta = {"training": {"steps": steps, "decisions": log.decisions, "seed": seed, "time_s": elapsed,
                         "scenario": base.model_dump(mode="json"), "options": opts.model_dump(mode="json"),
                         "hyperparameters": {k: v for k, v in params.items() if k != "policy_kwargs"}
                         | {"net_arch": params["policy_kwargs"].get("net_arch")}}}
    return TrainingResult(DQNAgent(model, spec, meta), log, steps, elapsed)
