"""Study specification: a TOML file validated into cases, policies and cells.

A study file has four parts (see ``docs/studies.md``)::

    [study]     name, description, mode ("episode" | "snapshot"), seeds, steps, metrics, ...
    [base]      scenario config keys (genoffload.scenario.ScenarioConfig) + llm_pair, families
    [[sweep]]   name, optional mode / steps / policies, and grid keys given as lists
    [[policy]]  name, label, scheduler and the policy's own options

The cases are the union of the sweeps (each sweep the product of its lists, every other key from
``[base]``), deduplicated; a study without sweeps has the single base case. A cell is one
(case, policy, seed). Every bad key or value raises one :class:`~genoffload.errors.InputError`
naming the field path (``sweep[1].users[2]``, ``policy[0].llm``) and the value.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genoffload.catalog import load_catalog
from genoffload.errors import InputError, validation_error
from genoffload.families import Family, families_from_config, get_family
from genoffload.scenario import ScenarioConfig, make_config
from genoffload.sizes import check_episode_size, check_study_curves, check_study_size
from genoffload.studies.kinds import StudyNames, check_seeds, digest, list_length, upper_cases_seeds
from genoffload.studies.policies import PolicySpec as PolicySpec
from genoffload.studies.policies import check_policy, is_snapshot_only

STUDY_KEYS = ("llm_pair", "families")
"""Case keys that are not ScenarioConfig fields."""
SWEEP_SETTINGS = ("name", "mode", "steps", "policies")
"""Keys of a ``[[sweep]]`` that are not grid keys."""
GRID_COLUMNS = ("sites", "users", "rbs", "token_mean", "quality_share", "llm_pair", "edge_model",
                "cloud_model", "families")
"""Grid columns of ``summary.parquet`` (always present)."""
METRICS: dict[str, str] = {
    "mean_reward": "s", "optimal_reward": "s", "regret": "s", "success_rate": "1",
    "mean_delay_s": "s", "tail_reward_ratio": "1", "tail_success_rate": "1", "objective_s": "s",
    "radio_part_s": "s", "exact_objective_s": "s", "exact_radio_part_s": "s", "gap_total": "1",
    "gap_radio": "1", "exact_gap": "1", "decisions": "1", "fallbacks": "1", "explorations": "1",
    "decisions_per_s": "1/s", "wall_s": "s", "preferred_success_rate": "1", "feasible": "1",
    "exact_certified": "1",
    "joint_reward": "s", "radio_regret": "s", "tail_joint_ratio": "1", "reference_gap_s": "s",
}
"""Metric columns of ``summary.parquet`` and their units."""
Mode = Literal["episode", "snapshot"]


class StudySection(BaseModel):
    """The ``[study]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    description: str = ""
    mode: Mode = "episode"
    seeds: list[int] = Field(default=[0], min_length=1)
    steps: int = Field(300, ge=1, description="episode length / online warm-up [steps]")
    metrics: list[str] | None = None
    arrival_prob: float = Field(0.05, gt=0, le=1, description="task request probability per user and step")
    token_noise: float = Field(0.0, ge=0, description="relative std of the estimated output size")

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: list[int]) -> list[int]:
        return check_seeds(seeds)

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, metrics: list[str] | None) -> list[str] | None:
        for m in metrics or []:
            if m not in METRICS:
                raise ValueError(f"unknown metric {m!r} (known: {', '.join(METRICS)})")
        return metrics


