"""Without the drl extra, DQN fails with one line telling how to install it."""

from __future__ import annotations

import sys

import pytest

from genoffload.errors import InputError
from genoffload.rl import online_policy, train_dqn
from genoffload.scenario import make_config


def test_dqn_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)  # import now raises ImportError
    with pytest.raises(InputError) as err:
        train_dqn(make_config({}), 5)
    assert str(err.value).startswith("algo: needs the drl extra: pip install 'genoffload[drl]'")
    with pytest.raises(InputError, match=r"^algo: needs the drl extra"):
        online_policy("dqn", make_config({}), train_steps=5)
