"""Task model: service types, output sizes, the generating models and quality requirements."""

from __future__ import annotations

from typing import Any

import numpy as np

from genoffload.catalog import Catalog
from genoffload.errors import InputError
from genoffload.scenario.config import ScenarioConfig

QUALITY_COLUMN = {"regular": "quality_regular", "preferred": "quality_preferred"}


def draw_units(
    rng: np.random.Generator, mean: float, n: int, dist: str, spread: float
) -> np.ndarray:
    """Draw ``n`` output sizes [token or item] with the given mean; integers >= 1."""
    if dist == "fixed":
        x = np.full(n, mean)
    elif dist == "uniform":
        x = rng.uniform(mean * (1 - min(spread, 1.0)), mean * (1 + min(spread, 1.0)), n)
    elif dist == "poisson":
        x = rng.poisson(mean, n).astype(float)
    elif dist == "exponential":
        x = rng.exponential(mean, n)
    else:  # lognormal with sigma = spread and the given mean
        x = rng.lognormal(np.log(mean) - spread**2 / 2, spread, n)
    return np.maximum(np.rint(x), 1.0)


def draw_tasks(rng: np.random.Generator, cfg: ScenarioConfig, n_users: int) -> dict[str, Any]:
    """Draw the tasks of every user: user, service type and output size.

    Each task is a media task with probability ``media_share``, else quality-preferred with
    probability ``quality_share``, else regular; the service type is uniform within its class.
    """
    lo, hi = cfg.tasks_range
    counts = rng.integers(lo, hi + 1, size=n_users)
    users = np.repeat(np.arange(n_users), counts)
    n = users.size
    u = rng.random(n)
    pools = [cfg.media_services, cfg.preferred_services, cfg.regular_services]
    kind = np.where(u < cfg.media_share, 0, np.where(rng.random(n) < cfg.quality_share, 1, 2))
    service = np.empty(n, dtype=object)
    for k, pool in enumerate(pools):
        idx = np.flatnonzero(kind == k)
        if idx.size and not pool:
            raise InputError("config.services", pool, "a task class was drawn but has no service types")
        service[idx] = np.asarray(pool, dtype=object)[rng.integers(0, max(len(pool), 1), idx.size)]
    return {"task_user": users, "service": service.astype(str)}


def task_units(
    rng: np.random.Generator, cfg: ScenarioConfig, catalog: Catalog, services: np.ndarray
) -> np.ndarray:
    """Output size of each task: text tasks around ``token_mean``, media around the catalog mean."""
    units = np.empty(services.size)
    for name in np.unique(services):
        idx = np.flatnonzero(services == name)
        row = catalog.service(str(name), "config.services")
        if row["modality"] == "text":
            units[idx] = draw_units(rng, cfg.token_mean, idx.size, cfg.token_distribution,
                                    cfg.token_spread)
        elif row["unit"] == "image":
            units[idx] = max(round(row["mean_units"]), 1)
        else:
            units[idx] = draw_units(rng, row["mean_units"], idx.size, cfg.token_distribution,
                                    cfg.token_spread)
    return units


def resolve_requirement(value: float | str, q_edge: float, q_cloud: float) -> float:
    """Turn a requirement tier (any, edge, cloud) or a number into a quality index [1]."""
    if isinstance(value, str):
        return {"any": min(q_edge, q_cloud), "edge": q_edge, "cloud": q_cloud}[value]
    return float(value)


def attach_models(
    tasks: dict[str, Any],
    catalog: Catalog,
    settings: dict[str, Any],
    requirements: dict[str, float | str] | None = None,
) -> dict[str, Any]:
    """Add per-task model parameters: TTFT, TPOT, quality per side, bits, quality requirement.

    Parameters
    ----------
    tasks : dict
        ``service`` and ``units`` arrays; optional ``quality_req`` (NaN = use the tier) and
        ``content_bits``.
    settings : dict
        ``edge_model``, ``cloud_model``, ``edge_media_models``, ``cloud_media_models``,
        ``bytes_per_token``.
    requirements : dict, optional
        Tier or number per service class (``regular``, ``preferred``).
    """
    services = np.asarray(tasks["service"]).astype(str)
    n = services.size
    text_cols = ("service_class", "modality", "edge_model", "cloud_model")
    out: dict[str, Any] = {k: np.empty(n, dtype=object if k in text_cols else float)
                           for k in ("service_class", "edge_model", "cloud_model", "ttft_edge",
                                     "tpot_edge", "ttft_cloud", "tpot_cloud", "quality_edge",
                                     "quality_cloud", "quality_req", "bytes_per_unit", "modality")}
    req_in = np.asarray(tasks.get("quality_req", np.full(n, np.nan)), dtype=float)
    reqs = requirements or {"regular": "any", "preferred": "cloud"}
    for i, name in enumerate(services):
        srv = catalog.service(name, f"tasks[{i}].service")
        modality = srv["modality"]
        sides = {}
        for side in ("edge", "cloud"):
            if modality == "text":
                mname = settings[f"{side}_model"]
                field = f"{side}_model"
            else:
                mname = settings[f"{side}_media_models"].get(modality)
                field = f"{side}_media_models.{modality}"
                if mname is None:
                    raise InputError(field, None, f"no {side} model for {modality} tasks")
            model = catalog.model(mname, field)
            if model["unit"] != srv["unit"]:
                raise InputError(field, mname, f"produces {model['unit']}, {name} tasks need {srv['unit']}")
            sides[side] = model
            out[f"{side}_model"][i] = mname
            out[f"ttft_{side}"][i] = model["ttft_s"]
            out[f"tpot_{side}"][i] = model["tpot_s"]
            out[f"quality_{side}"][i] = model[QUALITY_COLUMN[srv["service_class"]]]
        out["service_class"][i] = srv["service_class"]
        out["modality"][i] = modality
        out["bytes_per_unit"][i] = (settings["bytes_per_token"] if modality == "text"
                                    else srv["bytes_per_unit"])
        req = req_in[i]
        if np.isnan(req):
            req = resolve_requirement(reqs[srv["service_class"]], out["quality_edge"][i],
                                      out["quality_cloud"][i])
        out["quality_req"][i] = req
    units = np.asarray(tasks["units"], dtype=float)
    bits = tasks.get("content_bits")
    out["content_bits"] = (units * out.pop("bytes_per_unit") * 8.0 if bits is None
                           else np.asarray(bits, dtype=float))
    for k in text_cols:
        out[k] = out[k].astype(str)
    return {**tasks, **out, "service": services, "units": units}
