"""Optional constraint families (genoffload.families) in the evaluator, against hand-worked numbers.

Every scenario here: one cell, chat tasks of 1000 tokens (32 000 bit), users with two RBs of
1 Mbit/s each (C = 2 Mbit/s, t_radio = 0.016 s), t_back = 0.05 s, T_target 40 s, penalty 30 s.
Edge delay 0.016 + 0.23 + 1000/75 = 13.579333 s; cloud 0.016 + 0.05 + 0.42 + 1000/32 = 31.736 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from genoffload.evaluate import evaluate
from genoffload.families import Families
from genoffload.scenario import from_document

T_EDGE = 0.016 + 0.23 + 1000 / 75  # 13.579333
T_CLOUD = 0.016 + 0.05 + 0.42 + 1000 / 32  # 31.736


def _scenario(n_tasks: int = 1, tasks: list[dict[str, Any]] | None = None, **settings: Any):
    tasks = tasks or [{"user": k, "service": "chat", "output_tokens": 1000} for k in range(n_tasks)]
    n_user = max(t["user"] for t in tasks) + 1
    doc = {"user_cell": [0] * n_user, "rate_bps": [[1e6] * (2 * n_user)] * n_user,
           "tasks": tasks,
           "settings": {"t_back_s": 0.05, "t_target_s": 40.0, "penalty_s": 30.0, **settings}}
    return from_document(doc)


def _z(ds) -> np.ndarray:
    """User k gets RBs 2k and 2k+1."""
    n_user = ds.sizes["user"]
    z = np.zeros((n_user, ds.sizes["rb"]), dtype=bool)
    for k in range(n_user):
        z[k, 2 * k:2 * k + 2] = True
    return z


def test_families_are_off_by_default() -> None:
    ds = _scenario()
    assert Families.from_attrs(ds.attrs).active == []
    res = evaluate(ds, _z(ds), [False])
    assert float(res["t_total"][0]) == pytest.approx(T_EDGE)
    assert res.attrs["objective"] == pytest.approx(T_EDGE)
    assert res.attrs["radio_part"] == pytest.approx(0.016)


def test_radio_part_store_and_forward_vs_streamed() -> None:
    ds = _scenario(delivery="streamed")
    res = evaluate(ds, _z(ds), [False])
    # streamed: max(0.016, 13.563333) -> the radio adds nothing
    assert res.attrs["objective"] == pytest.approx(T_EDGE - 0.016)
    assert res.attrs["radio_part"] == pytest.approx(0.0, abs=1e-12)


def test_soft_slo_adds_weighted_lateness() -> None:
    ds = _scenario(tasks=[{"user": 0, "service": "chat", "output_tokens": 1000, "deadline_s": 10.0}],
                   slo="soft", slo_weight=2.0)
    res = evaluate(ds, _z(ds), [False])
    # excess = 13.579333 - 10 = 3.579333; objective = 13.579333 + 2 * 3.579333 = 20.738
    assert float(res["slo_excess"][0]) == pytest.approx(T_EDGE - 10.0)
    assert res.attrs["objective"] == pytest.approx(T_EDGE + 2 * (T_EDGE - 10.0))
    assert res.attrs["radio_part"] == pytest.approx(0.016 + 2 * (T_EDGE - 10.0))
    assert bool(res["constraints_ok"][0])  # soft: no violation, so no r_penalty ...
    # ... but the weighted lateness is charged to the reward: 40 - 13.579333 - 7.158667
    assert float(res["reward"][0]) == pytest.approx(40.0 - T_EDGE - 2 * (T_EDGE - 10.0))


def test_hard_slo_is_a_constraint() -> None:
    tasks = [{"user": 0, "service": "chat", "output_tokens": 1000, "deadline_s": 10.0},
             {"user": 1, "service": "chat", "output_tokens": 1000, "deadline_s": 20.0}]
    ds = _scenario(tasks=tasks, slo="hard")
    res = evaluate(ds, _z(ds), [False, False])
    np.testing.assert_array_equal(res["constraints_ok"].values, [False, True])
    np.testing.assert_array_equal(res["quality_ok"].values, [True, True])
    np.testing.assert_allclose(res["reward"].values, [40.0 - T_EDGE - 30.0, 40.0 - T_EDGE])
    assert res.attrs["objective"] == pytest.approx(2 * T_EDGE)  # hard SLO adds no cost
    assert res.attrs["feasible"] == 0


def test_default_deadlines() -> None:
    # (1 + slo_slack) * fastest quality-feasible generation (cloud incl. t_back):
    #   chat    ("any"):   1.2 * min(13.563333, 31.72) = 16.276
    #   science ("cloud"): 1.2 * 31.72 = 38.064
    tasks = [{"user": 0, "service": "chat", "output_tokens": 1000},
             {"user": 1, "service": "science", "output_tokens": 1000}]
    ds = _scenario(tasks=tasks, slo="hard")
    np.testing.assert_allclose(ds["deadline"].values, [16.276, 38.064])


def test_concurrency_slows_the_edge() -> None:
    ds = _scenario(3, edge_tpot_slope=0.5)
    # three tasks at the edge of the cell: TPOT x (1 + 0.5 * 2) = 2 -> 0.23 + 1000 * 2/75
    res = evaluate(ds, _z(ds), [False, False, False])
    np.testing.assert_allclose(res["t_gen"].values, 0.23 + 2000 / 75)
    # one at the edge, two in the cloud: factor 1 at the edge, cloud unaffected
    res = evaluate(ds, _z(ds), [False, True, True])
    np.testing.assert_allclose(res["t_gen"].values, [0.23 + 1000 / 75, 0.42 + 1000 / 32,
                                                     0.42 + 1000 / 32])


def test_kv_cache_capacity() -> None:
    # 1 MB per token, 1.5 GB per cell: 1000 tokens fit, 2000 do not
    ds = _scenario(2, kv_bytes_per_token=1e6, edge_kv_capacity_gb=1.5)
    both = evaluate(ds, _z(ds), [False, False])
    np.testing.assert_array_equal(both["constraints_ok"].values, [False, False])
    np.testing.assert_allclose(both["reward"].values, 40.0 - T_EDGE - 30.0)
    one = evaluate(ds, _z(ds), [False, True])
    np.testing.assert_array_equal(one["constraints_ok"].values, [True, True])


def test_backhaul_capacity() -> None:
    # 0.05 Mbit = 50 000 bit per cell: one offloaded task (32 000 bit) fits, two (64 000) do not
    ds = _scenario(2, backhaul_capacity_mbit=0.05)
    np.testing.assert_array_equal(evaluate(ds, _z(ds), [True, True])["constraints_ok"].values,
                                  [False, False])
    np.testing.assert_array_equal(evaluate(ds, _z(ds), [True, False])["constraints_ok"].values,
                                  [True, True])


def test_min_rate() -> None:
    # 1.5 Mbit/s minimum: two RBs (2 Mbit/s) pass, one RB (1 Mbit/s) fails
    ds = _scenario(2, min_rate_mbps=1.5)
    z = _z(ds)
    assert evaluate(ds, z, [False, False])["constraints_ok"].values.all()
    z[1, 3] = False
    np.testing.assert_array_equal(evaluate(ds, z, [False, False])["constraints_ok"].values,
                                  [True, False])
