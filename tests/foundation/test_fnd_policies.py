"""Offloading policies: all-edge, all-cloud, quality-rule, greedy; schedulers; the pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.pipeline import run_policy
from genoffload.policy import get_policy, policy_names
from genoffload.scenario import from_document, generate, make_config
from genoffload.schedulers import get_scheduler, max_rate, proportional_fair, round_robin

SEEDS = [0, 1, 2, 3, 4, 5]


def _scenario(seed: int, **extra: object) -> xr.Dataset:
    cfg = {"users": 5, "rbs": 8, "seed": seed, "tasks_per_user": (1, 3), "quality_share": 0.5,
           "media_share": 0.2, "sites": 7 if seed % 2 else 1, **extra}
    return generate(make_config(cfg))


def _mixed_requirements() -> xr.Dataset:
    # llama3-8b offers 0.684, gpt-4o 0.887 (text); sd-turbo 0.70, dall-e-3 0.90 (image)
    tasks = [
        {"user": 0, "service": "chat", "output_tokens": 500},  # "any" tier -> 0.684: edge ok
        {"user": 0, "service": "science", "output_tokens": 500},  # "cloud" tier -> 0.887: offload
        {"user": 1, "service": "chat", "output_tokens": 500, "quality_requirement": 0.5},
        {"user": 1, "service": "coding", "output_tokens": 500, "quality_requirement": 0.684},
        {"user": 2, "service": "math", "output_tokens": 500, "quality_requirement": 0.685},
        {"user": 2, "service": "image", "output_tokens": 1, "quality_requirement": 0.7},
        {"user": 2, "service": "image", "output_tokens": 2, "quality_requirement": 0.71},
    ]
    return from_document({"user_cell": [0, 0, 0], "rate_bps": [[1e6] * 4, [2e6] * 4, [5e5] * 4],
                          "tasks": tasks})


def test_quality_rule_offloads_exactly_the_tasks_the_edge_cannot_serve() -> None:
    ds = _mixed_requirements()
    plan = get_policy("quality-rule").decide(ds, proportional_fair(ds))
    np.testing.assert_array_equal(plan.alpha, [False, True, False, False, True, False, True])


@pytest.mark.parametrize("seed", SEEDS)
def test_quality_rule_on_generated_scenarios(seed: int) -> None:
    ds = _scenario(seed)
    z = proportional_fair(ds)
    plan = get_policy("quality-rule").decide(ds, z)
    edge_misses = ds["quality_edge"].values < ds["quality_req"].values - 1e-9
    np.testing.assert_array_equal(plan.alpha, edge_misses)
    assert plan.z is z or np.array_equal(plan.z, z)  # keeps the scheduler's allocation
    assert evaluate(ds, plan.z, plan.alpha)["quality_ok"].values.all()


@pytest.mark.parametrize("seed", SEEDS)
def test_all_cloud_meets_every_quality_constraint(seed: int) -> None:
    ds = _scenario(seed, quality_share=1.0 if seed % 3 == 0 else 0.5)
    plan = get_policy("all-cloud").decide(ds, proportional_fair(ds))
    assert plan.alpha.all()
    res = evaluate(ds, plan.z, plan.alpha)
    assert res["quality_ok"].values.all() and res.attrs["quality_success"] == 1.0
    assert res.attrs["offloaded_share"] == 1.0


def test_all_edge_misses_the_preferred_tasks() -> None:
    ds = _mixed_requirements()
    plan = get_policy("all-edge").decide(ds, proportional_fair(ds))
    assert not plan.alpha.any()
    res = evaluate(ds, plan.z, plan.alpha)
    np.testing.assert_array_equal(res["quality_ok"].values,
                                  [True, False, True, True, False, True, False])


@pytest.mark.parametrize("scheduler", ["pf", "round-robin", "max-rate"])
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("delivery", ["store-and-forward", "streamed"])
def test_greedy_meets_quality_and_is_never_slower_than_quality_rule(seed: int, scheduler: str,
                                                                     delivery: str) -> None:
    ds = _scenario(seed, delivery=delivery)
    z = get_scheduler(scheduler)(ds)
    greedy = get_policy("greedy").decide(ds, z)
    rule = get_policy("quality-rule").decide(ds, z)
    res_g = evaluate(ds, greedy.z, greedy.alpha)
    res_r = evaluate(ds, rule.z, rule.alpha)
    assert res_g["quality_ok"].values.all()
    t_g, t_r = res_g["t_total"].values, res_r["t_total"].values
    finite = np.isfinite(t_r)  # max-rate may starve a user: both are inf then
    assert (t_g[finite] <= t_r[finite] + 1e-12).all()
    np.testing.assert_array_equal(np.isinf(t_g), np.isinf(t_r))


def test_greedy_beats_quality_rule_when_the_cloud_is_faster() -> None:
    # edge llama2-70b: 0.42 + 1000/40 = 25.42 s; cloud gemini-1.5-pro: 0.42 + 1000/58 + 0.05
    # = 17.71 s. A chat task ("any" tier = min(0.689, 0.859)) fits both: quality-rule keeps it at
    # the edge, greedy offloads it and saves 7.71 s.
    ds = from_document({"user_cell": [0], "rate_bps": [[1e6]],
                        "tasks": [{"user": 0, "service": "chat", "output_tokens": 1000}],
                        "settings": {"edge_model": "llama2-70b", "cloud_model": "gemini-1.5-pro"}})
    z = proportional_fair(ds)
    g = get_policy("greedy").decide(ds, z)
    r = get_policy("quality-rule").decide(ds, z)
    assert g.alpha.tolist() == [True] and r.alpha.tolist() == [False]
    t_g = float(evaluate(ds, z, g.alpha)["t_total"][0])
    t_r = float(evaluate(ds, z, r.alpha)["t_total"][0])
    assert t_r - t_g == pytest.approx((0.42 + 1000 / 40) - (0.42 + 1000 / 58 + 0.05), rel=1e-9)


def test_round_robin_and_max_rate_hand_worked() -> None:
    # 2 users, 3 RBs: round robin RB q -> user q mod 2; max-rate RB -> the larger rate
    ds = from_document({"user_cell": [0, 0], "rate_bps": [[5.0, 1.0, 3.0], [4.0, 2.0, 6.0]],
                        "tasks": [{"user": 0, "service": "chat", "output_tokens": 1},
                                  {"user": 1, "service": "chat", "output_tokens": 1}]})
    np.testing.assert_array_equal(round_robin(ds), [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(max_rate(ds), [[1, 0, 0], [0, 1, 1]])
    z = proportional_fair(ds)
    assert z.any(axis=1).all() and (z.sum(axis=0) == 1).all()


def test_pf_is_fairer_than_max_rate_for_a_weak_user() -> None:
    # user 1 is 10x weaker on every RB: max-rate starves it, PF serves it
    rate = np.array([[10.0] * 6, [1.0] * 6]) * 1e5
    ds = from_document({"user_cell": [0, 0], "rate_bps": rate.tolist(),
                        "tasks": [{"user": 0, "service": "chat", "output_tokens": 1},
                                  {"user": 1, "service": "chat", "output_tokens": 1}]})
    assert not max_rate(ds)[1].any()
    assert proportional_fair(ds)[1].any()


def test_unknown_names() -> None:
    with pytest.raises(InputError, match="unknown policy"):
        get_policy("nonesuch")
    with pytest.raises(InputError, match="unknown scheduler"):
        get_scheduler("fifo")
    assert {"all-edge", "all-cloud", "quality-rule", "greedy", "exact"} <= set(policy_names())


def test_run_policy_records_the_names(small_scenario: xr.Dataset) -> None:
    plan, res = run_policy(small_scenario, "round-robin", "greedy")
    assert res.attrs["policy"] == "greedy" and res.attrs["scheduler"] == "round-robin"
    assert res.attrs["decide_s"] >= 0
    np.testing.assert_array_equal(plan.z, round_robin(small_scenario))
    np.testing.assert_array_equal(res["alpha"].values, plan.alpha)
