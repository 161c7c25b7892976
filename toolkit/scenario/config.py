"""Scenario configuration: every parameter with its unit, default and the standard it follows.

Defaults follow 3GPP TR 38.901 V17 (tables named per field) and TS 38.101-1 (numerology), and the
paper's Section IV-A for the task model. A config is read from TOML or JSON; unknown keys and bad
values raise :class:`genoffload.errors.InputError` naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from genoffload.errors import InputError, validation_error
from genoffload.families.registry import check_family_settings
from genoffload.io import load_json, load_toml, read_text
from genoffload.sizes import MAX_SEED, check_scenario_size

# TS 38.101-1 Table 5.3.2-1: maximum transmission bandwidth N_RB per channel bandwidth [MHz].
NRB_TABLE: dict[int, dict[float, int]] = {
    15: {5: 25, 10: 52, 15: 79, 20: 106, 25: 133, 30: 160, 35: 188, 40: 216, 45: 242, 50: 270},
    30: {5: 11, 10: 24, 15: 38, 20: 51, 25: 65, 30: 78, 35: 92, 40: 106, 45: 119, 50: 133,
         60: 162, 70: 189, 80: 217, 90: 245, 100: 273},
    60: {10: 11, 15: 18, 20: 24, 25: 31, 30: 38, 35: 44, 40: 51, 45: 58, 50: 65, 60: 79,
         70: 93, 80: 107, 90: 121, 100: 135},
}
# TR 38.901 Table 7.8-1 (calibration) / Table 7.4.1-1 / Table 7.2-1, per environment.
ENV_DEFAULTS: dict[str, dict[str, float]] = {
    "UMa": {"bs_power_dbm": 49.0, "bs_height_m": 25.0, "min_distance_m": 35.0, "isd_m": 500.0},
    "UMi": {"bs_power_dbm": 44.0, "bs_height_m": 10.0, "min_distance_m": 10.0, "isd_m": 200.0},
}
QualityTier = Literal["any", "edge", "cloud"]


class ScenarioConfig(BaseModel):
    """Parameters of a generated scenario (units in the field names: ``_m``, ``_s``, ``_db``...)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    seed: int = Field(0, ge=0, le=MAX_SEED, description="seed of every random draw (0..2**63-1)")
    # --- layout (TR 38.901 Table 7.2-1) ---
    sites: Literal[1, 7, 19] = Field(1, description="hexagonal layout: 1, 7 or 19 sites")
    isd_m: float | None = Field(None, gt=0, description="inter-site distance [m]; None: 500 UMa, 200 UMi")
    users: int = Field(20, ge=1, description="users per cell")
    environment: Literal["UMa", "UMi"] = "UMa"
    placement: Literal["uniform", "cell-edge"] = "uniform"
    cell_edge_ring: float = Field(0.8, gt=0, lt=1, description="cell-edge users: d >= ring * ISD/2")
    min_distance_m: float | None = Field(None, ge=0, description="None: 35 m UMa, 10 m UMi")
    bs_height_m: float | None = Field(None, gt=0, description="None: 25 m UMa, 10 m UMi")
    ue_height_m: float = Field(1.5, ge=1.0, le=13.0, description="UE height [m]")
    # --- radio (TS 38.101-1, TR 38.901 Table 7.8-1) ---
    carrier_ghz: float = Field(3.5, ge=0.5, le=100.0, description="carrier frequency [GHz]")
    bandwidth_mhz: float = Field(20.0, gt=0, description="channel bandwidth [MHz]")
    scs_khz: Literal[15, 30, 60] = Field(15, description="subcarrier spacing [kHz]")
    rbs: int | None = Field(None, ge=1, description="RBs used; None: N_RB of the numerology")
    bs_power_dbm: float | None = Field(None, description="BS power [dBm]; None: 49 UMa, 44 UMi")
    noise_psd_dbm_hz: float = Field(-174.0, description="thermal noise density [dBm/Hz]")
    ue_noise_figure_db: float = Field(9.0, ge=0, description="UE noise figure [dB]")
    load_factor: float = Field(0.5, ge=0, le=1, description="activity of interfering BSs per RB")
    log_base: float = Field(2.0, gt=1, description="log base of eq. (2)")
    # --- tasks (paper Sec. IV-A) ---
    tasks_per_user: int | tuple[int, int] = Field(1, description="n, or [min, max] drawn uniformly")
    quality_share: float = Field(0.5, ge=0, le=1, description="share of quality-preferred tasks")
    media_share: float = Field(0.0, ge=0, le=1, description="share of generated-media tasks")
    regular_services: list[str] = ["chat", "translation", "summarization"]
    preferred_services: list[str] = ["science", "coding", "math"]
    media_services: list[str] = ["image", "audio", "video"]
    token_mean: float = Field(1000.0, gt=0, description="mean output tokens of text tasks")
    token_distribution: Literal["fixed", "uniform", "poisson", "exponential", "lognormal"] = "uniform"
    token_spread: float = Field(0.5, ge=0, description="uniform: +-spread*mean; lognormal: sigma")
    bytes_per_token: float = Field(4.0, gt=0, description="s^token [B/token]")
    quality_requirement_regular: float | QualityTier = "any"
    quality_requirement_preferred: float | QualityTier = "cloud"
    # --- models (catalog names) ---
    edge_model: str = "llama3-8b"
    cloud_model: str = "gpt-4o"
    edge_media_models: dict[str, str] = {"image": "sd-turbo", "audio": "musicgen-small",
                                         "video": "edge-video"}
    cloud_media_models: dict[str, str] = {"image": "dall-e-3", "audio": "cloud-audio",
                                          "video": "cloud-video"}
    catalog_models: str | None = Field(None, description="extra models CSV (same columns as models.csv)")
    catalog_services: str | None = Field(None, description="extra services CSV")
    t_back_s: float = Field(0.05, ge=0, description="edge-cloud backhaul delay t_back [s]")
    delivery: Literal["store-and-forward", "streamed"] = "store-and-forward"
    # --- optional constraint families (off by default; see genoffload.families) ---
    slo: Literal["off", "hard", "soft"] = Field("off", description="per-task latency SLO")
    slo_slack: float = Field(0.2, ge=0, description="deadline = (1 + slack) * fastest generation")
    slo_weight: float = Field(1.0, ge=0, description="soft SLO: penalty per second late [s/s]")
    kv_bytes_per_token: float = Field(0.0, ge=0, description="edge KV cache per token [B]; 0: off")
    edge_kv_capacity_gb: float = Field(16.0, gt=0, description="edge KV-cache memory per cell [GB]")
    edge_tpot_slope: float = Field(0.0, ge=0, description="edge TPOT x (1 + slope (m - 1)); 0: off")
    backhaul_capacity_mbit: float | None = Field(None, ge=0, description="offloaded content per cell [Mbit]")
    min_rate_mbps: float | None = Field(None, ge=0, description="minimum link capacity per user [Mbit/s]")
    family_settings: dict[str, float] = Field(
        default_factory=dict, description="settings [SI] of families added by register_family")
    # --- reward, eq. (10) ---
    t_target_s: float = Field(40.0, description="T^Target [s]")
    penalty_s: float = Field(100.0, ge=0, description="r^penalty [s]")

    @field_validator("family_settings")
    @classmethod
    def _known_family_settings(cls, value: dict[str, float]) -> dict[str, float]:
        try:
            check_family_settings(value, "family_settings")
        except InputError as err:
            raise ValueError(f"{err.field}: {err.reason}") from None
        return value

    @model_serializer(mode="wrap")
    def _drop_empty_family_settings(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # without added families the config (and every file and digest made from it) is the
        # same as before family_settings existed
        out: dict[str, Any] = handler(self)
        if not self.family_settings:
            out.pop("family_settings", None)
        return out

    @model_validator(mode="after")
    def _check(self) -> ScenarioConfig:
        tpu = self.tasks_per_user
        lo, hi = (tpu, tpu) if isinstance(tpu, int) else tpu
        if lo < 0 or hi < lo:
            raise ValueError(f"tasks_per_user must be n >= 0 or [min, max] with 0 <= min <= max, got {tpu}")
        radius = self.env("isd_m") / 3**0.5
        if self.env("min_distance_m") >= radius:
            raise ValueError(f"min_distance_m {self.env('min_distance_m')} must be below the cell "
                             f"radius ISD/sqrt(3) = {radius:.1f} m")
        if self.rbs is None and self.bandwidth_mhz not in NRB_TABLE[self.scs_khz]:
            raise ValueError(
                f"bandwidth_mhz {self.bandwidth_mhz} has no N_RB at {self.scs_khz} kHz in TS 38.101-1"
            )
        return self

    # derived values -----------------------------------------------------------------------
    @property
    def tasks_range(self) -> tuple[int, int]:
        tpu = self.tasks_per_user
        return (tpu, tpu) if isinstance(tpu, int) else (int(tpu[0]), int(tpu[1]))

    @property
    def n_rb(self) -> int:
        """Number of RBs [1]: ``rbs`` or N_RB of TS 38.101-1 Table 5.3.2-1."""
        return self.rbs if self.rbs is not None else NRB_TABLE[self.scs_khz][self.bandwidth_mhz]

    @property
    def rb_bandwidth_hz(self) -> float:
        """RB bandwidth b_q [Hz]: 12 subcarriers."""
        return 12 * self.scs_khz * 1e3

    def env(self, key: str) -> float:
        """Environment-dependent default (``bs_power_dbm``, ``bs_height_m``, ``min_distance_m``,
        ``isd_m``)."""
        value = getattr(self, key)
        return float(ENV_DEFAULTS[self.environment][key] if value is None else value)


def make_config(overrides: dict[str, Any] | None = None, prefix: str = "config") -> ScenarioConfig:
    """Build a :class:`ScenarioConfig`, turning validation errors into one-line InputErrors."""
    if overrides is not None and not isinstance(overrides, dict):
        raise InputError(prefix, type(overrides).__name__, "must be a table of settings")
    try:
        cfg = ScenarioConfig(**(overrides or {}))
    except ValidationError as err:
        raise validation_error(err, prefix) from None
    check_config_size(cfg, prefix, machine=False)
    return cfg


def check_config_size(cfg: ScenarioConfig, prefix: str = "config", machine: bool = True) -> None:
    """Refuse a config whose scenario would exceed the memory limit (:mod:`genoffload.sizes`),
    naming ``{prefix}.users``, ``.rbs`` or ``.tasks_per_user``; with ``machine`` the memory
    available now counts too (checked by ``generate`` before it allocates)."""
    users = cfg.users * cfg.sites
    fields = {"users": (f"{prefix}.users", cfg.users), "rbs": (f"{prefix}.rbs", cfg.n_rb),
              "tasks": (f"{prefix}.tasks_per_user", cfg.tasks_per_user)}
    check_scenario_size(users, cfg.sites, cfg.n_rb, users * cfg.tasks_range[1], fields, machine)


def read_config_file(path: Path | str) -> dict[str, Any]:
    """Read a TOML or JSON config file into a dict (not validated yet).

    Duplicate keys and nesting deeper than :data:`genoffload.io.MAX_DEPTH` are refused.
    """
    p = Path(path)
    text = read_text(p, "config", "config file")
    is_json = p.suffix.lower() == ".json"
    data = load_json(text, "config", str(p)) if is_json else load_toml(text, "config", str(p))
    if not isinstance(data, dict):
        raise InputError("config", str(p), "must hold a table of settings")
    return data
