"""Split policies without learning: UE-only, edge-only, fixed, best static in hindsight, myopic.

A split policy is fitted once (:meth:`SplitPolicy.fit`, given the problem, the training states
and a quality function whose real calls are counted) and then chooses an action per channel
state (:meth:`SplitPolicy.choose`). ``SPLIT_POLICIES`` finds them by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from genoffload.errors import InputError
from genoffload.split.channel import ChannelState
from genoffload.split.equations import payload_bits
from genoffload.split.problem import Action, QualityFn, SplitProblem, canonical

SPLIT_POLICIES: dict[str, Callable[..., SplitPolicy]] = {}


def register(name: str) -> Callable[[type], type]:
    """Class decorator: a split policy available by name."""

    def wrap(cls: type) -> type:
        SPLIT_POLICIES[name] = cls
        cls.name = name  # type: ignore[attr-defined]
        return cls

    return wrap


def get_split_policy(name: str, **kwargs: Any) -> SplitPolicy:
    """A split policy by name.

    Raises
    ------
    InputError
        ``policy``: unknown name, with the known ones.
    """
    if name not in SPLIT_POLICIES:
        raise InputError("policy", name, f"unknown split policy (known: {', '.join(SPLIT_POLICIES)})")
    return SPLIT_POLICIES[name](**kwargs)


class SplitPolicy:
    """Base class: ``fit`` (optional) then ``choose``."""

    name: ClassVar[str] = ""
    uses_hindsight: ClassVar[bool] = False
    problem: SplitProblem

    def fit(
        self,
        problem: SplitProblem,
        states: Sequence[ChannelState],
        quality: QualityFn,
        ppl0: float,
        seed: int = 0,
    ) -> SplitPolicy:
        self.problem = problem
        return self

    def choose(self, state: ChannelState) -> Action:
        raise NotImplementedError


@register("ue-only")
class UEOnly(SplitPolicy):
    """Every layer and the LM head on the UE: ``(L, 0)``."""

    def choose(self, state: ChannelState) -> Action:
        return (self.problem.layers, 0)


@register("edge-only")
class EdgeOnly(SplitPolicy):
    """Token ids to the edge, every layer there: ``(0, 0)``."""

    def choose(self, state: ChannelState) -> Action:
        return (0, 0)


@register("fixed")
@dataclass
class Fixed(SplitPolicy):
    """One fixed action (default: split 1 at 8 bits, the paper's smallest split)."""

    split: int = 1
    bits: int = 8

    def choose(self, state: ChannelState) -> Action:
        return canonical((self.split, self.bits), self.problem.layers)


@register("best-static")
class BestStatic(SplitPolicy):
    """The one action with the best mean reward over the *evaluation* states (hindsight).

    Not realisable (it sees the evaluation states' real rewards); the reference a static
    choice cannot beat. Set with :meth:`fit_hindsight`.
    """

    uses_hindsight = True

    def fit_hindsight(self, problem: SplitProblem, rewards: dict[tuple[int, Action], float]) -> BestStatic:
        self.problem = problem
        states = {i for i, _ in rewards}
        mean = {a: sum(rewards[(i, a)] for i in states) / len(states) for a in problem.actions()}
        self.action = max(mean, key=lambda a: (mean[a], -a[0], -a[1]))
        return self

    def choose(self, state: ChannelState) -> Action:
        return self.action


@register("myopic-rate")
@dataclass
class MyopicRate(SplitPolicy):
    """Myopic rule on the current uplink rate, blind to corruption.

    Assumes perfect quality (``PPL = PPL_0``) and takes the best reward among the actions whose
    prefill uplink fits ``budget_s`` at the current rate; the most bits among ties.
    """

    budget_s: float = 0.5

    def choose(self, state: ChannelState) -> Action:
        p = self.problem
        best: tuple[float, int] | None = None
        pick = (p.layers, 0)
        for a in p.actions():
            if payload_bits(p.cfg, a[0], a[1] or 16, p.prompt) / p.rate(state) > self.budget_s:
                continue
            score = (p.reward(a, state, 1.0, 1.0), a[1])
            if best is None or score > best:
                best, pick = score, a
        return pick
