"""The offloading optimum given z against brute force over every decision vector (the evaluator)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoffload.evaluate import evaluate
from genoffload.models.offload_given_z import (
    ENUMERATE_MAX,
    OffloadSolver,
    _cell_constants,
    _enumerate,
    coupled_cells,
    offload_optimum,
)
from genoffload.scenario import generate, make_config
from genoffload.schedulers import get_scheduler

from .conftest import FAMILIES


def _scenario(family: str, seed: int, users: int, sites: int = 1):
    cfg = make_config({"sites": sites, "users": users, "seed": seed, **FAMILIES[family]})
    ds = generate(cfg)
    return ds, get_scheduler("pf")(ds)


def _brute_force(ds, z) -> float:
    n = ds.sizes["task"]
    return max(float(evaluate(ds, z, np.array(a, dtype=bool))["reward"].values.sum())
               for a in itertools.product([False, True], repeat=n))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(sorted(FAMILIES)), seed=st.integers(0, 10_000),
       users=st.integers(1, 7))
def test_optimum_equals_brute_force(family: str, seed: int, users: int) -> None:
    ds, z = _scenario(family, seed, users)
    opt = offload_optimum(ds, z)
    best = _brute_force(ds, z)
    got = float(opt.reward.sum())
    assert opt.status == "optimal"
    assert got == pytest.approx(best, rel=1e-9, abs=1e-9)
    assert opt.bound >= best - 1e-7 and opt.gap <= 1e-6
    # the rewards are the evaluator's at the returned decisions
    np.testing.assert_allclose(opt.reward, evaluate(ds, z, opt.alpha)["reward"].values)


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_milp_matches_enumeration(family: str, seed: int) -> None:
    """The HiGHS MILP of a coupled cell reaches the enumeration's optimum (certified)."""
    ds, z = _scenario(family, seed, users=8)
    n = ds.sizes["task"]
    zero = evaluate(ds, z, np.zeros(n, dtype=bool))
    one = evaluate(ds, z, np.ones(n, dtype=bool))
    cell = _cell_constants(ds, zero, zero["quality_ok"].values, one["quality_ok"].values, np.arange(n))
    _, cost_e = _enumerate(cell)
    alpha_m, lb, status = OffloadSolver().solve_milp(cell)
    assert status == "optimal"
    assert lb == pytest.approx(cost_e, rel=1e-7, abs=1e-6)
    t_target = float(ds.attrs["t_target_s"])
    reward_m = float(evaluate(ds, z, alpha_m)["reward"].values.sum())
    assert reward_m == pytest.approx(n * t_target - cost_e, rel=1e-7, abs=1e-6)


def test_large_cell_uses_the_milp_and_bounds_every_policy() -> None:
    ds, z = _scenario("all", 5, users=20)
    assert ds.sizes["task"] > ENUMERATE_MAX
    opt = offload_optimum(ds, z, OffloadSolver())
    assert opt.milp_cells == 1 and opt.status == "optimal"
    n = ds.sizes["task"]
    rng = np.random.default_rng(0)
    for _ in range(50):
        alpha = rng.random(n) < 0.5
        assert evaluate(ds, z, alpha)["reward"].values.sum() <= opt.bound + 1e-7


def test_uncoupled_cells_use_the_closed_form() -> None:
    ds, z = _scenario("none", 3, users=10, sites=7)
    assert not coupled_cells(ds).any()
    opt = offload_optimum(ds, z)
    assert opt.gap == 0.0 and opt.milp_cells == 0 and not opt.coupled.any()
    both = [evaluate(ds, z, np.full(ds.sizes["task"], a))["reward"].values for a in (False, True)]
    np.testing.assert_allclose(opt.reward, np.maximum(*both))


def test_cache_answers_identical_cells() -> None:
    ds, z = _scenario("concurrency", 4, users=6)
    solver = OffloadSolver()
    solver.cache.clear()
    first = offload_optimum(ds, z, solver)
    again = offload_optimum(ds, z, solver)
    assert first.milp_cells == 1 and again.cache_hits == 1 and again.milp_cells == 0
    np.testing.assert_array_equal(first.alpha, again.alpha)
