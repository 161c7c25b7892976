"""Policies of a study: the ``[[policy]]`` table, its validation, and the online policies built from it.

A policy entry names any registered policy (``genoffload.policies.POLICIES``: heuristics and the
joint ``exact`` solver), ``icl`` (the in-context-learning policy with an LLM), or an RL agent
(``q-learning``, ``dqn``, from :mod:`genoffload.rl`). Each kind has its own options; an option of
another kind is an error. Heuristics run online through :class:`genoffload.episode.RulePolicy`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from genoffload.episode import OnlinePolicy, RulePolicy
from genoffload.errors import InputError
from genoffload.io import check_model_file
from genoffload.policies import POLICIES, get_policy
from genoffload.scenario import ScenarioConfig
from genoffload.schedulers import get_scheduler

RL_NAMES = ("q-learning", "dqn")
ICL_OPTIONS = ("llm", "replay", "epsilon", "examples", "explore", "clock", "calibrate", "scoring", "extras",
               "deadline_s")
RL_OPTIONS = ("agent", "train_steps")
ONLINE_AGENT = "online"
"""``agent = "online"``: the RL agent starts untrained and learns during the episode."""
EXACT_OPTIONS = ("gap", "time_limit_s")
COMMON = ("name", "label", "scheduler")
RL_TRAIN_SEED_OFFSET = 1_000_003
"""RL agents trained in a cell use ``seed + offset``: training never sees the evaluation draws."""
_ICL_FIELDS = {"examples": "max_examples"}
_ICL_ERROR_FIELDS = {"keywords": "extras", "max_examples": "examples"}
_MODELS: dict[str, Any] = {}
"""Chat models loaded in this process (a Dask worker keeps its embedded LLM across cells)."""


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
    def kind(self) -> str:
        """``icl``, ``rl``, ``joint`` (snapshot only) or ``rule``."""
        if self.name == "icl":
            return "icl"
        if self.name in RL_NAMES:
            return "rl"
        return "joint" if is_snapshot_only(self.name) else "rule"


def is_snapshot_only(name: str) -> bool:
    """Joint policies (they choose the RBs: ``exact``) run on snapshots only."""
    return name not in RL_NAMES and bool(getattr(POLICIES.get(name), "joint", False))


def known_policies() -> list[str]:
    """Every name a ``[[policy]]`` may use."""
    return sorted({*POLICIES, "icl", *RL_NAMES})


def _allowed(kind: str) -> tuple[str, ...]:
    return COMMON + {"icl": ICL_OPTIONS, "rl": RL_OPTIONS, "joint": EXACT_OPTIONS}.get(kind, ())


def icl_settings(pol: PolicySpec) -> Any:
    """The :class:`~genoffload.policies.icl.ICLSettings` of an ``icl`` entry."""
    from genoffload.policies.icl import ICLSettings

    kw: dict[str, Any] = {}
    for opt in ICL_OPTIONS[1:]:
        value = getattr(pol, opt)
        if value is not None:
            kw[_ICL_FIELDS.get(opt, opt)] = tuple(value) if opt == "extras" else value
    return ICLSettings(**kw)


def check_policy(pol: PolicySpec, where: str) -> None:
    """Validate one entry (name, options of its kind, scheduler, LLM spec, ICL settings, agent).

    Raises
    ------
    InputError
        Naming ``{where}.{option}`` and the value.
    """
    if pol.name not in known_policies():
        raise InputError(f"{where}.name", pol.name, f"unknown policy (known: {', '.join(known_policies())})")
    allowed = _allowed(pol.kind)
    for opt, value in pol.model_dump(exclude_none=True).items():
        if opt not in allowed:
            own = ", ".join(allowed[len(COMMON):]) or "none"
            raise InputError(f"{where}.{opt}", value, f"not an option of {pol.name} (its options: {own})")
    try:
        get_scheduler(pol.scheduler)
    except InputError as err:
        raise InputError(f"{where}.scheduler", err.value, err.reason) from None
    if pol.agent == ONLINE_AGENT and pol.train_steps is not None:
        raise InputError(f"{where}.train_steps", pol.train_steps, "an online agent learns in the episode")
    if pol.agent not in (None, ONLINE_AGENT):  # loaded safely (no pickle): a bad file fails before any cell
        from genoffload.rl.agents import load_agent

        try:
            load_agent(pol.agent, pol.name)
        except InputError as err:
            raise InputError(f"{where}.agent", pol.agent, err.reason) from None
    if pol.kind == "icl":
        from genoffload.llm import parse_llm_spec

        try:
            parsed = parse_llm_spec(pol.llm or "embedded")
        except InputError as err:
            raise InputError(f"{where}.llm", err.value, err.reason) from None
        if parsed.provider == "embedded" and parsed.model:
            check_model_file(parsed.model, f"{where}.llm", pol.llm or "embedded")
        try:
            icl_settings(pol)
        except InputError as err:
            field = _ICL_ERROR_FIELDS.get(err.field, err.field)
            raise InputError(f"{where}.{field}", err.value, err.reason) from None


def chat_model(spec: str) -> Any:
    """A LangChain chat model for an ``--llm`` spec; embedded models are loaded once per process.

    Stateful test models (``fake:``) are built anew for every cell, so results do not depend on
    which cells a worker ran before.
    """
    from genoffload.llm import MissingDependencyError, build_chat_model, parse_llm_spec

    parsed = parse_llm_spec(spec)
    if parsed.provider == "embedded" and spec in _MODELS:
        return _MODELS[spec]
    try:
        model = build_chat_model(parsed)
    except (MissingDependencyError, FileNotFoundError) as err:
        raise InputError("llm", spec, str(err).removeprefix("llm: ")) from None
    except (ValueError, RuntimeError) as err:  # llama.cpp: "Failed to load model from file"
        reason = (str(err).splitlines() or [type(err).__name__])[0][:100]
        raise InputError("llm", spec, f"cannot load the GGUF model ({reason})") from None
    if parsed.provider == "embedded":
        _MODELS[spec] = model
    return model


def loaded_models() -> int:
    """Embedded chat models loaded in this process so far (one per spec)."""
    return len(_MODELS)


def online_policy(pol: PolicySpec, base: ScenarioConfig, seed: int) -> OnlinePolicy:
    """Build the online policy of an entry for one cell.

    Parameters
    ----------
    pol : PolicySpec
        The entry.
    base : ScenarioConfig
        The case's scenario (RL agents are trained on it when no agent file is given).
    seed : int
        The cell's seed; an RL agent trained here uses ``seed + RL_TRAIN_SEED_OFFSET``.
    """
    if pol.kind == "icl":
        from genoffload.policies.icl import ICLPolicy

        return ICLPolicy(chat_model(pol.llm or "embedded"), icl_settings(pol))
    if pol.kind == "rl":
        from genoffload import rl  # written with issue 5; imported only when a study uses it

        if pol.agent == ONLINE_AGENT:
            from genoffload.rl.online import online_learner

            return online_learner(pol.name, base, seed + RL_TRAIN_SEED_OFFSET)
        maker = getattr(rl, "online_policy", None)
        if maker is None:
            raise InputError("policy", pol.name, "genoffload.rl has no online_policy (RL not installed)")
        return maker(pol.name, base, agent=pol.agent, train_steps=pol.train_steps,
                     seed=seed + RL_TRAIN_SEED_OFFSET)
    return RulePolicy(get_policy(pol.name))
