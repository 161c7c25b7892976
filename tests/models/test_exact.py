"""The exact solver against brute-force enumeration on tiny instances (every family, both modes)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from brute import brute_force
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoffload.evaluate import evaluate
from genoffload.models import InfeasibleError, solve
from genoffload.scenario import from_document


@st.composite
def tiny_scenarios(draw: st.DrawFn) -> dict[str, Any]:
    n_u = draw(st.integers(2, 3))
    n_q = draw(st.integers(3, 5 if n_u == 3 else 6))
    rate = [[draw(st.sampled_from([0.0, 2e5, 5e5, 1e6, 2e6, 4e6])) for _ in range(n_q)]
            for _ in range(n_u)]
    n_tasks = draw(st.lists(st.integers(1, 2), min_size=n_u, max_size=n_u))
    while sum(n_tasks) > 4:
        n_tasks[n_tasks.index(max(n_tasks))] -= 1
    slo = draw(st.sampled_from(["off", "hard", "soft"]))
    tasks = []
    for k, n in enumerate(n_tasks):
        for _ in range(n):
            t = {"user": k, "service": draw(st.sampled_from(["chat", "science", "image"])),
                 "output_tokens": draw(st.sampled_from([1, 20, 100, 400])),
                 "content_bytes": draw(st.sampled_from([0.0, 1e4, 1e5, 1e6]))}
            if t["service"] == "image":
                t["output_tokens"] = 1
            if slo != "off":
                t["deadline_s"] = draw(st.sampled_from([1.0, 3.0, 6.0, 10.0, 30.0]))
            tasks.append(t)
    settings_: dict[str, Any] = {"delivery": draw(st.sampled_from(["store-and-forward",
                                                                    "streamed"])), "slo": slo}
    if draw(st.booleans()):
        settings_.update(kv_bytes_per_token=131072.0,
                         edge_kv_capacity_gb=draw(st.sampled_from([0.01, 0.05, 0.2])))
    if draw(st.booleans()):
        settings_["edge_tpot_slope"] = draw(st.sampled_from([0.05, 0.5]))
    if draw(st.booleans()):
        settings_["backhaul_capacity_mbit"] = draw(st.sampled_from([0.1, 1.0, 10.0]))
    if draw(st.booleans()):
        settings_["min_rate_mbps"] = draw(st.sampled_from([0.5, 2.0, 6.0]))
    return {"user_cell": [0] * n_u, "rate_bps": rate, "tasks": tasks, "settings": settings_}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=tiny_scenarios())
def test_matches_brute_force(doc: dict[str, Any]) -> None:
    ds = from_document(doc)
    best, z_b, a_b = brute_force(ds)
    if not math.isfinite(best):
        with pytest.raises(InfeasibleError) as err:
            solve(ds, gap=1e-7)
        assert "\n" not in str(err.value)
        return
    assert evaluate(ds, z_b, a_b).attrs["objective"] == pytest.approx(best, rel=1e-9)
    res = solve(ds, gap=1e-7)
    assert res.summary.status == "optimal"
    check = evaluate(ds, res.z, res.alpha)
    assert check.attrs["feasible"] == 1
    assert check.attrs["objective"] == pytest.approx(res.summary.objective, rel=1e-12)
    assert res.summary.objective == pytest.approx(best, rel=1e-6)
    assert res.summary.bound <= best * (1 + 1e-9) + 1e-12
