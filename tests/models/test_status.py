"""Status words tell the truth: the tables, a round cap, rows HiGHS refuses, time limits, and
sizes beyond the documented ones."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from pyomo.contrib.solver.common.results import TerminationCondition as TC

from genoffload.errors import InputError
from genoffload.models import data, solve
from genoffload.models import status as st
from genoffload.scenario import from_document, generate, make_config
from genoffload.schedulers import proportional_fair

SOLVE = sys.modules["genoffload.models.solve"]


@pytest.fixture(scope="module")
def paper() -> object:
    return generate(make_config({"users": 12, "rbs": 40, "seed": 2, "tasks_per_user": (1, 3)}))


def test_every_termination_condition_is_mapped() -> None:
    assert set(st.TERMINATION) == set(TC)
    assert st.map_status(TC.iterationLimit) is st.Status.ITERATION_LIMIT
    assert st.map_status(TC.maxTimeLimit) is st.Status.TIME_LIMIT
    assert st.map_status(TC.convergenceCriteriaSatisfied) is st.Status.OPTIMAL


def test_outcomes_and_severity() -> None:
    for name, o in st.OUTCOMES.items():
        status, reason = st.outcome(name, gap=0.5, target=1e-4, rounds=60, n=3, excess=1.0,
                                    tc="error")
        assert status is o.status and "\n" not in reason
        assert bool(reason) == (status is not st.Status.OPTIMAL)
    assert st.outcome("round_cap", gap=0.1, rounds=60)[0] is st.Status.ROUND_LIMIT  # not time
    assert st.worst([st.Status.OPTIMAL, st.Status.ROUND_LIMIT, st.Status.NUMERICAL]) is (
        st.Status.NUMERICAL)
    assert st.worst([st.Status.OPTIMAL]) is st.Status.OPTIMAL


def test_round_cap_is_round_limit(paper, monkeypatch) -> None:
    monkeypatch.setattr(SOLVE, "MAX_ROUNDS", 1)
    monkeypatch.setattr(SOLVE, "USE_CALLBACKS", False)  # no certification inside round 1
    s = solve(paper, gap=1e-7).summary
    assert s.status == "round_limit" and not s.certified
    assert "1 outer-approximation rounds" in s.reason and s.reason.startswith("cell 0: ")
    assert s.gap > 1e-7


def test_refused_rows_are_numerical(paper) -> None:
    """A coefficient beyond HiGHS's large_matrix_value (1e15) makes it refuse the rows; the loop
    notices it (Pyomo does not) instead of solving a model without them."""
    (cd,) = data.cell_data(paper)
    cs = SOLVE._CellSolver(cd, 1)
    z0 = proportional_fair(paper)
    cs.incumbent(z0[cd.users], np.zeros(cd.n_task, dtype=bool))
    cs.build()
    k = cs.m.radio_users[0]
    cs.opt.add_constraints([cs.m.cuts.add(cs.m.v[k] + 1e16 * cs.m.c[k] >= 2.0)])
    status, _, _ = cs.run(1e-4, math.inf)
    assert status is st.Status.NUMERICAL and "refused 1 rows" in cs.reason


def test_time_limit_reason(paper) -> None:
    s = solve(paper, time_limit=0.0).summary
    assert s.status == "time_limit" and "time limit" in s.reason and not s.certified
    assert s.to_dict()["certified"] is False


def test_certified_result_attrs(paper) -> None:
    res = solve(paper)
    s = res.summary
    assert s.certified and s.reason == "" and s.gap <= s.requested_gap == 1e-4
    assert res.dataset.attrs["certified"] == 1 and res.dataset.attrs["solver_status"] == "optimal"


def test_size_beyond_documented_is_refused(monkeypatch, paper) -> None:
    monkeypatch.setattr(SOLVE, "MAX_RBS", 39)
    with pytest.raises(InputError, match=r"scenario.cell\[0\].rbs.*documented for at most 39"):
        solve(paper)


def test_big_cell_refused_by_cli(tmp_path: Path) -> None:
    """201 users with tasks in one cell: refused before any model is built (one line, exit 2)."""
    n = 201
    doc = {"user_cell": [0] * n, "rate_bps": [[1e6] * 210 for _ in range(n)],
           "tasks": [{"user": k, "service": "chat", "output_tokens": 10} for k in range(n)]}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(doc))
    exe = Path(sys.executable).with_name("genoffload")
    out = subprocess.run([str(exe), "solve", str(path)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2
    err = out.stderr.strip()
    assert "\n" not in err and "users_with_tasks" in err and "201" in err
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(("field", "value"), [("output_tokens", 1e30), ("content_bytes", 1e13)])
def test_overflowing_sizes_refused_at_load(field: str, value: float) -> None:
    doc = {"user_cell": [0], "rate_bps": [[1e6, 1e6]],
           "tasks": [{"user": 0, "service": "chat", "output_tokens": 10, field: value}]}
    with pytest.raises(InputError, match=rf"tasks\[0\]\.{field}.*overflow"):
        from_document(doc)
