"""Property tests (hypothesis): monotone delays, reward bound, schedulers, reproducibility."""

from __future__ import annotations

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genoffload import delay
from genoffload.evaluate import evaluate
from genoffload.scenario import from_document, generate, make_config
from genoffload.schedulers import SCHEDULERS, proportional_fair

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

tokens = st.integers(min_value=1, max_value=200_000)


@FAST
@given(n1=tokens, n2=tokens)
def test_generation_delay_grows_with_tokens_on_both_sides(n1: int, n2: int) -> None:
    lo, hi = sorted((n1, n2))
    for ttft, tpot in ((0.23, 1 / 75), (0.42, 1 / 32)):  # edge, cloud (paper Sec. IV-A)
        a = float(delay.generation_delay(lo, ttft, tpot))
        b = float(delay.generation_delay(hi, ttft, tpot))
        assert a <= b
        if hi > lo:
            assert b > a
            assert abs((b - a) - (hi - lo) * tpot) <= 1e-9 * b  # slope = TPOT


@FAST
@given(n1=tokens, n2=tokens, alpha=st.booleans(), streamed=st.booleans(),
       rate=st.floats(min_value=1e3, max_value=1e9))
def test_evaluated_delay_grows_with_tokens(n1: int, n2: int, alpha: bool, streamed: bool,
                                           rate: float) -> None:
    """Two tasks of the same user that differ only in size: the larger is never faster."""
    lo, hi = sorted((n1, n2))
    doc = {"user_cell": [0], "rate_bps": [[rate, rate]],
           "tasks": [{"user": 0, "service": "chat", "output_tokens": lo},
                     {"user": 0, "service": "chat", "output_tokens": hi}],
           "settings": {"delivery": "streamed" if streamed else "store-and-forward"}}
    ds = from_document(doc)
    res = evaluate(ds, np.ones((1, 2), dtype=bool), [alpha, alpha])
    t = res["t_total"].values
    assert t[0] <= t[1]
    if hi > lo:
        assert t[0] < t[1]
    assert res["t_gen"].values[0] <= res["t_gen"].values[1]


@st.composite
def generated(draw: st.DrawFn, max_users: int = 5) -> xr.Dataset:
    """A small generated scenario with RBs >= users per cell."""
    users = draw(st.integers(1, max_users))
    cfg = {
        "seed": draw(st.integers(0, 2**32 - 1)),
        "sites": draw(st.sampled_from([1, 1, 7])),
        "users": users,
        "rbs": users + draw(st.integers(0, 6)),
        "tasks_per_user": draw(st.sampled_from([1, (0, 2), (1, 3)])),
        "environment": draw(st.sampled_from(["UMa", "UMi"])),
        "placement": draw(st.sampled_from(["uniform", "cell-edge"])),
        "quality_share": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "media_share": draw(st.sampled_from([0.0, 0.3])),
        "delivery": draw(st.sampled_from(["store-and-forward", "streamed"])),
    }
    return generate(make_config(cfg))


@st.composite
def explicit_rates(draw: st.DrawFn) -> xr.Dataset:
    """An explicit scenario with a random rate matrix (zeros and ties included), 1-2 cells."""
    n_user = draw(st.integers(1, 6))
    n_cells = draw(st.integers(1, 2))
    user_cell = draw(st.lists(st.integers(0, n_cells - 1), min_size=n_user, max_size=n_user))
    n_rb = n_user + draw(st.integers(0, 5))  # RBs >= users, so >= users of any cell
    elements = st.one_of(st.just(0.0), st.sampled_from([1e5, 2e5]),
                         st.floats(min_value=0.0, max_value=1e8, allow_nan=False))
    rate = draw(arrays(np.float64, (n_user, n_rb), elements=elements))
    with_tasks = draw(st.lists(st.booleans(), min_size=n_user, max_size=n_user))
    tasks = [{"user": k, "service": "chat", "output_tokens": 100}
             for k in range(n_user) if with_tasks[k]]
    return from_document({"cells": n_cells, "user_cell": user_cell, "rate_bps": rate.tolist(),
                          "tasks": tasks})


