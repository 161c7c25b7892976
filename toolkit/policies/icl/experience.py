"""Keywords, experiences and the experience pools of the ICL policy (paper Sec. III-A/B).

Keywords (eq. 8)
    ``x = (service type, estimated output size)``: the service name as is, and the size as a
    bucket word. The size is divided by the reference size of the task's modality (text 1,000
    tokens = the paper's mean, image 1 image, audio 30 s, video 5 s: the catalog means) and
    bucketed by that ratio::

        ratio < 0.25 -> "tiny"      (text: < 250 tokens)
        ratio < 0.75 -> "short"     (text: 250-749 tokens)
        ratio < 1.25 -> "medium"    (text: 750-1,249 tokens)
        ratio < 2.5  -> "long"      (text: 1,250-2,499 tokens)
        otherwise    -> "huge"      (text: >= 2,500 tokens)

    The paper setting (uniform 500-1,500 tokens) uses short, medium and long: 6 services x 3
    sizes = 18 keyword tuples. Optional extra keywords (``extras``): ``"link"`` the link
    quality of the task's user from its capacity under the step's allocation (``weak link``
    < 50 Mbit/s, ``fair link`` < 150 Mbit/s, else ``strong link``: about the 10 %, 50 % and
    90 % points of the paper setting under PF) and ``"load"`` the number of tasks of the step
    in the task's cell (``idle edge`` 1, ``busy edge`` 2-3, ``crowded edge`` >= 4).

Experiences (eq. 9)
    ``E = {keywords, decision, reward (eq. 10), evaluation}``.

Pools
    :class:`PrioritizedReplay` applies the paper's two rules per keyword tuple; a constraint
    violation is always a Bad decision and stays out of the pool. :class:`LatestReplay`
    (baseline 1) keeps the latest N experiences, Good and Bad.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import numpy as np

from genoffload import delay
from genoffload.errors import InputError

Keywords = tuple[str, ...]

SIZE_BUCKETS: tuple[tuple[float, str], ...] = (
    (0.25, "tiny"), (0.75, "short"), (1.25, "medium"), (2.5, "long"), (float("inf"), "huge"))
"""(exclusive upper bound of size / reference size, bucket word), in increasing order."""
REFERENCE_UNITS: dict[str, float] = {"text": 1000.0, "image": 1.0, "audio": 30.0, "video": 5.0}
"""Reference output size per modality [token or item]: the catalog's mean sizes."""
LINK_BUCKETS: tuple[tuple[float, str], ...] = (
    (50e6, "weak link"), (150e6, "fair link"), (float("inf"), "strong link"))
"""(exclusive upper bound of the user's link capacity [bit/s], keyword)."""
LOAD_BUCKETS: tuple[tuple[float, str], ...] = (
    (2, "idle edge"), (4, "busy edge"), (float("inf"), "crowded edge"))
"""(exclusive upper bound of the number of tasks of the step in the cell, keyword)."""
EXTRAS = ("link", "load")


def bucket(value: float, buckets: Sequence[tuple[float, str]]) -> str:
    """The word of the first bucket whose (exclusive) upper bound exceeds ``value``."""
    for upper, word in buckets:
        if value < upper:
            return word
    return buckets[-1][1]


def size_bucket(units: float, modality: str = "text") -> str:
    """Size keyword of an estimated output size [token or item] (see the module docstring)."""
    ref = REFERENCE_UNITS.get(modality, REFERENCE_UNITS["text"])
    return bucket(float(units) / ref, SIZE_BUCKETS)


def check_extras(extras: Sequence[str]) -> tuple[str, ...]:
    """Validate the names of the extra keywords (``link``, ``load``)."""
    bad = [e for e in extras if e not in EXTRAS]
    if bad:
        raise InputError("keywords", bad[0], f"unknown extra keyword (known: {', '.join(EXTRAS)})")
    return tuple(dict.fromkeys(extras))


