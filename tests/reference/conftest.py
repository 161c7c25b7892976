"""Shared settings of the reference tests: one scenario config per constraint family that binds."""

from __future__ import annotations

from typing import Any

FAMILIES: dict[str, dict[str, Any]] = {
    "none": {},
    "concurrency": {"edge_tpot_slope": 0.5},
    "kv": {"kv_bytes_per_token": 131072, "edge_kv_capacity_gb": 0.3},
    "backhaul": {"backhaul_capacity_mbit": 0.15},
    "slo_hard": {"slo": "hard", "slo_slack": 0.3, "media_share": 0.3},
    "slo_soft": {"slo": "soft", "slo_slack": 0.1},
    "min_rate": {"min_rate_mbps": 40.0},
    "streamed": {"delivery": "streamed", "edge_tpot_slope": 0.3, "media_share": 0.5},
    "all": {"edge_tpot_slope": 0.3, "kv_bytes_per_token": 131072, "edge_kv_capacity_gb": 0.4,
            "backhaul_capacity_mbit": 0.2, "slo": "soft", "slo_slack": 0.2, "media_share": 0.2},
}
"""Family name -> scenario-config keys that make it bind with a few tasks per cell."""
