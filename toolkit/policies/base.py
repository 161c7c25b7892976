"""The policy interface shared by heuristics, ICL, RL and the exact solver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from genoffload.errors import InputError

BoolArray = NDArray[np.bool_]


@dataclass
class Plan:
    """Decisions for one scenario: RB allocation ``z[user, rb]`` and offloading ``alpha[task]``."""

    z: BoolArray
    alpha: BoolArray
    info: dict[str, Any] = field(default_factory=dict)


class Policy(Protocol):
    """An offloading policy.

    ``decide(scenario, z)`` returns a :class:`Plan`. Offloading-only policies keep the given
    allocation ``z`` (from a scheduler); joint policies (``joint = True``, e.g. the exact
    solver) choose ``z`` as well and may use the given one as a warm start.
    """

    name: ClassVar[str]
    joint: ClassVar[bool]

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan: ...


POLICIES: dict[str, Callable[..., Policy]] = {}


def register(name: str) -> Callable[[Callable[..., Policy]], Callable[..., Policy]]:
    """Class decorator: make a policy available by name (CLI, studies)."""

    def wrap(factory: Callable[..., Policy]) -> Callable[..., Policy]:
        POLICIES[name] = factory
        return factory

    return wrap


LAZY_MODULES = ("genoffload.rl",)
"""Modules that register more policies on import (``q-learning``, ``dqn``); loaded on demand."""


def load_all() -> dict[str, Callable[..., Policy]]:
    """Import the modules of :data:`LAZY_MODULES` so that every policy is registered."""
    import importlib

    for module in LAZY_MODULES:
        importlib.import_module(module)
    return POLICIES


def get_policy(name: str, **options: Any) -> Policy:
    """Instantiate a registered policy; unknown names raise :class:`InputError`."""
    if name not in POLICIES:
        load_all()
    if name not in POLICIES:
        raise InputError("policy", name, f"unknown policy (known: {', '.join(sorted(POLICIES))})")
    return POLICIES[name](**options)
