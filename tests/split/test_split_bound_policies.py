"""Exact bound (exhaustive) against brute force and every policy; the policies' logic."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genoffload.models.split_bound import bounds, exhaustive, regret
from genoffload.models.status import Status
from genoffload.policies.split import SPLIT_POLICIES, get_split_policy
from genoffload.policies.split.baselines import BestStatic
from genoffload.split.channel import ChannelState
from genoffload.split.config import LLMConfig, get_device
from genoffload.split.problem import SplitProblem

TINY = LLMConfig("tiny", layers=3, hidden=16, heads=2, kv_heads=1, head_dim=8, intermediate=32, vocab=64)
STATES = [ChannelState(6.0, 0.2), ChannelState(12.0, 0.05), ChannelState(18.0, 0.0)]


def problem(objective: str = "paper") -> SplitProblem:
    return SplitProblem(
        TINY, get_device("raspberry-pi-5"), get_device("nvidia-l4"), prompt=16, output=4, objective=objective
    )  # type: ignore[arg-type]


def table_quality(values: dict[tuple[int, int, ChannelState], float]):
    return lambda s, b, st_: 10.0 if s == TINY.layers else values[(s, b, st_)]


ppl_values = st.floats(10.0, 1e4, allow_nan=False) | st.just(math.inf)


@settings(max_examples=40, deadline=None)
@given(st.data(), st.sampled_from(["paper", "delay"]))
def test_no_policy_beats_the_exhaustive_bound(data: st.DataObject, objective: str) -> None:
    p = problem(objective)
    acts = [a for a in p.actions() if a[0] < TINY.layers]
    values = {(a[0], a[1], s): data.draw(ppl_values) for s in STATES for a in acts}
    quality = table_quality(values)
    found = bounds(p, STATES, quality, 10.0)
    for b, s in zip(found, STATES, strict=True):
        assert b.status in (Status.OPTIMAL, Status.INFEASIBLE) and b.gap == 0.0
        brute = max(p.reward(a, s, quality(a[0], a[1], s), 10.0) for a in p.actions())
        assert b.reward == brute
        for a in p.actions():  # every action is a policy's possible choice
            assert regret(b, a) >= 0
    table = {(i, a): b.rewards[a] for i, b in enumerate(found) for a in p.actions()}
    for name in ("ue-only", "edge-only", "fixed", "myopic-rate"):
        pol = get_split_policy(name).fit(p, STATES, quality, 10.0)
        assert all(regret(b, pol.choose(s)) >= 0 for b, s in zip(found, STATES, strict=True))
    static = BestStatic().fit_hindsight(p, table)
    best_mean = max(sum(table[(i, a)] for i in range(3)) for a in p.actions())
    assert sum(table[(i, static.action)] for i in range(3)) == pytest.approx(best_mean)
    assert best_mean <= sum(b.reward for b in found) + 1e-9


def test_bound_infeasible_when_no_action_meets_the_floor() -> None:
    p = problem("delay")
    b = exhaustive(p, STATES[0], lambda s, bi, st_: 1e6 if s < TINY.layers else 10.0, 10.0)
    assert b.action == (TINY.layers, 0) and b.status == Status.OPTIMAL  # UE-only meets it
    big = SplitProblem(
        TINY,
        get_device("raspberry-pi-5"),
        get_device("nvidia-l4"),
        prompt=16,
        output=4,
        objective="delay",
        splits=(0, 1),
    )
    b2 = exhaustive(big, STATES[0], lambda s, bi, st_: 1e6, 10.0)
    assert b2.status == Status.INFEASIBLE


def smooth_quality(split: int, bits: int, s: ChannelState) -> float:
    """A smooth stand-in (unit logic only): worse with erasure, fewer bits, low SINR."""
    if split == TINY.layers:
        return 10.0
    noise = s.erasure * (1.5 - split / TINY.layers) + {0: 0.3, 4: 0.2, 8: 0.02, 16: 0.01}[bits]
    return 10.0 * math.exp(noise * (1 + max(0.0, 10 - s.sinr_db) / 10))


def test_surrogate_learns_and_counts_its_evaluations() -> None:
    p = problem("paper")
    asked: list[tuple[int, int, ChannelState]] = []

    def q(split: int, bits: int, s: ChannelState) -> float:
        asked.append((split, bits, s))
        return smooth_quality(split, bits, s)

    train = [ChannelState(float(x), e) for x, e in itertools.product((6, 10, 14, 18), (0.0, 0.15, 0.3))]
    pol = get_split_policy("mbrl-argmax", budget=12).fit(p, train, q, 10.0, seed=0)
    assert len(asked) == 12 and len(set(asked)) == 12
    test = [ChannelState(8.0, 0.1), ChannelState(16.0, 0.25)]
    found = bounds(p, test, smooth_quality, 10.0)
    lost = [regret(b, pol.choose(s)) for b, s in zip(found, test, strict=True)]
    assert max(lost) < 0.2  # reward of (S13): 10 x relative perplexity + load
    verify = get_split_policy("mbrl-verify", budget=8, k=2).fit(p, train, q, 10.0, seed=0)
    before = len(asked)
    a = verify.choose(test[0])
    assert len(asked) - before == 2 and a in p.actions()


def test_unknown_policy_is_one_line() -> None:
    with pytest.raises(Exception, match=r"^policy: unknown split policy"):
        get_split_policy("oracle")
    assert {
        "ue-only",
        "edge-only",
        "fixed",
        "best-static",
        "myopic-rate",
        "mbrl-argmax",
        "mbrl-verify",
        "mbrl-ppo",
    } <= set(SPLIT_POLICIES)


def test_myopic_rule_follows_the_rate() -> None:
    p = SplitProblem(TINY, get_device("raspberry-pi-5"), get_device("nvidia-l4"), prompt=4096, output=4)
    pol = get_split_policy("myopic-rate", budget_s=0.01).fit(p, STATES, smooth_quality, 10.0)
    low, high = pol.choose(ChannelState(-5.0, 0.0)), pol.choose(ChannelState(30.0, 0.0))
    assert low[1] <= high[1] or low[0] == 0