def step_keywords(scenario: Any, z: np.ndarray, est_units: np.ndarray,
                  extras: Sequence[str] = ()) -> list[Keywords]:
    """Keyword tuple of every task of a step (eq. 8, plus the enabled extras).

    Parameters
    ----------
    scenario : xarray.Dataset
        The step's scenario.
    z : ndarray of bool, shape (user, rb)
        The step's RB allocation (for the link keyword).
    est_units : ndarray, shape (task,)
        Estimated output size of each task [token or item].
    extras : sequence of str
        Extra keywords to add: ``link``, ``load``.
    """
    services = scenario["service"].values.astype(str)
    modality = (scenario["modality"].values.astype(str) if "modality" in scenario
                else np.full(services.size, "text"))
    out = [[str(s), size_bucket(u, m)] for s, u, m in zip(services, est_units, modality, strict=False)]
    owner = scenario["task_user"].values
    if "link" in extras:
        cap = delay.link_capacity(scenario["rate"].values, z)
        for kw, c in zip(out, cap[owner], strict=False):
            kw.append(bucket(float(c), LINK_BUCKETS))
    if "load" in extras:
        cells = scenario["user_cell"].values[owner]
        counts = np.bincount(cells)
        for kw, c in zip(out, counts[cells], strict=False):
            kw.append(bucket(float(c), LOAD_BUCKETS))
    return [tuple(kw) for kw in out]


@dataclass(frozen=True)
class Experience:
    """One decision and its outcome (eq. 9).

    Attributes
    ----------
    keywords : tuple[str, ...]
        The input ``x`` (eq. 8): service type first, then the size bucket and any extras.
    offload : bool
        The decision (``alpha``: True = cloud).
    reward : float
        Reward of eq. (10) [s].
    ok : bool
        Every hard constraint met (the evaluator's ``constraints_ok``).
    step : int
        Episode step of the decision.
    good : bool
        The evaluation: Good (True) or Bad decision.
    """

    keywords: Keywords
    offload: bool
    reward: float
    ok: bool
    step: int = 0
    good: bool = True


class ExperiencePool(Protocol):
    """What the prompt needs from a pool, and how the policy feeds it."""

    version: int

    def add(self, exp: Experience) -> Experience: ...

    def examples(self) -> list[Experience]: ...

    def match(self, keywords: Keywords) -> Experience | None: ...

    def __len__(self) -> int: ...


class PrioritizedReplay:
    """Prioritized experience replay: at most one example per keyword tuple (Sec. III-B).

    Step 3: an experience that violates a constraint is a Bad decision and never enters the
    pool. Otherwise rule 1: an experience with a new keyword tuple is kept as a Good decision;
    rule 2: for a known tuple the higher reward wins: the current experience then replaces
    the stored one (Good), else it is a Bad decision and the pool is unchanged (a tie keeps
    the stored one). Every example in the pool is thus a Good decision.

    Ordering: examples are listed in the order they entered the pool, oldest first; a
    replacement moves its tuple to the end. Settled tuples thus form a stable prompt prefix
    (the llama.cpp KV cache is reused) and changes happen near its end.
    """

    def __init__(self) -> None:
        self._pool: dict[Keywords, Experience] = {}
        self.version = 0

    def add(self, exp: Experience) -> Experience:
        """Evaluate ``exp`` against the pool, update the pool, return the evaluated experience."""
        old = self._pool.get(exp.keywords)
        if not exp.ok or (old is not None and exp.reward <= old.reward):
            return replace(exp, good=False)
        out = replace(exp, good=True)
        self._pool.pop(exp.keywords, None)
        self._pool[exp.keywords] = out
        self.version += 1
        return out

    def examples(self) -> list[Experience]:
        """The pool, oldest entry first."""
        return list(self._pool.values())

    def match(self, keywords: Keywords) -> Experience | None:
        """The example with exactly these keywords, if any."""
        return self._pool.get(keywords)

    def __len__(self) -> int:
        return len(self._pool)


class LatestReplay:
    """Baseline 1: the latest ``capacity`` experiences, Good when they met every constraint."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise InputError("examples", capacity, "must be >= 1")
        self._pool: deque[Experience] = deque(maxlen=capacity)
        self.version = 0

    def add(self, exp: Experience) -> Experience:
        out = replace(exp, good=exp.ok)
        self._pool.append(out)
        self.version += 1
        return out

    def examples(self) -> list[Experience]:
        """The latest experiences, oldest first."""
        return list(self._pool)

    def match(self, keywords: Keywords) -> Experience | None:
        """The latest experience with these keywords, if any."""
        return next((e for e in reversed(self._pool) if e.keywords == keywords), None)

    def __len__(self) -> int:
        return len(self._pool)


REPLAYS = ("prioritized", "latest")


def make_pool(replay: str, capacity: int) -> ExperiencePool:
    """A pool by name: ``prioritized`` (the paper's method) or ``latest`` (baseline 1)."""
    if replay == "prioritized":
        return PrioritizedReplay()
    if replay == "latest":
        return LatestReplay(capacity)
    raise InputError("replay", replay, f"unknown replay (known: {', '.join(REPLAYS)})")
