"""DQN from stable-baselines3 (optional extra ``drl``), trained on the Gymnasium environment.

Training runs ``stable_baselines3.DQN`` on :class:`~genoffload.rl.env.EdgeCloudOffloadEnv`
(the observation is one-hot encoded by sb3) until the environment has drawn ``steps`` runner
steps, so the budget means the same as for Q-learning. Exploration decays linearly from 1 to
``exploration_final_eps`` over ``explore_share`` of the expected decisions. Evaluation goes
through :func:`genoffload.episode.run_episode` with :class:`DQNPolicy` (greedy, no learning).

Files (format ``genoffload-dqn`` version 2, docs/rl.md): a zip with two members and no pickle,
``genoffload.json`` (observation specification, network layout, training record) and
``policy.pt``, the Q-network weights as a torch state dict of plain tensors, read with
``torch.load(weights_only=True)``. Loading rebuilds the sb3 model from the two. sb3's own
``.zip`` (``model.save``) is refused: ``DQN.load`` unpickles its ``data`` member, so an agent file
from anyone could run code on load.
"""

from __future__ import annotations

import copy
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import xarray as xr

from genoffload import __version__
from genoffload.errors import InputError
from genoffload.io import load_json, write_atomic
from genoffload.policy import Step, StepDecision
from genoffload.rl.observation import ObservationSpec
from genoffload.rl.options import EnvOptions, env_options
from genoffload.rl.training import TrainingLog, TrainingResult
from genoffload.scenario import ScenarioConfig

FORMAT = "genoffload-dqn"
FORMAT_VERSION = 2
META_MEMBER = "genoffload.json"
WEIGHTS_MEMBER = "policy.pt"
PICKLE_MEMBERS = ("data", "pytorch_variables.pth", "policy.optimizer.pth")
"""Members of sb3's own zip (``model.save``): loading them needs pickle."""
MAX_MEMBER_BYTES = 64 * 2**20
"""Largest member of an agent file [B] (the paper's network holds about 40 kB of weights)."""
PICKLE_REFUSED = ("written by stable-baselines3's model.save (or genoffload < 0.1 format 1): loading it "
                  "would unpickle, i.e. run code from the file; retrain with genoffload rl train "
                  "(docs/rl.md)")
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
        """Write ``genoffload.json`` and the weights ``policy.pt`` into a zip, atomically (no pickle)."""
        import torch

        policy_kwargs = dict(getattr(self.model, "policy_kwargs", None) or {})
        meta = {"format": FORMAT, "version": FORMAT_VERSION, "algo": self.algo,
                "genoffload_version": __version__,
                "observation": self.spec.to_dict(),
                "observation_space": {"type": "MultiDiscrete", "nvec": list(self.spec.nvec),
                                      "names": list(self.spec.names)},
                "action_space": {"type": "Discrete", "n": 2},
                "network": {"policy": "MlpPolicy", "net_arch": list(policy_kwargs.get("net_arch", [64, 64]))},
                **{k: v for k, v in self.meta.items() if k not in ("format", "version", "network")}}
        state = {k: v.detach().cpu().contiguous() for k, v in self.model.policy.state_dict().items()}
        buffer = io.BytesIO()
        torch.save(state, buffer)

        def write(tmp: Path) -> None:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(META_MEMBER, json.dumps(meta, indent=1))
                zf.writestr(WEIGHTS_MEMBER, buffer.getvalue())

        return write_atomic(path, write)

    @classmethod
    def load(cls, path: Path | str) -> DQNAgent:
        """Read an agent written by :meth:`save`; files that need pickle are refused.

        Raises
        ------
        InputError
            ``agent``: not an agent file, sb3's own pickled zip, or corrupt weights.
        """
        where = str(path)
        try:
            with zipfile.ZipFile(path) as zf:
                members = {info.filename: info for info in zf.infolist()}
                if any(name in members for name in PICKLE_MEMBERS):
                    raise InputError("agent", where, PICKLE_REFUSED)
                for info in members.values():
                    if info.file_size > MAX_MEMBER_BYTES:
                        raise InputError("agent", where, f"corrupt dqn agent file ({info.filename} is "
                                         f"larger than {MAX_MEMBER_BYTES // 2**20} MB)")
                meta = load_json(zf.read(META_MEMBER).decode("utf-8"), "agent", where)
                weights = zf.read(WEIGHTS_MEMBER) if WEIGHTS_MEMBER in members else None
        except InputError:
            raise
        except (OSError, KeyError, ValueError, zipfile.BadZipFile, EOFError) as err:
            raise InputError("agent", where, f"not a dqn agent file ({type(err).__name__})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise InputError("agent", where, "not a dqn agent file (unknown format)")
        if meta.get("version") != FORMAT_VERSION or weights is None:
            raise InputError("agent", where, PICKLE_REFUSED)
        sb3 = require_sb3()
        try:
            spec = ObservationSpec.from_dict(meta["observation"])
            net_arch = [int(n) for n in meta["network"]["net_arch"]]
        except (KeyError, TypeError, ValueError, InputError) as err:
            raise InputError("agent", where, f"corrupt dqn agent file ({type(err).__name__} in "
                             f"{META_MEMBER})") from None
        model = _rebuild(sb3, spec, net_arch, weights, where)
        extra = {k: v for k, v in meta.items()
                 if k not in ("observation", "observation_space", "action_space", "network")}
        return cls(model, spec, extra)

    def online(self) -> DQNPolicy:
        """A greedy online policy of this agent (evaluation)."""
        return DQNPolicy(self)


def _rebuild(sb3: Any, spec: ObservationSpec, net_arch: list[int], weights: bytes, where: str) -> Any:
    """An sb3 DQN for prediction, built from the spaces and network layout, with the weights read
    by ``torch.load(weights_only=True)`` (tensors only: no code runs)."""
    import pickle

    import torch
    from gymnasium import spaces

    try:
        state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, ValueError, EOFError, OSError, AttributeError,
            TypeError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError("agent", where,
                         f"corrupt dqn agent file ({WEIGHTS_MEMBER}: {reason[:120]})") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                              for k, v in state.items()):
        raise InputError("agent", where, f"corrupt dqn agent file ({WEIGHTS_MEMBER} holds no tensors)")
    model = sb3.DQN("MlpPolicy", env=None, device="cpu", _init_setup_model=False)
    model.observation_space = spaces.MultiDiscrete(list(spec.nvec))
    model.action_space = spaces.Discrete(2)
    model.policy_kwargs = {"net_arch": net_arch}
    model.buffer_size = 1  # prediction only: no replay buffer
    model.n_envs = 1
    model._setup_model()
    try:
        model.policy.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise InputError("agent", where, "corrupt dqn agent file (weights do not fit the network: "
                         f"{str(err).splitlines()[0][:100]})") from None
    model.policy.set_training_mode(False)
    return model


class DQNPolicy:
    """Adapter: a trained DQN as a greedy :class:`~genoffload.policy.OnlinePolicy`."""

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
