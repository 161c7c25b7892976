"""The exact Snake planner against brute-force enumeration (hypothesis), and its infeasibility lines."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genoffload.errors import InputError
from genoffload.models.diagnose import InfeasibleError
from genoffload.models.snake_plan import brute_force, column_costs, plan
from genoffload.snake import cost
from genoffload.snake.layers import LayerSpec, ModelSpec, digits_cnn_spec
from genoffload.snake.nodes import GIB, NodeSet, make_nodes


@st.composite
def cases(draw: st.DrawFn) -> tuple[ModelSpec, NodeSet, str, bool]:
    n_layers = draw(st.integers(2, 6))
    layers = tuple(LayerSpec(f"l{i}", draw(st.integers(1, 2000)) * 1000, float(draw(st.integers(0, 5000))),
                             float(draw(st.integers(1, 10**6))) * 1e3, draw(st.integers(1, 1000)) * 1000)
                   for i in range(n_layers))
    spec = ModelSpec("tiny", layers, workspace=float(draw(st.integers(0, 1000))))
    require_all = draw(st.booleans())
    n = draw(st.integers(1, min(4, n_layers) if require_all else 4))
    full = cost.memory_full(spec, cost.Training())
    mem = [full * draw(st.sampled_from([0.3, 0.5, 0.8, 1.2])) for _ in range(n)]
    nodes = NodeSet(compute=np.asarray([draw(st.sampled_from([1e9, 5e9, 2e10])) for _ in range(n)]),
                    memory=np.asarray(mem), samples=np.asarray([draw(st.integers(1, 500)) for _ in range(n)]),
                    uplink=np.asarray([draw(st.sampled_from([1e6, 1e7, 1e8])) for _ in range(n)]),
                    downlink=np.asarray([draw(st.sampled_from([1e6, 1e7, 1e8])) for _ in range(n)]))
    return spec, nodes, draw(st.sampled_from(["time", "bytes", "weighted"])), require_all


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_plan_is_the_brute_force_optimum(case: tuple[ModelSpec, NodeSet, str, bool]) -> None:
    spec, nodes, objective, require_all = case
    best = brute_force(spec, nodes, objective=objective, require_all=require_all)  # type: ignore[arg-type]
    if best is None:
        with pytest.raises(InfeasibleError):
            plan(spec, nodes, objective=objective, require_all=require_all)  # type: ignore[arg-type]
        return
    p = plan(spec, nodes, objective=objective, require_all=require_all)  # type: ignore[arg-type]
    assert p.certified and p.gap <= 1e-6
    assert math.isclose(p.objective, best[0], rel_tol=1e-7, abs_tol=1e-12)
    # the plan's own numbers are the cost model's (eq. S9) for its segments
    rc = cost.snake_round(spec, nodes, p.segments, cost.Training())
    if objective == "time":
        assert math.isclose(rc.time, p.objective, rel_tol=1e-9)
    assert math.isclose(rc.bytes, p.round_bytes, rel_tol=1e-9)
    assert np.allclose(rc.memory, p.memory)
    assert np.all(p.memory <= nodes.memory)
    # contiguous, in order, covering every trainable layer once
    covered = [i for _, a, b in p.segments for i in range(a, b + 1)]
    assert covered == spec.trainable
    cols = column_costs(spec, nodes, cost.Training(), objective)  # type: ignore[arg-type]
    # no policy beats it: every even split with any node order that fits costs at least as much
    rng = np.random.default_rng(0)
    k = nodes.n if require_all else min(nodes.n, spec.n_layers)
    for _ in range(5):
        segs = cost.even_segments(spec, k)
        who = rng.permutation(nodes.n)[:k]
        other = [(int(who[i]), a, b) for i, (_, a, b) in enumerate(segs)]
        if all(o in cols for o in other):
            assert sum(cols[o][0] for o in other) >= p.objective - 1e-9 * abs(p.objective)


def test_digits_plan_certified_and_fits() -> None:
    spec = digits_cnn_spec()
    nodes = make_nodes(6, memory_gib=0.003, heterogeneity=0.5, seed=2)
    p = plan(spec, nodes, cost.Training(batch=16))
    assert p.status == "optimal" and p.reason == ""
    assert next(s[1] for s in p.segments) == 0 and p.segments[-1][2] == spec.n_layers - 1
    assert sorted(s[0] for s in p.segments) == list(range(6))


def test_segment_that_fits_no_node_is_named() -> None:
    spec = digits_cnn_spec()
    need = min(cost.memory_snake(spec, i, i, cost.Training()) for i in spec.trainable)
    nodes = make_nodes(1, memory_gib=0.99 * need / GIB)
    with pytest.raises(InfeasibleError, match=r"node 0 .* holds no segment: the smallest, \["):
        plan(spec, nodes)
    small = make_nodes(3, memory_gib=[1.0, 1.0, 1e-6])
    with pytest.raises(InfeasibleError, match=r"^infeasible: memory: node 2 \("):
        plan(spec, small)


def test_layer_that_fits_no_node() -> None:
    big = LayerSpec("huge", 10**8, 1.0, 1.0, 10**8)
    spec = ModelSpec("m", (LayerSpec("a", 10, 1.0, 1.0, 10), big, LayerSpec("b", 10, 1.0, 1.0, 10)))
    nodes = make_nodes(2, memory_gib=1.0)  # the whole model frozen fits, training "huge" does not
    with pytest.raises(InfeasibleError, match=r"segment \[1, 1\] \(huge\) fits no node"):
        plan(spec, nodes, require_all=False)


def test_more_nodes_than_layers_refused() -> None:
    with pytest.raises(InputError, match=r"^nodes.count: more nodes than trainable layers"):
        plan(digits_cnn_spec(), make_nodes(11, memory_gib=1.0))


def test_planner_16_by_30_one_thread() -> None:
    rng = np.random.default_rng(0)
    layers = tuple(LayerSpec(f"l{i}", int(p), float(rng.integers(10**3, 10**5)),
                             float(rng.integers(10**6, 10**9)),
                             int(p) // 2) for i, p in enumerate(rng.integers(10**5, 10**7, 30)))
    spec = ModelSpec("random30", layers)
    nodes = make_nodes(16, memory_gib=1.5, heterogeneity=0.5, seed=3)
    p = plan(spec, nodes, cost.Training(batch=8), threads=1)
    assert p.certified and len(p.segments) == 16
