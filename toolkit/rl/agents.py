"""RL agents wherever policies are named: loading, training, online and offline policies.

``online_policy(algo, base, agent=...)`` gives an :class:`~genoffload.policy.OnlinePolicy` for
``run_episode`` (studies, ``genoffload rl eval``). The offline policies ``q-learning`` and
``dqn`` are in the policy registry (:mod:`genoffload.rl.entries`;
``get_policy("q-learning", agent=PATH)``, ``genoffload evaluate --policy q-learning --agent
PATH``): per task the greedy decision from the task's observation, with the true output size
(offline, no estimate noise). Without an agent, ``q-learning`` trains one on the scenario's
config (its ``config`` attribute) with the default budget at the first decision; ``dqn``
needs an agent.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import xarray as xr

from genoffload.errors import InputError
from genoffload.io import load_json
from genoffload.policy import OnlinePolicy, Plan
from genoffload.rl.dqn import DQNAgent, train_dqn
from genoffload.rl.observation import ObservationSpec
from genoffload.rl.options import EnvOptions, scenario_config
from genoffload.rl.qlearning import QAgent, train_q_learning
from genoffload.rl.training import TrainingResult
from genoffload.scenario import ScenarioConfig

ALGOS = ("q-learning", "dqn")
DEFAULT_TRAIN_STEPS: dict[str, int] = {"q-learning": 300, "dqn": 600}
"""Default training budgets [runner steps] (the paper setting converges in about 160-200)."""
TRAIN_HINT = "train one with: genoffload rl train --algo dqn -o AGENT.zip, then pass --agent AGENT.zip"


def check_algo(algo: str) -> str:
    """Validate an algorithm name."""
    if algo not in ALGOS:
        raise InputError("algo", algo, f"unknown algorithm (known: {', '.join(ALGOS)})")
    return algo


def agent_algo(path: str | Path, algo: str | None = None) -> str:
    """The algorithm of an agent file, told apart by content without loading it (cheap: no torch).

    Raises
    ------
    InputError
        ``agent`` for a missing, unreadable or foreign file, a dqn file that needs pickle
        (stable-baselines3's own ``model.save``), or an agent of another algorithm than ``algo``.
    """
    from genoffload.rl.dqn import FORMAT_VERSION, PICKLE_MEMBERS, PICKLE_REFUSED

    p = Path(path)
    if p.is_dir():
        raise InputError("agent", str(path), "is a folder, expected an agent file")
    if not p.is_file():
        raise InputError("agent", str(path), "no such file")
    foreign = ("not a genoffload agent file (expected a q-learning .npz or a dqn .zip from "
               "genoffload rl train)")
    try:
        with zipfile.ZipFile(p) as zf:
            names = set(zf.namelist())
            small = "genoffload.json" in names and zf.getinfo("genoffload.json").file_size < 2**20
            meta = zf.read("genoffload.json").decode("utf-8", "replace") if small else "{}"
    except (OSError, zipfile.BadZipFile, EOFError, ValueError):
        raise InputError("agent", str(path), foreign) from None
    if "meta.npy" in names:
        found = "q-learning"
    elif "genoffload.json" in names:
        doc = load_json(meta, "agent", str(path))
        if names & set(PICKLE_MEMBERS) or not isinstance(doc, dict) or doc.get("version") != FORMAT_VERSION:
            raise InputError("agent", str(path), PICKLE_REFUSED)
        found = "dqn"
    else:
        raise InputError("agent", str(path), foreign)
    if algo is not None and found != check_algo(algo):
        raise InputError("agent", str(path), f"is a {found} agent, not {algo}")
    return found


def load_agent(path: str | Path, algo: str | None = None) -> QAgent | DQNAgent:
    """Load a saved agent (Q-learning ``.npz`` or DQN ``.zip``, told apart by content); neither
    format uses pickle, and files that need it are refused (docs/rl.md).

    Raises
    ------
    InputError
        ``agent`` for a missing, unreadable or foreign file, a file that needs pickle, or an
        agent of another algorithm than ``algo``.
    """
    found = agent_algo(path, algo)
    return QAgent.load(Path(path)) if found == "q-learning" else DQNAgent.load(Path(path))


def check_observation(agent: QAgent | DQNAgent, base: ScenarioConfig, where: str) -> None:
    """The agent's observation space must be the one ``base`` gives with the agent's buckets."""
    s = agent.spec
    needed = ObservationSpec.for_config(base, s.extras, s.size_edges, s.link_edges_mbps, s.load_edges)
    s.check_matches(needed, where)


def train(algo: str, base: ScenarioConfig, steps: int | None = None, seed: int = 0,
          options: EnvOptions | dict[str, Any] | None = None,
          progress: Callable[[int, int], None] | None = None, **settings: Any) -> TrainingResult:
    """Train an agent of ``algo`` on ``base`` for ``steps`` runner steps (default budget if None).

    ``settings``: :class:`~genoffload.rl.qlearning.QSettings` fields (``epsilon``,
    ``learning_rate``, ``discount``) for Q-learning; for DQN ``hyperparameters`` (a dict of
    ``stable_baselines3.DQN`` arguments).
    """
    n = DEFAULT_TRAIN_STEPS[check_algo(algo)] if steps is None else steps
    if algo == "q-learning":
        from genoffload.rl.qlearning import QSettings

        return train_q_learning(base, n, seed, options, QSettings(**settings), progress)
    unknown = set(settings) - {"hyperparameters"}
    if unknown:
        raise InputError("settings", sorted(unknown)[0], "not a dqn setting (use hyperparameters)")
    return train_dqn(base, n, seed, options, settings.get("hyperparameters"), progress)


def online_policy(algo: str, base: ScenarioConfig, *, agent: str | Path | None = None,
                  train_steps: int | None = None, seed: int = 0,
                  progress: Callable[[int, int], None] | None = None) -> OnlinePolicy:
    """A trained RL agent as an OnlinePolicy for ``run_episode``.

    Loaded from ``agent`` when given (its observation space must fit ``base``), else trained
    on ``base`` for ``train_steps`` runner steps (default budget) with ``seed``. Acts
    greedily (no exploration, no random draws) and does not learn during evaluation.
    Decision source: ``"rl"``.

    Raises
    ------
    InputError
        Unknown ``algo``; a missing, corrupt or mismatched agent; ``dqn`` without the
        ``drl`` extra (with how to install it).
    """
    check_algo(algo)
    if agent is not None:
        loaded = load_agent(agent, algo)
        check_observation(loaded, base, str(agent))
        return loaded.online()
    return train(algo, base, train_steps, seed, progress=progress).agent.online()


class _LearnedPolicy:
    """Offline (snapshot) policy of a trained agent: greedy decision per task."""

    name: ClassVar[str] = ""
    joint: ClassVar[bool] = False
    learned: ClassVar[bool] = True  # needs an agent: left out of "all" and the demo

    def __init__(self, agent: str | Path | QAgent | DQNAgent | None = None,
                 train_steps: int | None = None, seed: int = 0,
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.agent = load_agent(agent, self.name) if isinstance(agent, str | Path) else agent
        if self.agent is not None and self.agent.algo != self.name:
            raise InputError("agent", self.agent.algo, f"is a {self.agent.algo} agent, not {self.name}")
        self.train_steps, self.seed, self.progress = train_steps, seed, progress

    def _trained(self, scenario: xr.Dataset) -> QAgent | DQNAgent:
        raise InputError("agent", None, f"the {self.name} policy needs a trained agent")

    def decide(self, scenario: xr.Dataset, z: Any) -> Plan:
        agent = self.agent if self.agent is not None else self._trained(scenario)
        self.agent = agent
        alpha = agent.greedy(agent.spec.encode(scenario, z, scenario["units"].values))
        return Plan(z, alpha, {"agent": agent.spec.describe()})


class QLearningOffline(_LearnedPolicy):
    """Tabular Q-learning agent (greedy); trains on the scenario's config when given no agent."""

    name: ClassVar[str] = "q-learning"

    def _trained(self, scenario: xr.Dataset) -> QAgent | DQNAgent:
        base = scenario_config(scenario)
        return train("q-learning", base, self.train_steps, self.seed, progress=self.progress).agent


class DQNOffline(_LearnedPolicy):
    """DQN agent (stable-baselines3, greedy); needs a trained agent."""

    name: ClassVar[str] = "dqn"

    def __init__(self, agent: str | Path | QAgent | DQNAgent | None = None, **options: Any) -> None:
        if agent is None:
            raise InputError("agent", None, f"the dqn policy needs a trained agent: {TRAIN_HINT}")
        super().__init__(agent, **options)


def offline_policy(name: str, scenario: xr.Dataset, agent: str | Path | None = None,
                   train_steps: int | None = None, seed: int = 0,
                   progress: Callable[[int, int], None] | None = None) -> QLearningOffline | DQNOffline:
    """The offline ``q-learning`` / ``dqn`` policy for ``scenario``, ready to decide.

    With ``agent`` the agent is loaded and its observation space checked against the
    scenario's config; a ``q-learning`` policy without one is trained now on the scenario's
    config (default budget, ``progress(done, total)`` per runner step), so that deciding
    (and its timing) excludes training; ``dqn`` without an agent raises :class:`InputError`.
    """
    check_algo(name)
    if agent is not None:
        loaded = load_agent(agent, name)
        if isinstance(scenario.attrs.get("config"), str):
            check_observation(loaded, scenario_config(scenario), str(agent))
        return QLearningOffline(loaded) if name == "q-learning" else DQNOffline(loaded)
    if name == "dqn":
        return DQNOffline(None)
    base = scenario_config(scenario)
    return QLearningOffline(train("q-learning", base, train_steps, seed, progress=progress).agent)
