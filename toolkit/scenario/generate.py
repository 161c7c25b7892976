"""Generated scenarios: hexagonal 3GPP urban layout, TR 38.901 channel, paper task model."""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from genoffload import __version__
from genoffload.catalog import Catalog, load_catalog
from genoffload.delay import generation_delay, shannon_rate
from genoffload.families.registry import families_from_config
from genoffload.scenario import channel, geometry
from genoffload.scenario.config import ScenarioConfig, check_config_size
from genoffload.scenario.dataset import assemble
from genoffload.scenario.tasks import attach_models, draw_tasks, task_units


def default_deadlines(tasks: dict[str, np.ndarray], cfg: ScenarioConfig) -> np.ndarray:
    """Deadline of each task [s]: ``(1 + slo_slack)`` times its fastest quality-feasible
    generation delay (cloud including ``t_back``)."""
    gen_edge = generation_delay(tasks["units"], tasks["ttft_edge"], tasks["tpot_edge"])
    gen_cloud = generation_delay(tasks["units"], tasks["ttft_cloud"], tasks["tpot_cloud"]) + cfg.t_back_s
    edge_ok = tasks["quality_edge"] >= tasks["quality_req"] - 1e-12
    cloud_ok = tasks["quality_cloud"] >= tasks["quality_req"] - 1e-12
    best = np.minimum(np.where(edge_ok, gen_edge, np.inf), np.where(cloud_ok, gen_cloud, np.inf))
    return (1.0 + cfg.slo_slack) * best


def scenario_attrs(cfg: ScenarioConfig, source: str) -> dict[str, object]:
    """Scenario-wide attributes shared by generated and explicit scenarios."""
    return {
        "source": source,
        "seed": cfg.seed,
        "t_back_s": cfg.t_back_s,
        "delivery": cfg.delivery,
        "t_target_s": cfg.t_target_s,
        "penalty_s": cfg.penalty_s,
        "edge_model": cfg.edge_model,
        "cloud_model": cfg.cloud_model,
        "log_base": cfg.log_base,
        **families_from_config(cfg).to_attrs(),
        "config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True),
        "genoffload_version": __version__,
    }


def generate(cfg: ScenarioConfig, catalog: Catalog | None = None) -> xr.Dataset:
    """Generate a scenario; the same config (seed included) gives the same Dataset.

    Steps: site layout; users dropped uniformly in their hexagonal cell (or at the cell edge);
    per site-user link a LOS draw, TR 38.901 path loss and log-normal shadowing; Rayleigh
    fading per RB; SINR with mean inter-cell interference; rate per RB (eq. 2 summand); tasks.
    """
    check_config_size(cfg)  # before anything is allocated (the memory available now)
    catalog = catalog or load_catalog(cfg.catalog_models, cfg.catalog_services)
    rng = np.random.default_rng(cfg.seed)
    isd = cfg.env("isd_m")
    sites = geometry.hex_sites(cfg.sites, isd)
    n_cells = sites.shape[0]
    h_bs, h_ut = cfg.env("bs_height_m"), cfg.ue_height_m
    edge_min = cfg.cell_edge_ring * isd / 2 if cfg.placement == "cell-edge" else 0.0
    offsets = [geometry.drop_users(rng, cfg.users, isd, cfg.env("min_distance_m"), edge_min)
               for _ in range(n_cells)]
    user_cell = np.repeat(np.arange(n_cells), cfg.users)
    xy = np.vstack([sites[j] + off for j, off in enumerate(offsets)])
    d2d = np.hypot(xy[:, None, 0] - sites[None, :, 0], xy[:, None, 1] - sites[None, :, 1])
    d2d = np.maximum(d2d, 1.0)
    gain_db, los = channel.large_scale_gain_db(rng, cfg.environment, d2d, h_bs, h_ut,
                                               cfg.carrier_ghz)
    n_rb = cfg.n_rb
    fading = channel.rayleigh_power(rng, (xy.shape[0], n_cells, n_rb))
    gain = 10 ** (gain_db[:, :, None] / 10) * fading
    b_q = cfg.rb_bandwidth_hz
    p_rb = float(channel.dbm_to_w(cfg.env("bs_power_dbm"))) / n_rb
    noise = float(channel.dbm_to_w(cfg.noise_psd_dbm_hz + cfg.ue_noise_figure_db)) * b_q
    sinr = channel.sinr_per_rb(gain, user_cell, p_rb, noise, cfg.load_factor)
    rate = shannon_rate(b_q, sinr, cfg.log_base)
    tasks = draw_tasks(rng, cfg, xy.shape[0])
    tasks["units"] = task_units(rng, cfg, catalog, tasks["service"])
    settings = cfg.model_dump()
    requirements = {"regular": cfg.quality_requirement_regular,
                    "preferred": cfg.quality_requirement_preferred}
    tasks = attach_models(tasks, catalog, settings, requirements)
    users = np.arange(xy.shape[0])
    if cfg.slo != "off":
        tasks["deadline"] = default_deadlines(tasks, cfg)
    data = {
        **tasks,
        "rate": rate,
        "user_cell": user_cell,
        "rb_bandwidth": np.full(n_rb, b_q),
        "user_x": xy[:, 0],
        "user_y": xy[:, 1],
        "distance": d2d[users, user_cell],
        "los": los[users, user_cell],
        "site_x": sites[:, 0],
        "site_y": sites[:, 1],
    }
    return assemble(data, scenario_attrs(cfg, "generated"), n_cells)
