"""Solver API: options, bad input, infeasibility, the policy and the cell cost."""

from __future__ import annotations

import numpy as np
import pytest

from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.models import InfeasibleError, Status, data, solve
from genoffload.models.exact_policy import Exact
from genoffload.models.solve import map_status
from genoffload.scenario import from_document, generate, make_config
from genoffload.schedulers import proportional_fair

DOC = {"user_cell": [0, 0], "rate_bps": [[1e6, 2e6, 5e5], [2e6, 1e6, 1e6]],
       "tasks": [{"user": 0, "service": "chat", "output_tokens": 100, "content_bytes": 1e6},
                 {"user": 1, "service": "science", "output_tokens": 50, "content_bytes": 1e5}]}


@pytest.fixture(scope="module")
def small():
    return generate(make_config({"users": 6, "rbs": 12, "seed": 3, "tasks_per_user": (1, 2)}))


@pytest.mark.parametrize("gap", [0.0, -1e-3, 1.0, 2.0])
def test_bad_gap(gap: float) -> None:
    with pytest.raises(InputError, match="gap"):
        solve(from_document(DOC), gap=gap)


def test_bad_time_limit_and_threads() -> None:
    with pytest.raises(InputError, match="time_limit"):
        solve(from_document(DOC), time_limit=-1.0)
    with pytest.raises(InputError, match="threads"):
        solve(from_document(DOC), threads=0)


def test_no_tasks() -> None:
    with pytest.raises(InputError, match="task"):
        solve(from_document({**DOC, "tasks": []}))


def test_infeasible_slo_one_line() -> None:
    doc = {**DOC, "tasks": [{**DOC["tasks"][0], "deadline_s": 0.01}, DOC["tasks"][1]],
           "settings": {"slo": "hard"}}
    with pytest.raises(InfeasibleError) as err:
        solve(from_document(doc))
    msg = str(err.value)
    assert "\n" not in msg and "slo" in msg and "task 0" in msg
    assert isinstance(err.value, InputError)


def test_infeasible_min_rate() -> None:
    doc = {**DOC, "settings": {"min_rate_mbps": 50.0}}
    with pytest.raises(InfeasibleError, match="min_rate"):
        solve(from_document(doc))


def test_infeasible_combination_is_diagnosed() -> None:
    # each user alone reaches 3 Mbit/s, but not both at once
    doc = {**DOC, "settings": {"min_rate_mbps": 2.6}}
    with pytest.raises(InfeasibleError, match="min_rate"):
        solve(from_document(doc))


def test_solution_is_evaluated(small) -> None:
    res = solve(small)
    ev = evaluate(small, res.z, res.alpha)
    s = res.summary
    assert s.status == "optimal"
    assert ev.attrs["objective"] == pytest.approx(s.objective, rel=1e-12)
    assert s.bound <= s.objective + 1e-12
    assert s.gap_abs <= 1e-4 * s.radio_part + 1e-9
    assert s.objective <= s.heuristic_objective + 1e-12
    d = res.to_dict()
    assert {"objective", "bound", "gap_abs", "gap", "status", "build_s", "solve_s",
            "iterations", "cuts", "cells"} <= set(d)


def test_time_limit_zero_returns_incumbent(small) -> None:
    res = solve(small, time_limit=0.0)
    assert res.summary.status == "time_limit"
    assert res.summary.objective <= res.summary.heuristic_objective + 1e-12


def test_policy(small) -> None:
    plan = Exact().decide(small, proportional_fair(small))
    assert plan.info["status"] == "optimal"
    assert plan.z.shape == (small.sizes["user"], small.sizes["rb"])


def test_status_mapping() -> None:
    from pyomo.contrib.solver.common.results import TerminationCondition as TC
    assert map_status(TC.convergenceCriteriaSatisfied) is Status.OPTIMAL
    assert map_status(TC.maxTimeLimit) is Status.TIME_LIMIT
    assert map_status(TC.provenInfeasible) is Status.INFEASIBLE
    assert map_status(TC.error) is Status.ERROR
    assert map_status(TC.unknown) is Status.ERROR


@pytest.mark.parametrize("extra", [{}, {"delivery": "streamed", "slo": "soft"},
                                   {"edge_tpot_slope": 0.05, "media_share": 0.5}])
def test_cell_cost_matches_evaluator(extra) -> None:
    ds = generate(make_config({"users": 5, "rbs": 10, "seed": 2, "tasks_per_user": (1, 3),
                               **extra}))
    z = proportional_fair(ds)
    (cd,) = data.cell_data(ds)
    alpha = np.random.default_rng(0).random(ds.sizes["task"]) < 0.5
    alpha = np.where(cd.allow_edge, np.where(cd.allow_cloud, alpha, False), True)
    ev = evaluate(ds, z, alpha)
    obj, radio = data.cell_cost(cd, z[cd.users], alpha[cd.tasks])
    assert obj / 1e3 == pytest.approx(ev.attrs["objective"], rel=1e-12)
    assert radio / 1e3 == pytest.approx(ev.attrs["radio_part"], rel=1e-9, abs=1e-12)


def test_callbacks_certify_like_the_plain_loop(small, monkeypatch, caplog) -> None:
    """HiGHS callbacks (cuts at every improving solution, interrupt once certified) give a
    certified answer equal to the plain loop's within the gap, without Pyomo warnings."""
    import sys

    mod = sys.modules["genoffload.models.solve"]
    with caplog.at_level("WARNING"):
        on = solve(small, gap=1e-6).summary
    assert on.status == "optimal" and "kInterrupt" not in caplog.text
    monkeypatch.setattr(mod, "USE_CALLBACKS", False)
    off = solve(small, gap=1e-6).summary
    assert off.status == "optimal"
    tol = 1e-6 * max(on.radio_part, off.radio_part) + 1e-8
    assert on.objective == pytest.approx(off.objective, abs=tol)
    assert max(on.bound, off.bound) <= min(on.objective, off.objective) + 1e-8
