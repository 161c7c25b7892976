"""Epsilon schedules: parsing, values, and the share of explorations."""

from __future__ import annotations

import numpy as np
import pytest

from genoffload.errors import InputError
from genoffload.exploration import EpsilonSchedule, exploration_draws, parse_epsilon


def test_constant() -> None:
    s = parse_epsilon("constant:0.2")
    assert s(0) == s(1000) == 0.2
    assert parse_epsilon("0.1")(5) == 0.1
    assert parse_epsilon(0.0)(0) == 0.0
    assert parse_epsilon("constant:0").spec == "constant:0"


def test_linear() -> None:
    s = parse_epsilon("linear:0.5:0.1:100")
    assert s(0) == 0.5
    assert s(50) == pytest.approx(0.3)
    assert s(100) == pytest.approx(0.1) and s(500) == pytest.approx(0.1)


def test_exp() -> None:
    s = parse_epsilon("exp:0.4:0.01:20")
    assert s(0) == 0.4
    assert s(20) == pytest.approx(0.2)
    assert s(40) == pytest.approx(0.1)
    assert s(10_000) == 0.01


def test_spec_round_trip() -> None:
    for text in ("constant:0.05", "linear:0.5:0.1:100", "exp:0.3:0.01:25"):
        s = parse_epsilon(text)
        assert parse_epsilon(s.spec) == s
        assert isinstance(s, EpsilonSchedule)


@pytest.mark.parametrize("bad", [
    "", "greedy", "constant", "constant:x", "constant:1.5", "constant:-0.1", "linear:0.5:0.1",
    "linear:0.1:0.5:100", "linear:0.5:0.1:0", "exp:0.5:0.1:-3", "exp:0.5:0.1:nan",
    "exp:0.5:0.1:20:4", "constant:inf"])
def test_bad_schedules_name_epsilon(bad: str) -> None:
    with pytest.raises(InputError) as info:
        parse_epsilon(bad)
    msg = str(info.value)
    assert msg.startswith("epsilon:") and "\n" not in msg


@pytest.mark.parametrize("eps", [0.0, 0.05, 0.3, 1.0])
def test_exploration_share_matches_eps(eps: float) -> None:
    rng = np.random.default_rng(7)
    n = 40_000
    explore, coin = exploration_draws(rng, n, eps)
    tol = 4 * np.sqrt(eps * (1 - eps) / n) + 1e-12
    assert abs(explore.mean() - eps) <= tol
    assert abs(coin.mean() - 0.5) <= 4 * np.sqrt(0.25 / n)


def test_draws_consume_the_same_numbers_whatever_eps() -> None:
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    exploration_draws(a, 5, 0.0)
    exploration_draws(b, 5, 0.9)
    assert a.random() == b.random()