class StudyFile(BaseModel):
    """A whole study file as written (before the cases are resolved)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    study: StudySection
    base: dict[str, Any] = {}
    sweep: list[dict[str, Any]] = []
    policy: list[PolicySpec] = Field(min_length=1)


@dataclass(frozen=True)
class Case:
    """One scenario setting of the study.

    Attributes
    ----------
    case_id : str
        Hash of mode, steps and the full scenario config (without seed).
    mode : {'episode', 'snapshot'}
    steps : int
        Episode length / warm-up [steps].
    params : dict
        Every ScenarioConfig field except ``seed`` (JSON values).
    grid : dict
        Values of the grid columns and of every other key a sweep varies.
    sweeps : tuple[str, ...]
        Names of the sweeps that produce this case (``("base",)`` without sweeps).
    policies : tuple[str, ...]
        Policy labels run on this case.
    """

    case_id: str
    mode: str
    steps: int
    params: dict[str, Any]
    grid: dict[str, Any]
    sweeps: tuple[str, ...]
    policies: tuple[str, ...]


@dataclass(frozen=True)
class Cell:
    """One (case, policy, seed): the unit of work."""

    cell_id: str
    case: Case
    policy: PolicySpec
    seed: int


@dataclass(frozen=True)
class Study(StudyNames):
    """A validated study: the file, its cases, policies and cells."""

    spec: StudyFile
    text: str
    source: str
    spec_hash: str
    cases: tuple[Case, ...]
    policies: dict[str, PolicySpec]
    cells: tuple[Cell, ...]
    extra_grid: tuple[str, ...]

    kind = "offload"


def _families(value: Any, where: str) -> list[Family]:
    """The registered families a case's ``families`` names (``'none'``, ``'slo+kv'`` or a list)."""
    if isinstance(value, str):
        parts = [] if value.strip() in ("", "none") else value.split("+")
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        parts = list(value)
    else:
        raise InputError(where, value, "expected a list of family names or 'none' / 'slo+kv'")
    out = []
    for p in parts:
        try:
            out.append(get_family(p.strip(), where))
        except InputError as err:
            raise InputError(where, p, err.reason) from None
    return out


def resolve_config(raw: dict[str, Any], where: str) -> ScenarioConfig:
    """Turn case keys (ScenarioConfig keys + ``llm_pair``, ``families``) into a config.

    Raises
    ------
    InputError
        Naming ``{where}.{key}``.
    """
    keys = dict(raw)
    if "seed" in keys:
        raise InputError(f"{where}.seed", keys["seed"], "set the seeds in [study] seeds")
    pair = keys.pop("llm_pair", None)
    families = keys.pop("families", None)
    if pair is not None:
        if not isinstance(pair, str) or pair.count("+") != 1 or "" in pair.split("+"):
            raise InputError(f"{where}.llm_pair", pair, "expected 'EDGE+CLOUD' (catalog model names)")
        for side in ("edge_model", "cloud_model"):
            if side in keys:
                raise InputError(f"{where}.{side}", keys[side], "give either llm_pair or edge/cloud_model")
        keys["edge_model"], keys["cloud_model"] = (s.strip() for s in pair.split("+"))
    if families is not None:
        for fam in _families(families, f"{where}.families"):
            for k, v in fam.preset.items():
                if k in ScenarioConfig.model_fields:
                    keys.setdefault(k, v)
                else:  # a setting of a family added by register_family
                    keys["family_settings"] = {k: v, **keys.get("family_settings", {})}
    cfg = make_config(keys, prefix=where)
    catalog = load_catalog(cfg.catalog_models, cfg.catalog_services)
    field = f"{where}.llm_pair" if pair is not None else None
    for side in ("edge_model", "cloud_model"):
        model = catalog.model(getattr(cfg, side), field or f"{where}.{side}")
        if model["kind"] != "llm":
            raise InputError(field or f"{where}.{side}", getattr(cfg, side), "is not an LLM")
    for side in ("edge_media_models", "cloud_media_models"):
        for modality, name in getattr(cfg, side).items():
            catalog.model(name, f"{where}.{side}.{modality}")
    for group in ("regular_services", "preferred_services", "media_services"):
        for i, name in enumerate(getattr(cfg, group)):
            catalog.service(name, f"{where}.{group}[{i}]")
    return cfg


def grid_values(cfg: ScenarioConfig, extra: tuple[str, ...]) -> dict[str, Any]:
    """The grid columns of a case (``families`` as 'none' or 'slo_soft+kv')."""
    fams = families_from_config(cfg).active
    out: dict[str, Any] = {
        "sites": cfg.sites, "users": cfg.users, "rbs": cfg.n_rb, "token_mean": float(cfg.token_mean),
        "quality_share": float(cfg.quality_share), "llm_pair": f"{cfg.edge_model}+{cfg.cloud_model}",
        "edge_model": cfg.edge_model, "cloud_model": cfg.cloud_model,
        "families": "+".join(fams) if fams else "none"}
    for key in extra:
        value = getattr(cfg, key)
        out[key] = value if isinstance(value, int | float | str) or value is None else json.dumps(value)
    return out


