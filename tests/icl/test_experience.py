"""Keywords and the experience pools: the paper's replay rules (Sec. III-B)."""

from __future__ import annotations

import numpy as np
import pytest

from genoffload.errors import InputError
from genoffload.policies.icl.experience import (
    Experience,
    LatestReplay,
    PrioritizedReplay,
    check_extras,
    make_pool,
    size_bucket,
    step_keywords,
)


def exp(service: str = "chat", size: str = "medium", offload: bool = False, reward: float = 20.0,
        ok: bool = True, step: int = 0) -> Experience:
    return Experience((service, size), offload, reward, ok, step)


@pytest.mark.parametrize(("units", "modality", "word"), [
    (100, "text", "tiny"), (249, "text", "tiny"), (250, "text", "short"), (749, "text", "short"),
    (750, "text", "medium"), (1249, "text", "medium"), (1250, "text", "long"),
    (2499, "text", "long"), (2500, "text", "huge"), (1, "image", "medium"), (30, "audio", "medium"),
    (2, "video", "short"), (20, "video", "huge")])
def test_size_buckets(units: float, modality: str, word: str) -> None:
    assert size_bucket(units, modality) == word


def test_step_keywords_paper_setting(step) -> None:  # type: ignore[no-untyped-def]
    kws = step_keywords(step.scenario, step.z, step.est_units)
    assert len(kws) == step.scenario.sizes["task"]
    for kw, service, units in zip(kws, step.scenario["service"].values, step.est_units, strict=False):
        assert kw == (str(service), size_bucket(units))


def test_step_keywords_extras(step) -> None:  # type: ignore[no-untyped-def]
    kws = step_keywords(step.scenario, step.z, step.est_units, ("link", "load"))
    assert all(len(kw) == 4 for kw in kws)
    assert {kw[2] for kw in kws} <= {"weak link", "fair link", "strong link"}
    assert {kw[3] for kw in kws} == {"crowded edge"}  # 6 tasks in one cell
    with pytest.raises(InputError, match="keywords"):
        check_extras(["link", "weather"])


def test_rule1_new_tuple_is_good() -> None:
    pool = PrioritizedReplay()
    out = pool.add(exp("chat", "short", reward=-5.0))
    assert out.good and len(pool) == 1 and pool.match(("chat", "short")) == out


def test_rule2_higher_reward_replaces_and_lower_is_bad() -> None:
    pool = PrioritizedReplay()
    pool.add(exp(offload=True, reward=10.0))
    better = pool.add(exp(offload=False, reward=25.0, step=1))
    assert better.good
    assert pool.match(("chat", "medium")) == better
    worse = pool.add(exp(offload=True, reward=12.0, step=2))
    assert not worse.good
    assert pool.match(("chat", "medium")) == better  # unchanged
    tie = pool.add(exp(offload=True, reward=25.0, step=3))
    assert not tie.good and pool.match(("chat", "medium")) == better
    assert len(pool) == 1


def test_constraint_violation_is_bad_and_stays_out() -> None:
    pool = PrioritizedReplay()
    out = pool.add(exp("science", offload=False, reward=-70.0, ok=False))
    assert not out.good and len(pool) == 0
    pool.add(exp("science", offload=True, reward=8.0))
    v0 = pool.version
    # even a violating experience with a higher reward (small penalty) never replaces
    out = pool.add(exp("science", offload=False, reward=30.0, ok=False))
    assert not out.good and pool.match(("science", "medium")).offload and pool.version == v0  # type: ignore[union-attr]


def test_prioritized_order_is_entry_order_and_replacement_moves_to_end() -> None:
    pool = PrioritizedReplay()
    for s in ("chat", "math", "coding"):
        pool.add(exp(s))
    assert [e.keywords[0] for e in pool.examples()] == ["chat", "math", "coding"]
    pool.add(exp("chat", reward=30.0))
    assert [e.keywords[0] for e in pool.examples()] == ["math", "coding", "chat"]


def test_latest_replay_keeps_the_latest_n() -> None:
    pool = LatestReplay(3)
    for i in range(5):
        pool.add(exp(reward=float(i), ok=i != 4, step=i))
    got = pool.examples()
    assert [e.step for e in got] == [2, 3, 4]
    assert [e.good for e in got] == [True, True, False]
    assert pool.match(("chat", "medium")).step == 4  # type: ignore[union-attr]
    with pytest.raises(InputError, match="examples"):
        LatestReplay(0)


def test_make_pool() -> None:
    assert isinstance(make_pool("prioritized", 5), PrioritizedReplay)
    assert isinstance(make_pool("latest", 5), LatestReplay)
    with pytest.raises(InputError, match="replay"):
        make_pool("random", 5)


def test_keywords_are_hashable_strings(step) -> None:  # type: ignore[no-untyped-def]
    kws = step_keywords(step.scenario, step.z, np.full(step.scenario.sizes["task"], 3000.0))
    assert all(kw[1] == "huge" and all(isinstance(w, str) for w in kw) for kw in kws)
    assert len(set(kws)) <= 6
