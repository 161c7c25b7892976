"""The one policy interface: every offloading policy decides a step; an offline policy is a special case.

An online policy (:class:`OnlinePolicy`) sees one :class:`Step` at a time (the step's snapshot,
the scheduler's allocation ``z``, the estimated output sizes), returns a :class:`StepDecision`,
and may learn from the evaluated outcome in ``observe``. An offline policy (:class:`Policy`)
decides a whole snapshot from ``(scenario, z)`` and learns nothing: :class:`RulePolicy` runs it
as an online one. Heuristics, the exact solver, ICL, Q-learning and DQN are all found by name
in one registry (:class:`PolicyEntry`, :func:`policy_entry`), below; the CLI and the studies
resolve names there and nowhere else. Entries are found in two ways:

- packages declare them as entry points of the group ``genoffload.policies`` in their
  ``pyproject.toml`` (``name = "module:ENTRY"``); the module is imported only when the policy is
  used, so ``--help`` and the core import no solver, LLM or torch, and no layer of the code
  imports an upper one to fill the registry;
- a script or a test calls :func:`register_policy` (see "Adding a policy" in
  ``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.errors import InputError

if TYPE_CHECKING:
    from genoffload.scenario import ScenarioConfig

BoolArray = NDArray[np.bool_]


@dataclass
class Plan:
    """Decisions for one scenario: RB allocation ``z[user, rb]`` and offloading ``alpha[task]``."""

    z: BoolArray
    alpha: BoolArray
    info: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """An offline offloading policy: one decision for a whole snapshot.

    ``decide(scenario, z)`` returns a :class:`Plan`. Offloading-only policies keep the given
    allocation ``z`` (from a scheduler); joint policies (``joint = True``, e.g. the exact
    solver) choose ``z`` as well and may use the given one as a warm start.
    """

    name: ClassVar[str]
    joint: ClassVar[bool]

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan: ...


@dataclass
class Step:
    """What a policy sees at one step of an episode."""

    index: int
    scenario: xr.Dataset
    z: np.ndarray
    est_units: np.ndarray  # estimated output size of each task [token or item]
    rng: np.random.Generator


@dataclass
class StepDecision:
    """A policy's decisions for the tasks of a step, with where each came from."""

    alpha: np.ndarray
    source: list[str]  # per task: "llm", "explore", "mask", "fallback", "rule", "rl"
    latency_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prompt_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))


class OnlinePolicy(Protocol):
    """A policy that decides step by step and may learn from each outcome."""

    name: ClassVar[str]

    def act(self, step: Step) -> StepDecision: ...

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None: ...


class RulePolicy:
    """Adapter: an offline :class:`Policy` as an online one (it decides each step, learns nothing).

    Parameters
    ----------
    policy : Policy or str
        The policy, or a registered name (:func:`get_policy`).
    """

    name: ClassVar[str] = "rule"

    def __init__(self, policy: Policy | str) -> None:
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.name = self.policy.name  # type: ignore[misc]

    def act(self, step: Step) -> StepDecision:
        plan = self.policy.decide(step.scenario, step.z)
        n = plan.alpha.size
        return StepDecision(plan.alpha, ["rule"] * n, np.zeros(n), np.zeros(n))

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        return None



GROUP = "genoffload.policies"
"""Entry-point group of the policies."""

Category = Literal["rule", "joint", "icl", "rl"]


@dataclass(frozen=True)
class PolicyEntry:
    """How a registered policy is built, checked and run.

    Attributes
    ----------
    name : str
        The name users write (``--policy``, ``[[policy]] name``).
    category : {"rule", "joint", "icl", "rl"}
        What it is, for tables and cost estimates (a rule-based heuristic, a joint solver that
        chooses the RBs too, an LLM policy, an RL agent); behaviour never switches on it.
    offline : callable, optional
        ``offline(**options) -> Policy``: the snapshot policy (``genoffload evaluate``,
        ``run_policy``). Without it the policy only runs online.
    online : callable, optional
        ``online(options, base, seed) -> OnlinePolicy``: the policy for an episode (studies,
        ``genoffload rl eval``); ``options`` are the study options of :attr:`options` that were
        given, ``base`` the case's scenario config, ``seed`` the cell's seed. Default: the
        offline policy run by :class:`genoffload.policy.RulePolicy`.
    options : tuple of str
        The study options it takes beside ``name``, ``label`` and ``scheduler``.
    check : callable, optional
        ``check(options, where)`` raises :class:`InputError` naming ``{where}.{option}``.
    joint : bool
        It chooses the RB allocation itself, so it runs on snapshots only.
    learned : bool
        Offline use needs a trained agent (``--agent``) or trains one.
    warm_up : callable, optional
        ``warm_up(options) -> bool``: before a snapshot decision, it learns through one episode.
    description : str
        One line for listings.
    """

    name: str
    category: Category
    offline: Callable[..., Policy] | None = None
    online: Callable[[Mapping[str, Any], ScenarioConfig, int], OnlinePolicy] | None = None
    options: tuple[str, ...] = ()
    check: Callable[[Mapping[str, Any], str], None] | None = None
    joint: bool = False
    learned: bool = False
    warm_up: Callable[[Mapping[str, Any]], bool] | None = None
    description: str = ""

    def build_online(self, options: Mapping[str, Any], base: ScenarioConfig, seed: int) -> OnlinePolicy:
        """The online policy (an offline one through :class:`~genoffload.policy.RulePolicy`)."""
        if self.online is not None:
            return self.online(options, base, seed)
        return RulePolicy(self.build_offline(**options))

    def build_offline(self, **options: Any) -> Policy:
        """The offline policy; an online-only policy raises :class:`InputError` (``policy``)."""
        if self.offline is None:
            raise InputError("policy", self.name, "runs online only (in an episode or a study)")
        return self.offline(**options)


_REGISTERED: dict[str, PolicyEntry] = {}
_DECLARED: dict[str, Any] | None = None


def _declared() -> dict[str, Any]:
    """The entry points of :data:`GROUP` by name (first declaration of a name wins)."""
    global _DECLARED
    if _DECLARED is None:
        found: dict[str, Any] = {}
        for ep in entry_points(group=GROUP):
            found.setdefault(ep.name, ep)
        _DECLARED = found
    return _DECLARED


def register_policy(entry: PolicyEntry) -> PolicyEntry:
    """Make a policy available by name (it shadows a declared one of the same name)."""
    _REGISTERED[entry.name] = entry
    return entry


def unregister_policy(name: str) -> None:
    """Remove a policy registered with :func:`register_policy` (tests)."""
    _REGISTERED.pop(name, None)


def policy_names() -> list[str]:
    """Every registered name, sorted (no module is imported)."""
    return sorted({*_declared(), *_REGISTERED})


def policy_entry(name: str, where: str = "policy") -> PolicyEntry:
    """The entry of ``name``.

    Raises
    ------
    InputError
        ``where`` for an unknown name, listing the known ones.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    ep = _declared().get(name)
    if ep is None:
        raise InputError(where, name, f"unknown policy (known: {', '.join(policy_names())})")
    entry = ep.load()
    if not isinstance(entry, PolicyEntry) or entry.name != name:
        raise TypeError(f"entry point {ep.value} of {GROUP} is not the PolicyEntry {name!r}")
    return entry


def entries() -> list[PolicyEntry]:
    """Every entry, sorted by name (imports every declared policy module)."""
    return [policy_entry(n) for n in policy_names()]


def get_policy(name: str, **options: Any) -> Policy:
    """The offline policy ``name`` built with ``options``; unknown names raise :class:`InputError`."""
    return policy_entry(name).build_offline(**options)
