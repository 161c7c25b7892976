"""Constraint families that are switched on but cannot bind: a warning, not an error.

A family whose limit no draw of a scenario config can reach (e.g. an edge KV budget above the
KV cache of every task of a cell at the largest possible output size) changes nothing: the
online reference and every policy behave as without it. ``unbindable(cfg)`` names such
families, one line each (the dotted config field first); the CLI prints them as
``warning: ...`` on stderr and goes on.
"""

from __future__ import annotations

import math

from genoffload.scenario import ScenarioConfig


def max_tasks_per_cell(cfg: ScenarioConfig) -> int:
    """Most tasks a cell can have in one snapshot: users x the largest tasks per user."""
    tpu = cfg.tasks_per_user
    return int(cfg.users * (max(tpu) if isinstance(tpu, tuple | list) else tpu))


def max_text_units(cfg: ScenarioConfig) -> float:
    """Largest output size of a text task [token]; inf for unbounded distributions."""
    if cfg.token_distribution == "fixed":
        return float(round(cfg.token_mean))
    if cfg.token_distribution == "uniform":
        return float(math.ceil(cfg.token_mean * (1 + min(cfg.token_spread, 1.0))))
    return math.inf


def unbindable(cfg: ScenarioConfig, where: str = "config") -> list[str]:
    """One line per switched-on family that cannot bind under ``cfg`` (empty: all can)."""
    out = []
    n = max_tasks_per_cell(cfg)
    if cfg.edge_tpot_slope > 0 and n < 2:
        out.append(f"{where}.edge_tpot_slope: the concurrency family cannot bind: at most {n} task "
                   f"per cell (got {cfg.edge_tpot_slope:g})")
    if cfg.kv_bytes_per_token > 0:
        most = n * max_text_units(cfg) * cfg.kv_bytes_per_token / 1e9
        if most <= cfg.edge_kv_capacity_gb:
            out.append(f"{where}.edge_kv_capacity_gb: the kv family cannot bind: at most {most:.4g} GB "
                       f"of KV cache in use per cell ({n} tasks x {max_text_units(cfg):g} tokens x "
                       f"{cfg.kv_bytes_per_token:g} B) (got {cfg.edge_kv_capacity_gb:g})")
    return out


__all__ = ["max_tasks_per_cell", "max_text_units", "unbindable"]