def _sweep_settings(sweep: dict[str, Any], i: int, study: StudySection,
                    labels: list[str]) -> tuple[str, str, int, tuple[str, ...] | None]:
    where = f"sweep[{i}]"
    name = sweep.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or name == "base":
        raise InputError(f"{where}.name", name, "needs a name of letters, digits, '_', '-', '.' (not 'base')")
    mode = sweep.get("mode", study.mode)
    if mode not in ("episode", "snapshot"):
        raise InputError(f"{where}.mode", mode, "must be episode or snapshot")
    steps = sweep.get("steps", study.steps)
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise InputError(f"{where}.steps", steps, "must be a whole number >= 1")
    pols = sweep.get("policies")
    if pols is not None:
        if not isinstance(pols, list) or not pols:
            raise InputError(f"{where}.policies", pols, "expected a non-empty list of policy labels")
        for j, label in enumerate(pols):
            if label not in labels:
                raise InputError(f"{where}.policies[{j}]", label,
                                 f"no such policy label (known: {', '.join(labels)})")
        pols = tuple(dict.fromkeys(pols))
    return name, mode, steps, pols


def _default_policies(mode: str, policies: dict[str, PolicySpec]) -> tuple[str, ...]:
    return tuple(k for k, p in policies.items() if mode == "snapshot" or not is_snapshot_only(p.name))


def build_cases(spec: StudyFile, policies: dict[str, PolicySpec]) -> tuple[list[Case], tuple[str, ...]]:
    """Resolve and deduplicate the cases of a study; return them and the extra grid keys."""
    study = spec.study
    labels = list(policies)
    resolve_config(spec.base, "base")
    names: set[str] = set()
    combos: list[tuple[str, str, int, tuple[str, ...], dict[str, Any], str]] = []
    extra: list[str] = []
    for i, sweep in enumerate(spec.sweep):
        name, mode, steps, pols = _sweep_settings(sweep, i, study, labels)
        if name in names:
            raise InputError(f"sweep[{i}].name", name, "duplicate sweep name")
        names.add(name)
        grid = {k: v for k, v in sweep.items() if k not in SWEEP_SETTINGS}
        if not grid:
            raise InputError(f"sweep[{i}]", name, "varies no key (give at least one key with a list)")
        for key, values in grid.items():
            if key not in ScenarioConfig.model_fields and key not in STUDY_KEYS:
                raise InputError(f"sweep[{i}].{key}", values, "unknown key")
            if not isinstance(values, list) or not values:
                raise InputError(f"sweep[{i}].{key}", values, "expected a non-empty list of values")
            for j, v in enumerate(values):
                try:
                    resolve_config({**spec.base, key: v}, f"sweep[{i}]")
                except InputError as err:
                    tail = err.field.removeprefix(f"sweep[{i}].{key}")
                    field = f"sweep[{i}].{key}[{j}]{tail}" if err.field.startswith(f"sweep[{i}].{key}") \
                        else err.field
                    raise InputError(field, err.value, err.reason) from None
            if key not in GRID_COLUMNS and key not in STUDY_KEYS and key not in extra:
                extra.append(key)
        for values in itertools.product(*grid.values()):
            point = dict(zip(grid, values, strict=True))
            combos.append((name, mode, steps, pols or (), point, f"sweep[{i}]"))
    if not spec.sweep:
        combos.append(("base", study.mode, study.steps, (), {}, "base"))
    cases: dict[str, dict[str, Any]] = {}
    for name, mode, steps, pols, values, where in combos:
        cfg = resolve_config({**spec.base, **values}, where)
        params = cfg.model_dump(mode="json", exclude={"seed"})
        case_id = digest({"mode": mode, "steps": steps, "scenario": params}, 12)
        wanted = pols or _default_policies(mode, policies)
        for label in wanted:
            if mode == "episode" and is_snapshot_only(policies[label].name):
                raise InputError(f"{where}.policies", label,
                                 f"{policies[label].name} runs in snapshot mode only (episode mode "
                                 "reports the per-task optimum as optimal_reward)")
        entry = cases.setdefault(case_id, {"mode": mode, "steps": steps, "params": params, "cfg": cfg,
                                           "sweeps": [], "policies": []})
        entry["sweeps"] = list(dict.fromkeys([*entry["sweeps"], name]))
        entry["policies"] = list(dict.fromkeys([*entry["policies"], *wanted]))
    out = []
    for case_id, e in cases.items():
        ordered = tuple(label for label in labels if label in e["policies"])
        out.append(Case(case_id, e["mode"], e["steps"], e["params"], grid_values(e["cfg"], tuple(extra)),
                        tuple(e["sweeps"]), ordered))
    return out, tuple(extra)