def _users_with_tasks(ds: xr.Dataset) -> np.ndarray:
    has = np.zeros(ds.sizes["user"], dtype=bool)
    has[ds["task_user"].values] = True
    return has


def _check_pf(ds: xr.Dataset) -> None:
    z = proportional_fair(ds)
    has = _users_with_tasks(ds)
    assert z.shape == (ds.sizes["user"], ds.sizes["rb"])
    assert z[has].any(axis=1).all(), "a user with tasks got no RB"
    assert not z[~has].any(), "a user without tasks got an RB"
    cells = ds["user_cell"].values
    for j in range(ds.sizes["cell"]):
        assert (z[cells == j].sum(axis=0) <= 1).all()


@FAST
@given(ds=generated())
def test_pf_serves_every_user_with_tasks_generated(ds: xr.Dataset) -> None:
    _check_pf(ds)


@settings(max_examples=150, deadline=None)
@given(ds=explicit_rates())
def test_pf_serves_every_user_with_tasks_explicit(ds: xr.Dataset) -> None:
    _check_pf(ds)


@FAST
@given(ds=st.one_of(generated(), explicit_rates()))
def test_every_scheduler_gives_an_rb_to_at_most_one_user_per_cell(ds: xr.Dataset) -> None:
    cells = ds["user_cell"].values
    has = _users_with_tasks(ds)
    for name, scheduler in SCHEDULERS.items():
        z = np.asarray(scheduler(ds))
        assert z.dtype == bool and z.shape == (ds.sizes["user"], ds.sizes["rb"]), name
        for j in range(ds.sizes["cell"]):
            assert (z[cells == j].sum(axis=0) <= 1).all(), name
        assert not z[~has].any(), name
        evaluate(ds, z, np.zeros(ds.sizes["task"], dtype=bool))  # accepted by the evaluator


@FAST
@given(ds=generated(), data=st.data())
def test_reward_never_exceeds_the_target(ds: xr.Dataset, data: st.DataObject) -> None:
    n = ds.sizes["task"]
    alpha = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    res = evaluate(ds, proportional_fair(ds), alpha)
    t_target, penalty = float(ds.attrs["t_target_s"]), float(ds.attrs["penalty_s"])
    rew = res["reward"].values
    assert (rew <= t_target).all()
    ok = res["constraints_ok"].values
    np.testing.assert_allclose(rew, t_target - res["t_total"].values - np.where(ok, 0.0, penalty))
    assert (rew[~ok] <= t_target - penalty).all()


@FAST
@given(t_total=arrays(np.float64, 5, elements=st.floats(0, 1e6)),
       met=arrays(np.bool_, 5), t_target=st.floats(-1e3, 1e3), penalty=st.floats(0, 1e3))
def test_reward_function_bound(t_total: np.ndarray, met: np.ndarray, t_target: float,
                               penalty: float) -> None:
    r = delay.reward(t_total, met, t_target, penalty)
    assert (r <= t_target).all()
    assert (r[~met] <= t_target - penalty + 1e-9 * (1 + abs(t_target))).all()


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 2), users=st.integers(1, 6), sites=st.sampled_from([1, 7]),
       media=st.sampled_from([0.0, 0.5]))
def test_same_seed_same_scenario_other_seed_other_scenario(seed: int, users: int, sites: int,
                                                           media: float) -> None:
    cfg = {"seed": seed, "users": users, "sites": sites, "rbs": users + 2, "media_share": media,
           "tasks_per_user": (1, 3)}
    a = generate(make_config(cfg))
    b = generate(make_config(cfg))
    xr.testing.assert_identical(a, b)
    c = generate(make_config({**cfg, "seed": seed + 1}))
    assert not a.identical(c)
    if a.sizes == c.sizes:
        assert not np.array_equal(a["rate"].values, c["rate"].values)
