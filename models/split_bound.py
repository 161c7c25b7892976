"""Exact bound of the split decision: exhaustive search over every (split, bits) per channel state.

The action set is finite (at most ``(L - 1) |B| + 2`` actions), so evaluating every action in
every state gives the optimum of either objective, (S13) the paper's reward or (S14) delay with
a quality floor, certified: status ``optimal``, gap 0 (ties keep the smallest action). Every
policy's regret is measured against it (:func:`regret`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from genoffload.models.status import Status
from genoffload.split.channel import ChannelState
from genoffload.split.problem import Action, QualityFn, SplitProblem


@dataclass(frozen=True)
class SplitBound:
    """Optimum of one channel state.

    Attributes
    ----------
    state : ChannelState
    action : Action
        An optimal ``(split, bits)``.
    reward : float
        Optimal reward ([1] for (S13), [s] for (S14)).
    status : Status
        ``optimal`` (exhaustive), ``infeasible`` when no action meets (S14)'s floor and memory.
    gap : float
        Certified gap, 0 for exhaustive search.
    evaluations : int
        Actions evaluated (real quality calls).
    rewards : dict
        Reward of every action.
    """

    state: ChannelState
    action: Action
    reward: float
    status: Status
    gap: float
    evaluations: int
    rewards: Mapping[Action, float]


def exhaustive(problem: SplitProblem, state: ChannelState, quality: QualityFn, ppl0: float) -> SplitBound:
    """Evaluate every action of ``problem`` in ``state`` and return the optimum."""
    rewards: dict[Action, float] = {}
    for action in problem.actions():
        rewards[action] = problem.reward(action, state, float(quality(action[0], action[1], state)), ppl0)
    best = max(rewards, key=lambda a: (rewards[a], -a[0], -a[1]))
    status = Status.OPTIMAL
    if problem.objective == "delay" and rewards[best] <= -problem.penalty_s:
        status = Status.INFEASIBLE  # every action violates the floor or the UE memory
    return SplitBound(state, best, rewards[best], status, 0.0, len(rewards), rewards)


def bounds(
    problem: SplitProblem, states: Sequence[ChannelState], quality: QualityFn, ppl0: float
) -> list[SplitBound]:
    """:func:`exhaustive` for each state."""
    return [exhaustive(problem, s, quality, ppl0) for s in states]


def regret(bound: SplitBound, action: Action) -> float:
    """Reward lost by ``action`` against the optimum of its state (>= 0) [unit of the reward]."""
    return bound.reward - bound.rewards[action]


def relative_regret(bound: SplitBound, action: Action) -> float:
    """:func:`regret` over ``|optimum|`` [1] (``inf`` if the optimum is 0 and the regret is not)."""
    r = regret(bound, action)
    scale = abs(bound.reward)
    if scale == 0:
        return 0.0 if r == 0 else math.inf
    return r / scale
