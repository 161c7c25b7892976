"""The recipe "Adding a constraint family" (docs/architecture.md), followed by a test.

A tiny family, ``cloud_cap``: at most ``max_cloud_tasks`` offloaded tasks per cell. It is
defined and registered here only; the evaluator, the exact solver (against brute force), the
infeasibility diagnosis and a study case pick it up with no other edit.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyomo.environ as pyo
import pytest

from genoffload.constraints import per_cell_sum
from genoffload.evaluate import evaluate, evaluate_arrays
from genoffload.families import (
    Cell,
    EvalContext,
    Families,
    Family,
    Settings,
    Verdict,
    register_family,
    unregister_family,
)
from genoffload.models import InfeasibleError, solve
from genoffload.models.data import CellData
from genoffload.models.families import register_milp_define, unregister_milp_define
from genoffload.scenario import from_document, generate
from genoffload.studies.spec import grid_values, resolve_config

# --- step 1: the family (its settings, evaluator check, per-cell check, quick check, preset) --


def _on(fam: Settings) -> bool:
    return math.isfinite(fam.max_cloud_tasks)


def _check(ctx: EvalContext) -> Verdict:
    used = per_cell_sum(ctx.scenario, ctx.alpha.astype(float))
    return Verdict(ok=np.where(ctx.alpha, (used <= ctx.fam.max_cloud_tasks)[ctx.cell], True))


def _cell_ok(cell: Cell, alpha: np.ndarray) -> bool:
    return bool(alpha.sum() <= cell.fam.max_cloud_tasks)


def _quick(cell: Cell) -> str | None:
    need = int((~cell.allow_edge).sum())
    if need > cell.fam.max_cloud_tasks:
        return f"{need} tasks of cell {cell.cell} need the cloud"
    return None


CLOUD_CAP = Family(
    name="cloud_cap", settings={"max_cloud_tasks": math.inf}, is_active=_on,
    preset={"max_cloud_tasks": 1.0}, check=_check, milp="define_cloud_cap", couples="load",
    cell_ok=_cell_ok, quick_check=_quick)


# --- step 2: its MILP side ---------------------------------------------------------------------

def define_cloud_cap(m: pyo.ConcreteModel, cd: CellData) -> None:
    """``sum_i alpha_i <= max_cloud_tasks`` per cell."""
    m.cloud_cap = pyo.Constraint(expr=pyo.quicksum(m.alpha[i] for i in range(cd.n_task))
                                 <= cd.fam.max_cloud_tasks)


@pytest.fixture
def cloud_cap() -> Iterator[Family]:
    """Step 3: register both sides (and remove them afterwards)."""
    register_family(CLOUD_CAP)
    register_milp_define(define_cloud_cap)
    try:
        yield CLOUD_CAP
    finally:
        unregister_family(CLOUD_CAP.name)
        unregister_milp_define("define_cloud_cap")


def _doc(cap: float | None, services: tuple[str, ...] = ("chat", "chat", "chat"),
         models: tuple[str, str] = ("gpt-4o", "llama3-8b")) -> dict[str, Any]:
    # by default the cloud model (llama3-8b + t_back) is faster than the edge one (gpt-4o):
    # every task wants the cloud, so the cap binds
    tasks = [{"user": i % 2, "service": s, "output_tokens": 50, "content_bytes": 2e4 * (i + 1)}
             for i, s in enumerate(services)]
    settings: dict[str, Any] = {"edge_model": models[0], "cloud_model": models[1]}
    if cap is not None:
        settings["family_settings"] = {"max_cloud_tasks": cap}
    return {"user_cell": [0, 0], "rate_bps": [[1e6, 4e5, 2e6], [5e5, 2e6, 1e6]], "tasks": tasks,
            "settings": settings}


def _brute_force(ds: Any) -> float:
    """Minimum objective of the evaluator over every RB assignment and every alpha."""
    n_u, n_q, n_t = ds.sizes["user"], ds.sizes["rb"], ds.sizes["task"]
    best = math.inf
    for owners in itertools.product(range(n_u + 1), repeat=n_q):  # n_u: nobody
        z = np.arange(n_u)[:, None] == np.array(owners)[None, :]
        for alpha in itertools.product([False, True], repeat=n_t):
            out = evaluate_arrays(ds, z, np.array(alpha))["attrs"]
            if out["feasible"]:
                best = min(best, out["objective"])
    return best


def test_the_evaluator_checks_the_new_family(cloud_cap: Family) -> None:
    ds = from_document(_doc(1.0))
    assert Families.from_attrs(ds.attrs).active == ["cloud_cap"]
    z = np.array([[True, False, True], [False, True, False]])
    two = evaluate(ds, z, [True, True, False])
    np.testing.assert_array_equal(two["constraints_ok"].values, [False, False, True])
    assert two.attrs["feasible"] == 0
    one = evaluate(ds, z, [True, False, False])
    assert one["constraints_ok"].values.all() and one.attrs["feasible"] == 1


def test_the_exact_solver_meets_brute_force(cloud_cap: Family) -> None:
    ds = from_document(_doc(1.0))
    best = _brute_force(ds)
    free = _brute_force(from_document(_doc(None)))
    assert best > free  # the cap binds
    res = solve(ds, gap=1e-7)
    assert res.summary.status == "optimal"
    assert int(res.alpha.sum()) == 1
    check = evaluate(ds, res.z, res.alpha)
    assert check.attrs["feasible"] == 1
    assert res.summary.objective == pytest.approx(best, rel=1e-6)


def test_the_diagnosis_names_the_new_family(cloud_cap: Family) -> None:
    # science tasks need the cloud model's quality (gpt-4o in the cloud)
    ds = from_document(_doc(1.0, ("science", "science", "chat"), ("llama3-8b", "gpt-4o")))
    with pytest.raises(InfeasibleError, match="infeasible: cloud_cap: 2 tasks of cell 0"):
        solve(ds)


def test_a_study_case_switches_it_on_by_name(cloud_cap: Family) -> None:
    cfg = resolve_config({"families": "cloud_cap+kv", "users": 3, "sites": 1}, "base")
    assert cfg.family_settings == {"max_cloud_tasks": 1.0}
    assert grid_values(cfg, ())["families"] == "kv+cloud_cap"
    ds = generate(cfg)
    assert ds.attrs["max_cloud_tasks"] == 1.0
    assert "cloud_cap" in Families.from_attrs(ds.attrs).active


def test_without_the_family_nothing_changes() -> None:
    cfg = resolve_config({"families": "kv", "users": 3, "sites": 1}, "base")
    assert "family_settings" not in cfg.model_dump()
    assert "max_cloud_tasks" not in generate(cfg).attrs
    with pytest.raises(Exception, match="unknown constraint family"):
        resolve_config({"families": "cloud_cap"}, "base")