def cell_id(case: Case, policy: PolicySpec, seed: int, study: StudySection) -> str:
    """Deterministic id of a cell: hash of everything that determines its result."""
    return digest({"v": 1, "mode": case.mode, "steps": case.steps, "scenario": case.params,
                   "episode": {"arrival_prob": study.arrival_prob, "token_noise": study.token_noise},
                   "policy": policy.model_dump(mode="json"), "seed": seed})


def parse_offload_study(raw: dict[str, Any], text: str, source: str = "<text>") -> Study:
    """Validate a parsed offloading study file into a :class:`Study` (see the module docstring);
    ``[study] kind = "offload"`` may be given (it is the default)."""
    study_table = raw.get("study")
    if isinstance(study_table, dict) and study_table.get("kind", "offload") == "offload":
        raw = {**raw, "study": {k: v for k, v in study_table.items() if k != "kind"}}
    check_study_size(*_upper_cells(raw))  # from list lengths, before validating 10**6 seeds
    try:
        spec = StudyFile.model_validate(raw)
    except ValidationError as err:
        raise validation_error(err, root="study file") from None
    policies: dict[str, PolicySpec] = {}
    for i, pol in enumerate(spec.policy):
        check_policy(pol, f"policy[{i}]")
        if pol.key in policies:
            raise InputError(f"policy[{i}].label", pol.key, "duplicate policy label")
        policies[pol.key] = pol
    cases, extra = build_cases(spec, policies)
    check_study_size(sum(len(c.policies) for c in cases) * len(spec.study.seeds), *_upper_cells(raw)[1:])
    for c in cases:
        if c.mode == "episode":
            users = c.params["users"] * c.grid["sites"]
            check_episode_size(c.steps, users, spec.study.arrival_prob, "study.steps")
    curve_steps = sum(c.steps * len(c.policies) for c in cases if c.mode == "episode") * len(spec.study.seeds)
    check_study_curves(curve_steps, "study.steps", spec.study.steps)
    used = {label for c in cases for label in c.policies}
    for i, label in enumerate(policies):
        if label not in used:
            joint = is_snapshot_only(policies[label].name)
            why = " (joint policies run in snapshot mode only)" if joint else ""
            raise InputError(f"policy[{i}]", label, f"runs on no case{why}")
    cells = tuple(Cell(cell_id(c, policies[label], s, spec.study), c, policies[label], s)
                  for c in cases for label in c.policies for s in spec.study.seeds)
    spec_hash = digest(spec.model_dump(mode="json"), 64)
    return Study(spec, text, source, spec_hash, tuple(cases), policies, cells, extra)


def _upper_cells(raw: dict[str, Any]) -> tuple[int, str, Any]:
    """Most cells the raw study file can expand to (cases x policies x seeds), computed from the
    lengths of its lists only (cheap, before any validation), and the field of the largest factor."""
    cases, seeds = upper_cases_seeds(raw, SWEEP_SETTINGS)
    policies = list_length(raw.get("policy"))
    factors = [(seeds, "study.seeds", f"{seeds} seeds"), (cases, "sweep", f"{cases} cases"),
               (policies, "policy", f"{policies} policies")]
    _, field, shown = max(factors, key=lambda f: f[0])
    return cases * policies * seeds, field, shown
