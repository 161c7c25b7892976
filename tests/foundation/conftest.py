"""Shared fixtures of the foundation tests: small scenarios, explicit documents, paths."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xarray as xr

from genoffload.scenario import generate, make_config

DATA = Path(__file__).resolve().parents[1] / "data"
# the console script installed beside the interpreter running the tests (.venv/bin/genoffload)
GENOFFLOAD = Path(sys.executable).with_name("genoffload")

BASE_DOC: dict[str, Any] = {
    "user_cell": [0, 0],
    "rate_bps": [[1e6, 2e6], [3e6, 1e6]],
    "tasks": [{"user": 0, "service": "chat", "output_tokens": 100}],
}


def _make_doc(**changes: Any) -> dict[str, Any]:
    doc = copy.deepcopy(BASE_DOC)
    doc.update(copy.deepcopy(changes))
    return doc


def _small_config(**overrides: Any) -> dict[str, Any]:
    return {"users": 4, "rbs": 8, "seed": 3, "tasks_per_user": (1, 2), **overrides}


# Helpers are handed out as fixtures (a test module cannot import this conftest reliably when
# other test folders have their own conftest.py).
@pytest.fixture(scope="session")
def make_doc() -> Callable[..., dict[str, Any]]:
    """Factory: a fresh copy of a minimal valid explicit document, top-level fields replaced
    (1 cell, 2 users, 2 RBs, one chat task of 100 tokens)."""
    return _make_doc


@pytest.fixture(scope="session")
def small_config() -> Callable[..., dict[str, Any]]:
    """Factory: settings of a small generated scenario (4 users, 8 RBs, seed 3) plus overrides."""
    return _small_config


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """tests/data (the foundation files start with ``f_``)."""
    return DATA


@pytest.fixture(scope="session")
def genoffload_exe() -> Path:
    """The installed ``genoffload`` console script."""
    assert GENOFFLOAD.exists(), f"console script not installed at {GENOFFLOAD}"
    return GENOFFLOAD


@pytest.fixture(scope="session")
def small_scenario() -> xr.Dataset:
    """One cell, 4 users with 1-2 tasks each, 8 RBs, half of the tasks quality-preferred."""
    return generate(make_config(_small_config()))


@pytest.fixture(scope="session")
def multi_cell_scenario() -> xr.Dataset:
    """Seven cells with 3 users each (some without tasks), 6 RBs, some media tasks."""
    return generate(make_config(_small_config(sites=7, users=3, rbs=6, tasks_per_user=(0, 2),
                                             media_share=0.3, seed=11)))
