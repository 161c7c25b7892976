"""The exact solver against brute-force enumeration on tiny instances (every family, both modes)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoffload import constraints as cons
from genoffload.evaluate import evaluate
from genoffload.models import InfeasibleError, solve
from genoffload.scenario import from_document


def brute_force(ds: Any) -> tuple[float, np.ndarray, np.ndarray]:
    """Minimum objective over every RB assignment (incl. unassigned) and every alpha."""
    n_u, n_q, n_t = ds.sizes["user"], ds.sizes["rb"], ds.sizes["task"]
    fam = cons.Families.from_attrs(ds.attrs)
    own = ds["task_user"].values
    rate = ds["rate"].values
    choices = np.array(list(itertools.product(range(n_u + 1), repeat=n_q)))  # n_u = nobody
    zs = choices[:, None, :] == np.arange(n_u)[None, :, None]  # (Z, user, rb)
    cap = np.einsum("kq,zkq->zk", rate, zs)
    alphas = np.array(list(itertools.product([False, True], repeat=n_t)))  # (A, task)
    bits = ds["content_bits"].values
    with np.errstate(divide="ignore", invalid="ignore"):
        radio = np.where(bits > 0, bits / cap[:, own], 0.0)  # (Z, T)
    radio = np.where((bits > 0) & (cap[:, own] <= 0), np.inf, radio)
    units = ds["units"].values
    m = (~alphas).sum(axis=1, keepdims=True)
    m_seen = np.where(~alphas, m, m + 1)
    t_edge = ds["ttft_edge"].values + units * ds["tpot_edge"].values * (
        1 + fam.edge_tpot_slope * (m_seen - 1))
    t_cloud = ds["ttft_cloud"].values + units * ds["tpot_cloud"].values + ds.attrs["t_back_s"]
    gen = np.where(alphas, t_cloud, t_edge)  # (A, T)
    if ds.attrs["delivery"] == "streamed":
        tot = np.maximum(radio[:, None, :], gen[None])
    else:
        tot = radio[:, None, :] + gen[None]
    dl = cons.deadlines(ds)
    ok = np.ones(tot.shape[:2], dtype=bool)
    obj = tot.sum(axis=2)
    if fam.slo == "soft":
        obj = obj + fam.slo_weight * np.maximum(tot - dl, 0).sum(axis=2)
    if fam.slo == "hard":
        ok &= (tot <= dl + 1e-9).all(axis=2)
    q_ok = np.where(alphas, ds["quality_cloud"].values, ds["quality_edge"].values) >= (
        ds["quality_req"].values - 1e-12)
    ok &= q_ok.all(axis=1)[None, :]
    text = ds["modality"].values == "text"
    kv = (np.where(~alphas & text, units, 0) * fam.kv_bytes_per_token).sum(axis=1)
    ok &= (kv <= fam.edge_kv_capacity_bytes * (1 + 1e-12))[None, :]
    bh = np.where(alphas, bits, 0).sum(axis=1)
    ok &= (bh <= fam.backhaul_capacity_bits * (1 + 1e-12))[None, :]
    has = np.zeros(n_u, dtype=bool)
    has[own] = True
    ok &= ((cap >= fam.min_rate_bps * (1 - 1e-12)) | ~has).all(axis=1)[:, None]
    obj = np.where(ok, obj, np.inf)
    zi, ai = np.unravel_index(int(np.argmin(obj)), obj.shape)
    return float(obj[zi, ai]), zs[zi], alphas[ai]


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
