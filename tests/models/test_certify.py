"""Certification over generated scenarios of every documented shape (1, 7 and 19 sites, 1-100
users per cell, 6-275 RBs, text and media, each constraint family on and off), and brute
force on tiny multi-cell ones: status ``optimal`` with the gap at most the requested one,
or, under a time limit, a truthful status."""

from __future__ import annotations

import math
from typing import Any

import pytest
from brute import brute_force_cells
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoffload.evaluate import evaluate
from genoffload.models import InfeasibleError, solve
from genoffload.models.status import Status
from genoffload.scenario import generate, make_config

FAMILIES: dict[str, dict[str, Any]] = {
    "slo_soft": {"slo": "soft"}, "slo_hard": {"slo": "hard", "slo_slack": 0.5},
    "kv": {"kv_bytes_per_token": 131072.0, "edge_kv_capacity_gb": 2.0},
    "concurrency": {"edge_tpot_slope": 0.05}, "backhaul": {"backhaul_capacity_mbit": 0.5},
    "min_rate": {"min_rate_mbps": 0.05}, "streamed": {"delivery": "streamed"},
}


@st.composite
def configs(draw: st.DrawFn, max_binaries: int) -> dict[str, Any]:
    """A generator config of a documented shape with at most ``max_binaries`` z per cell
    times cells (the solve time grows with it)."""
    sites = draw(st.sampled_from([1, 7, 19]))
    rbs = draw(st.integers(6, 275))
    users = draw(st.integers(1, max(1, min(100, rbs, max_binaries // (sites * rbs)))))
    cfg: dict[str, Any] = {"sites": sites, "users": users, "rbs": rbs,
                           "seed": draw(st.integers(0, 10_000)),
                           "tasks_per_user": draw(st.sampled_from([1, (1, 2), (1, 3)])),
                           "media_share": draw(st.sampled_from([0.0, 0.3, 1.0])),
                           "environment": draw(st.sampled_from(["UMa", "UMi"])),
                           "placement": draw(st.sampled_from(["uniform", "cell-edge"])),
                           "token_distribution": draw(st.sampled_from(
                               ["uniform", "exponential", "lognormal"])),
                           "token_spread": draw(st.sampled_from([0.5, 2.0, 50.0]))}
    for name in draw(st.sets(st.sampled_from(sorted(FAMILIES)), max_size=4)):
        if name == "slo_hard" and "slo" in cfg:
            continue
        cfg.update(FAMILIES[name])
    return cfg


def check_truthful(ds: Any, gap: float, time_limit: float | None = None) -> str:
    """Solve; the answer must be evaluated feasible and its status must tell the truth."""
    try:
        res = solve(ds, gap=gap, time_limit=time_limit)
    except InfeasibleError as err:  # hard families can make a generated scenario infeasible
        assert "\n" not in str(err)
        return "infeasible"
    s = res.summary
    check = evaluate(ds, res.z, res.alpha)
    assert check.attrs["objective"] == pytest.approx(s.objective, rel=1e-12)
    assert s.bound <= s.objective * (1 + 1e-12) + 1e-12
    if s.status == Status.OPTIMAL:
        assert check.attrs["feasible"] == 1
        assert s.gap <= gap and s.reason == ""
        assert all(c.status in ("optimal", "time_limit") for c in s.cells)
    else:
        assert s.reason and "\n" not in s.reason
        assert time_limit is not None, f"uncertified without a time limit: {s.status} {s.reason}"
        assert s.status == Status.TIME_LIMIT
    return str(s.status)


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_binaries=4000))
def test_generated_small_certified(cfg: dict[str, Any]) -> None:
    check_truthful(generate(make_config(cfg)), 1e-4)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_binaries=15_000))
def test_generated_certified(cfg: dict[str, Any]) -> None:
    check_truthful(generate(make_config(cfg)), 1e-4)


@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cfg=configs(max_binaries=20_000), limit=st.sampled_from([0.0, 0.05, 0.5]))
def test_time_limit_is_truthful(cfg: dict[str, Any], limit: float) -> None:
    check_truthful(generate(make_config(cfg)), 1e-4, time_limit=limit)


@st.composite
def tiny_multicell(draw: st.DrawFn) -> dict[str, Any]:
    """7 or 19 generated cells (deep fades and interference included) with 1-2 users and
    3-4 RBs each, small enough to enumerate per cell."""
    cfg: dict[str, Any] = {"sites": draw(st.sampled_from([7, 19])),
                           "users": draw(st.integers(1, 2)), "rbs": draw(st.integers(3, 4)),
                           "seed": draw(st.integers(0, 10_000)),
                           "tasks_per_user": draw(st.sampled_from([1, (1, 2)])),
                           "media_share": draw(st.sampled_from([0.0, 0.5])),
                           "placement": draw(st.sampled_from(["uniform", "cell-edge"])),
                           "token_mean": draw(st.sampled_from([50.0, 1000.0]))}
    for name in draw(st.sets(st.sampled_from(sorted(FAMILIES)), max_size=3)):
        if name == "slo_hard" and "slo" in cfg:
            continue
        cfg.update(FAMILIES[name])
    return cfg


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(cfg=tiny_multicell())
def test_tiny_multicell_matches_brute_force(cfg: dict[str, Any]) -> None:
    ds = generate(make_config(cfg))
    best, z_b, a_b = brute_force_cells(ds)
    if not math.isfinite(best):
        with pytest.raises(InfeasibleError):
            solve(ds, gap=1e-7)
        return
    assert evaluate(ds, z_b, a_b).attrs["objective"] == pytest.approx(best, rel=1e-9)
    assert check_truthful(ds, 1e-7) == "optimal"
    res = solve(ds, gap=1e-7).summary
    assert res.objective == pytest.approx(best, rel=1e-6)
    assert res.bound <= best * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize(("sites", "users", "seed", "extra"), [
    (7, 20, 3, {}),  # the issue's example: a cell with rates from 7.5e-7 to 3.6 Mbit/s
    (1, 20, 2, {"token_distribution": "lognormal", "token_spread": 50.0}),  # tiny radio part
])
def test_issue_examples_certified(sites: int, users: int, seed: int,
                                  extra: dict[str, Any]) -> None:
    ds = generate(make_config({"sites": sites, "users": users, "seed": seed, **extra}))
    assert check_truthful(ds, 1e-4) == "optimal"


@pytest.mark.xfail(strict=True, reason="issue 10, open: HiGHS's MILP is solved but the outer "
                   "approximation stalls at gap 1.6e-4 of the radio part (below HiGHS's tolerances)")
def test_found_by_hypothesis_uncertified() -> None:
    """A generated scenario the solver does not certify at 1e-4 (status ``numerical``, truthful).

    Hypothesis shrank a failure of :func:`test_generated_small_certified` to it on 2026-12-02 (in
    a run on a loaded machine; the derandomized examples of that test pass when run alone).
    Strict: the day the solver certifies it, this test fails and should become a plain one.
    """
    cfg = {"sites": 1, "users": 3, "rbs": 15, "seed": 1, "tasks_per_user": (1, 2), "media_share": 0.0,
           "environment": "UMa", "placement": "uniform", "token_distribution": "exponential",
           "token_spread": 0.5, **FAMILIES["concurrency"], **FAMILIES["backhaul"]}
    assert check_truthful(generate(make_config(cfg)), 1e-4) == "optimal"
