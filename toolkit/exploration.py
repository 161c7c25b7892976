"""Epsilon-greedy exploration (paper Sec. III-B) with a schedule given as a string.

Schedules (``t`` = episode step, from 0):

``constant:EPS`` (or just ``EPS``)
    ``eps(t) = EPS``; ``constant:0`` is baseline 2 (no exploration).
``linear:START:FLOOR:STEPS``
    From ``START`` down to ``FLOOR`` in ``STEPS`` steps, then ``FLOOR``.
``exp:START:FLOOR:HALFLIFE``
    ``max(FLOOR, START * 0.5 ** (t / HALFLIFE))``.

Every value of ``eps`` is in [0, 1] and ``FLOOR <= START``. Draws come from the step's
generator, always two numbers per task whatever the schedule, so policies that differ only in
their schedule see the same scenarios for the same seed.

What an exploring task does (``explore``):

``random``
    The paper's epsilon-greedy: a fair coin between local and offload.
``untried`` (default)
    Novelty first: the decision never taken so far for the task's keyword tuple, if one is
    left; the coin otherwise. Each keyword tuple then has both outcomes on record after at
    most two explorations, which the prioritized replay needs to replace a first, worse
    Good example (rule 1 keeps whatever came first).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from genoffload.errors import InputError

EXPLORE_CHOICES = ("untried", "random")
FORMS = "constant:EPS, linear:START:FLOOR:STEPS or exp:START:FLOOR:HALFLIFE"


@dataclass(frozen=True)
class EpsilonSchedule:
    """An exploration probability per step.

    Attributes
    ----------
    kind : {'constant', 'linear', 'exp'}
        Shape of the schedule.
    start : float
        ``eps(0)`` [1].
    floor : float
        Lowest value [1].
    span : float
        ``linear``: steps to reach the floor; ``exp``: half-life [steps]; ``constant``: unused.
    """

    kind: str
    start: float
    floor: float
    span: float = 1.0

    def __call__(self, t: int) -> float:
        if self.kind == "constant":
            return self.start
        if self.kind == "linear":
            frac = min(max(t, 0) / self.span, 1.0)
            return self.start + (self.floor - self.start) * frac
        return max(self.floor, self.start * 0.5 ** (max(t, 0) / self.span))

    @property
    def spec(self) -> str:
        """The schedule as a string that :func:`parse_epsilon` reads back."""
        if self.kind == "constant":
            return f"constant:{self.start:g}"
        return f"{self.kind}:{self.start:g}:{self.floor:g}:{self.span:g}"


def _number(spec: str, text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError("epsilon", spec, f"{what} is not a number ({FORMS})") from None
    if not math.isfinite(value):
        raise InputError("epsilon", spec, f"{what} must be finite")
    return value


def parse_epsilon(spec: str | float | EpsilonSchedule) -> EpsilonSchedule:
    """Parse an epsilon schedule (see the module docstring).

    Raises
    ------
    InputError
        Naming ``epsilon`` for an unknown form, a wrong number of fields, a value outside
        [0, 1], ``FLOOR > START`` or a non-positive ``STEPS``/``HALFLIFE``.
    """
    if isinstance(spec, EpsilonSchedule):
        return spec
    if isinstance(spec, int | float) and not isinstance(spec, bool):
        spec = str(spec)
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("epsilon", spec, f"empty schedule (expected {FORMS})")
    text = spec.strip()
    parts = [p.strip() for p in text.split(":")]
    kind = parts[0].lower()
    if len(parts) == 1:
        kind, parts = "constant", ["constant", parts[0]]
    arity = {"constant": 1, "linear": 3, "exp": 3}
    if kind not in arity:
        raise InputError("epsilon", text, f"unknown schedule '{parts[0]}' (expected {FORMS})")
    if len(parts) - 1 != arity[kind]:
        raise InputError("epsilon", text, f"'{kind}' takes {arity[kind]} value(s) (expected {FORMS})")
    start = _number(text, parts[1], "EPS" if kind == "constant" else "START")
    floor = _number(text, parts[2], "FLOOR") if kind != "constant" else start
    span = _number(text, parts[3], "STEPS" if kind == "linear" else "HALFLIFE") if kind != "constant" else 1.0
    for name, value in (("START", start), ("FLOOR", floor)):
        if not 0.0 <= value <= 1.0:
            raise InputError("epsilon", text, f"{'EPS' if kind == 'constant' else name} must be in [0, 1]")
    if floor > start:
        raise InputError("epsilon", text, "FLOOR must not exceed START")
    if span <= 0:
        raise InputError("epsilon", text, "STEPS/HALFLIFE must be > 0")
    return EpsilonSchedule(kind, start, floor, span)


def exploration_draws(rng: np.random.Generator, n: int,
                      eps: float | Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``n`` tasks explore, and the random decision of each (True = offload).

    ``eps`` is one probability for all tasks or one per task. Always draws ``2 n`` uniforms
    from ``rng`` (see the module docstring).
    """
    u = rng.random((n, 2))
    return u[:, 0] < np.asarray(eps, dtype=float), u[:, 1] < 0.5


def explore_choice(coin: bool, tried: set[bool], mode: str) -> bool:
    """The decision of an exploring task (True = offload; see the module docstring).

    Parameters
    ----------
    coin : bool
        The task's fair coin from :func:`exploration_draws`.
    tried : set of bool
        Decisions already taken for the task's keyword tuple.
    mode : {'untried', 'random'}
    """
    if mode == "untried" and len(tried) == 1:
        return not next(iter(tried))
    return coin
