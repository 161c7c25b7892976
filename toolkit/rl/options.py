"""Settings shared by the environment and the RL agents: scenario input and episode options."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from genoffload.episode import EpisodeConfig
from genoffload.errors import InputError, validation_error
from genoffload.io import load_json
from genoffload.rl.observation import (
    LINK_EDGES_MBPS,
    LOAD_EDGES,
    SIZE_EDGES,
    ObservationSpec,
    check_edges,
    check_extras,
)
from genoffload.scenario import ScenarioConfig, make_config, read_config_file
from genoffload.schedulers import SCHEDULERS


class EnvOptions(BaseModel):
    """Options of the environment (and of RL training through the episode runner).

    Attributes
    ----------
    arrival_prob : float [1]
        Task request probability per user and runner step (as ``EpisodeConfig``).
    token_noise : float [1]
        Relative std of the output size the agent sees (as ``EpisodeConfig``).
    scheduler : str
        RB scheduler of every runner step (pf, round-robin, max-rate).
    extras : "auto" or list of str
        Optional observation components (``link``, ``load``); ``auto``: those the scenario
        makes relevant (:func:`genoffload.rl.observation.auto_extras`).
    size_edges : list of float [1]
        Size-bucket edges relative to the modality's reference size.
    link_edges_mbps : list of float [Mbit/s]
        Link-bucket edges.
    load_edges : list of float [tasks]
        Load-bucket edges.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    arrival_prob: float = Field(0.05, gt=0, le=1)
    token_noise: float = Field(0.0, ge=0)
    scheduler: str = "pf"
    extras: Literal["auto"] | tuple[str, ...] = "auto"
    size_edges: tuple[float, ...] = SIZE_EDGES
    link_edges_mbps: tuple[float, ...] = LINK_EDGES_MBPS
    load_edges: tuple[float, ...] = LOAD_EDGES

    @field_validator("scheduler")
    @classmethod
    def _known_scheduler(cls, v: str) -> str:
        if v not in SCHEDULERS:
            raise ValueError(f"unknown scheduler (known: {', '.join(SCHEDULERS)})")
        return v

    def observation(self, cfg: ScenarioConfig) -> ObservationSpec:
        """The observation space these options give on a scenario config."""
        return ObservationSpec.for_config(cfg, self.extras, self.size_edges, self.link_edges_mbps,
                                          self.load_edges)

    def episode(self, steps: int, seed: int) -> EpisodeConfig:
        """The episode-runner settings of ``steps`` runner steps from ``seed``."""
        return EpisodeConfig(steps=steps, seed=seed, arrival_prob=self.arrival_prob,
                             token_noise=self.token_noise, scheduler=self.scheduler)


def env_options(options: dict[str, Any] | EnvOptions | None = None, prefix: str = "env") -> EnvOptions:
    """Validate options; an unknown key or bad value raises a one-line :class:`InputError`."""
    if isinstance(options, EnvOptions):
        return options
    try:
        opts = EnvOptions(**(options or {}))
    except ValidationError as err:
        raise validation_error(err, prefix, unknown="unknown option", depth=1) from None
    if opts.extras != "auto":
        check_extras(list(opts.extras))
    for name in ("size_edges", "link_edges_mbps", "load_edges"):
        check_edges(f"{prefix}.{name}", getattr(opts, name))
    return opts


def scenario_config(scenario: Any) -> ScenarioConfig:
    """The generating config of an environment or agent.

    Parameters
    ----------
    scenario : ScenarioConfig, dict, str, Path, xarray.Dataset or None
        A config; a dict of config keys; a TOML/JSON config file; a scenario Dataset (its
        stored ``config`` attribute); None: the paper setting (every default).
    """
    if scenario is None:
        return make_config({})
    if isinstance(scenario, ScenarioConfig):
        return scenario
    if isinstance(scenario, dict):
        return make_config(scenario, prefix="scenario")
    if isinstance(scenario, str | Path):
        return make_config(read_config_file(scenario), prefix="config")
    if isinstance(scenario, xr.Dataset):
        text = scenario.attrs.get("config")
        if not isinstance(text, str):
            raise InputError("scenario", "Dataset", "has no config attribute to draw steps from")
        settings = load_json(text, "scenario.config", "the config attribute")
        return make_config(settings, prefix="scenario.config")
    raise InputError("scenario", type(scenario).__name__,
                     "expected a ScenarioConfig, a dict of config keys or a config file path")
