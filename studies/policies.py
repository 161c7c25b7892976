"""Policies of a study: the ``[[policy]]`` table, its validation, and the online policies built from it.

A policy entry names any policy of the registry (:mod:`genoffload.policy`: the heuristics, the
joint ``exact`` solver, ``icl``, ``q-learning``, ``dqn``). Each takes its own options (its
registry entry's ``options``); an option of another policy is an error. Offline policies run
online through :class:`genoffload.policy.RulePolicy`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genoffload.errors import InputError
from genoffload.policy import OnlinePolicy, PolicyEntry, policy_entry, policy_names
from genoffload.scenario import ScenarioConfig
from genoffload.schedulers import get_scheduler

COMMON = ("name", "label", "scheduler")


class PolicySpec(BaseModel):
    """One ``[[policy]]`` entry.

    Attributes
    ----------
    name : str
        Registered policy, ``icl``, ``q-learning`` or ``dqn``.
    label : str, optional
        Unique label in the results (default: ``name``).
    scheduler : str
        RB scheduler (pf, round-robin, max-rate); joint policies choose RBs themselves.
    llm, replay, epsilon, examples, explore, clock, calibrate, scoring, extras
        ICL options (``genoffload icl run`` has the same ones).
    agent : str, optional
        RL agent file; without it the agent is trained in the cell for ``train_steps``;
        ``"online"``: an untrained agent that learns during the cell's episode (its online
        learning curve, :mod:`genoffload.rl.online`).
    gap : float, optional
        Exact solver: target gap relative to the radio part [1] (default 1e-4).
    time_limit_s : float, optional
        Exact solver: wall-clock limit [s] (results then depend on the machine's speed).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str
    label: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$", max_length=80)
    scheduler: str = "pf"
    llm: str | None = None
    replay: str | None = None
    epsilon: str | None = None
    examples: int | None = Field(None, ge=1)
    explore: str | None = None
    clock: str | None = None
    calibrate: str | bool | None = None
    scoring: str | None = None
    extras: list[str] | None = None
    deadline_s: float | None = Field(None, gt=0)
    agent: str | None = None
    train_steps: int | None = Field(None, ge=1)
    gap: float | None = Field(None, gt=0)
    time_limit_s: float | None = Field(None, gt=0)

    @property
    def key(self) -> str:
        """The label, or the name when no label is given."""
        return self.label or self.name

    @property
    def entry(self) -> PolicyEntry:
        """The policy's registry entry."""
        return policy_entry(self.name, "policy.name")

    @property
    def kind(self) -> str:
        """The entry's category: ``rule``, ``joint`` (snapshot only), ``icl`` or ``rl``."""
        return self.entry.category

    def options(self) -> dict[str, Any]:
        """The given options of the policy itself (not ``name``, ``label``, ``scheduler``)."""
        return {k: v for k, v in self.model_dump(exclude_none=True).items() if k not in COMMON}


def is_snapshot_only(name: str) -> bool:
    """Joint policies (they choose the RBs: ``exact``) run on snapshots only."""
    return policy_entry(name).joint


def known_policies() -> list[str]:
    """Every name a ``[[policy]]`` may use."""
    return policy_names()


def check_policy(pol: PolicySpec, where: str) -> None:
    """Validate one entry (name, its own options, scheduler, then the entry's own check).

    Raises
    ------
    InputError
        Naming ``{where}.{option}`` and the value.
    """
    entry = policy_entry(pol.name, f"{where}.name")
    allowed = COMMON + entry.options
    for opt, value in pol.model_dump(exclude_none=True).items():
        if opt not in allowed:
            own = ", ".join(entry.options) or "none"
            raise InputError(f"{where}.{opt}", value, f"not an option of {pol.name} (its options: {own})")
    try:
        get_scheduler(pol.scheduler)
    except InputError as err:
        raise InputError(f"{where}.scheduler", err.value, err.reason) from None
    if entry.check is not None:
        entry.check(pol.options(), where)


def online_policy(pol: PolicySpec, base: ScenarioConfig, seed: int) -> OnlinePolicy:
    """Build the online policy of an entry for one cell.

    Parameters
    ----------
    pol : PolicySpec
        The entry.
    base : ScenarioConfig
        The case's scenario (RL agents are trained on it when no agent file is given).
    seed : int
        The cell's seed (learners derive their own seeds from it).
    """
    return pol.entry.build_online(pol.options(), base, seed)
