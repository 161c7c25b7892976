"""The registry of constraint families and :class:`Families`, the settings of all of them.

The built-in families are, in this order (the order of the scenario attributes, of
:attr:`Families.active` and of the MILP's ``define_*`` calls): ``slo_soft``, ``slo_hard``
(:mod:`~genoffload.families.slo`), ``kv``, ``concurrency``, ``backhaul``, ``min_rate``.
:func:`register_family` adds one after them (see "Adding a constraint family" in
``docs/architecture.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from genoffload.errors import InputError
from genoffload.families.backhaul import BACKHAUL
from genoffload.families.base import Family
from genoffload.families.concurrency import CONCURRENCY
from genoffload.families.kv import KV
from genoffload.families.min_rate import MIN_RATE
from genoffload.families.slo import SLO_HARD, SLO_SOFT

BUILTIN: tuple[Family, ...] = (SLO_SOFT, SLO_HARD, KV, CONCURRENCY, BACKHAUL, MIN_RATE)
_REGISTRY: dict[str, Family] = {f.name: f for f in BUILTIN}


def register_family(family: Family) -> Family:
    """Add a family after the registered ones; returns it.

    Raises
    ------
    InputError
        When the name, an alias or a setting is already taken by another family.
    """
    taken = {a for f in _REGISTRY.values() for a in (f.name, *f.aliases)}
    for name in (family.name, *family.aliases):
        if name in taken:
            raise InputError("family.name", name, "a constraint family of this name is registered")
    own = {k for f in _REGISTRY.values() if f.settings is not family.settings for k in f.settings}
    for key in family.settings:
        if key in own:
            raise InputError(f"family.settings.{key}", key, "another family uses this setting")
    _REGISTRY[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family added by :func:`register_family` (the built-in ones stay)."""
    if any(f.name == name for f in BUILTIN):
        raise InputError("family.name", name, "a built-in family cannot be removed")
    _REGISTRY.pop(name, None)


def registered() -> tuple[Family, ...]:
    """Every registered family, built-in ones first."""
    return tuple(_REGISTRY.values())


def get_family(name: str, where: str = "family") -> Family:
    """The family of a name or alias (``slo`` is ``slo_soft``).

    Raises
    ------
    InputError
        Naming ``where`` and the known names.
    """
    for f in _REGISTRY.values():
        if name == f.name or name in f.aliases:
            return f
    known = ", ".join([*(f.name for f in _REGISTRY.values()),
                       *(a for f in _REGISTRY.values() for a in f.aliases)])
    raise InputError(where, name, f"unknown constraint family (known: {known})")


def setting_defaults() -> dict[str, Any]:
    """Every setting of the registered families and its default (family off), in order."""
    out: dict[str, Any] = {}
    for f in _REGISTRY.values():
        for k, v in f.settings.items():
            out.setdefault(k, v)
    return out


@dataclass(frozen=True, eq=False)
class Families:
    """Settings of the registered constraint families (``Dataset.attrs``), read as attributes
    (``fam.slo``, ``fam.edge_tpot_slope``); the defaults switch every family off.

    ``Families()`` has every default; ``Families(slo="hard")`` sets one.
    """

    values: dict[str, Any]

    def __init__(self, **values: Any) -> None:
        defaults = setting_defaults()
        for key in values:
            if key not in defaults:
                raise InputError(f"families.{key}", values[key], "not a setting of a registered family")
        object.__setattr__(self, "values", {**defaults, **values})

    def __getattr__(self, name: str) -> Any:
        if name == "values":  # not set yet (unpickling)
            raise AttributeError(name)
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Families) and self.values == other.values

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.values.items())))

    def __repr__(self) -> str:
        return f"Families({', '.join(f'{k}={v!r}' for k, v in self.values.items())})"

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> Families:
        """Read the families from scenario attributes (missing keys: off)."""
        defaults = setting_defaults()
        kw = {k: (str(attrs[k]) if isinstance(d, str) else float(attrs[k]))
              for k, d in defaults.items() if k in attrs}
        return cls(**kw)

    def to_attrs(self) -> dict[str, Any]:
        """The settings as scenario attributes."""
        return dict(self.values)

    def replace(self, **values: Any) -> Families:
        """A copy with some settings changed."""
        return Families(**{**self.values, **values})

    def members(self) -> list[Family]:
        """The registered families that are switched on."""
        return [f for f in _REGISTRY.values() if all(k in self.values for k in f.settings)
                and f.is_active(self)]

    @property
    def active(self) -> list[str]:
        """Names of the families that are switched on."""
        return [f.name for f in self.members()]

    def couples(self, how: str | None = None) -> bool:
        """Whether an active family couples ``alpha`` (``how``: ``link`` or ``load`` only)."""
        return any(f.couples is not None and (how is None or f.couples == how)
                   for f in self.members())


def families_from_config(cfg: Any) -> Families:
    """Constraint-family settings of a :class:`~genoffload.scenario.ScenarioConfig`, in SI units."""
    out: dict[str, Any] = {}
    for f in _REGISTRY.values():
        out.update(f.settings_from_config(cfg))
    return Families(**out)


def check_family_settings(given: dict[str, Any], where: str) -> None:
    """Every key of a config's ``family_settings`` is a setting of a registered family that
    the config has no own field for (a finite number)."""
    defaults = setting_defaults()
    builtin = {k for f in BUILTIN for k in f.settings}
    for key, value in given.items():
        if key not in defaults or key in builtin:
            raise InputError(f"{where}.{key}", value,
                             "not a setting of a registered (non built-in) constraint family")
        if isinstance(defaults[key], float | int) and not (
                isinstance(value, int | float) and not math.isnan(value)):
            raise InputError(f"{where}.{key}", value, "expected a number")
