"""The split decision problem: actions, objectives (S13), (S14) and the evaluator.

An action is ``(split, bits)``; at ``split = 0`` (token ids sent) and ``split = L`` (nothing
sent) the precision does not matter and the action is ``(l, 0)``. The quality of an action in
a channel state is a perplexity measured by :mod:`genoffload.split.quality` (or any
``QualityFn``); everything else follows from the equations of
:mod:`genoffload.split.equations`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from genoffload.errors import InputError
from genoffload.split.channel import SUPPORTED_BITS, ChannelState, check_bits, check_state
from genoffload.split.config import Device, LLMConfig
from genoffload.split.equations import SplitCost, split_cost, uplink_rate

Action = tuple[int, int]
Objective = Literal["paper", "delay"]
PPL_CAP = 1e4
"""Largest perplexity ratio ``PPL / PPL_0`` a reward distinguishes [1]."""
QualityFn = Callable[[int, int, ChannelState], float]
"""``(split, bits, state) -> perplexity`` [1]."""


def check_split(split: object, layers: int, field: str = "split") -> int:
    """``split`` if a whole number in ``0..L``, else a one-line :class:`InputError`."""
    if isinstance(split, bool) or not isinstance(split, int) or not 0 <= split <= layers:
        raise InputError(field, split, f"must be a whole number in 0..{layers}")
    return int(split)


def check_rate(rate: object, field: str) -> float:
    """A link rate must be a finite number > 0 [bit/s]."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not math.isfinite(rate) or rate <= 0:
        raise InputError(field, rate, "must be a finite number > 0 [bit/s]")
    return float(rate)


def canonical(action: Action, layers: int) -> Action:
    """``(l, 0)`` for ``l`` in {0, L} (precision irrelevant), else the action as given."""
    split, bits = action
    return (split, 0) if split in (0, layers) else (split, bits)


@dataclass(frozen=True)
class SplitProblem:
    """Everything a split decision depends on besides the channel state and the quality.

    Attributes
    ----------
    cfg : LLMConfig
    ue, edge : Device
    n_rb : int [1]
        Uplink RBs granted (180 kHz each).
    rate_down : float [bit/s]
        Downlink rate (tokens back to the UE).
    rate_up : float or None [bit/s]
        A given uplink rate; None: from the state's SINR (S4).
    prompt, output : int [token]
    splits : tuple of int
        Allowed split points (default all of ``0..L``).
    bits : tuple of int
        Allowed precisions.
    objective : {"paper", "delay"}
        (S13) the paper's weighted reward, or (S14) delay with a quality floor.
    w_quality, w_load : float [1]
        Weights of (S13) (paper: 10 and 1).
    ppl_floor : float [1]
        (S14): allowed relative perplexity increase ``epsilon``.
    penalty_s : float [s]
        (S14): penalty of a violated quality floor or UE memory.
    tx_power_w : float [W]
    """

    cfg: LLMConfig
    ue: Device
    edge: Device
    n_rb: int = 25
    rate_down: float = 50e6
    rate_up: float | None = None
    prompt: int = 256
    output: int = 64
    splits: tuple[int, ...] = ()
    bits: tuple[int, ...] = SUPPORTED_BITS
    objective: Objective = "paper"
    w_quality: float = 10.0
    w_load: float = 1.0
    ppl_floor: float = 0.05
    penalty_s: float = 100.0
    tx_power_w: float = 0.2
    ue_times: tuple[float, ...] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        L = self.cfg.layers
        for i, s in enumerate(self.splits):
            check_split(s, L, f"splits[{i}]")
        for i, b in enumerate(self.bits):
            check_bits(b, f"bits[{i}]")
        check_rate(self.rate_down, "rate_down")
        if self.rate_up is not None:
            check_rate(self.rate_up, "rate_up")
        if self.objective not in ("paper", "delay"):
            raise InputError("objective", self.objective, "must be paper or delay")
        if not isinstance(self.n_rb, int) or self.n_rb < 1:
            raise InputError("n_rb", self.n_rb, "must be a whole number >= 1")

    @property
    def layers(self) -> int:
        return self.cfg.layers

    def actions(self) -> list[Action]:
        """Every distinct allowed action, sorted."""
        splits = self.splits or tuple(range(self.layers + 1))
        return sorted({canonical((s, b), self.layers) for s in splits for b in self.bits})

    def rate(self, state: ChannelState) -> float:
        """Uplink rate in ``state`` [bit/s] (S4), or the given one."""
        return self.rate_up if self.rate_up is not None else uplink_rate(state.sinr_db, self.n_rb)

    def cost(self, action: Action, state: ChannelState) -> SplitCost:
        """(S5)-(S9) for ``action`` in ``state``."""
        import numpy as np

        split, bits = canonical(action, self.layers)
        times = None if self.ue_times is None else np.asarray(self.ue_times)
        return split_cost(
            self.cfg,
            self.ue,
            self.edge,
            split,
            bits or 16,
            rate_up=self.rate(state),
            rate_down=self.rate_down,
            prompt=self.prompt,
            output=self.output,
            tx_power_w=self.tx_power_w,
            ue_times=times,
        )

    def reward(self, action: Action, state: ChannelState, ppl: float, ppl0: float) -> float:
        """Reward of ``action`` given its measured perplexity, (S13) or (S14) [1] or [s].

        (S13) ``r = w_q (PPL_0 - PPL) / PPL_0 + w_l (L - l) / L`` (Chen et al. use ``w_q = 10``,
        ``w_l = 1`` and ``L = 10`` allowed layers).
        (S14) ``r = -T - P 1[PPL > (1 + epsilon) PPL_0 or M > M_UE]`` with ``T`` of (S7).
        A perplexity above ``PPL_CAP PPL_0`` (or infinite) counts as ``PPL_CAP PPL_0``: beyond a
        ratio of 10^4 the text is noise either way, and one blown-up state must not outweigh all
        others in a mean. An unknown (NaN) perplexity gives a NaN reward.
        """
        split = action[0]
        if math.isnan(ppl):
            return math.nan
        ppl = min(ppl, PPL_CAP * ppl0)
        if self.objective == "paper":
            return self.w_quality * (ppl0 - ppl) / ppl0 + self.w_load * (self.layers - split) / self.layers
        c = self.cost(action, state)
        bad = ppl > (1 + self.ppl_floor) * ppl0 or c.ue_memory > self.ue.memory
        return -c.request - (self.penalty_s if bad else 0.0)

    def evaluate(
        self, action: Action, state: ChannelState, quality: QualityFn, ppl0: float
    ) -> dict[str, float]:
        """Every metric of ``action`` in ``state``: delay parts, energy, memory, PPL, reward."""
        check_state(state)
        split, bits = canonical(action, self.layers)
        check_split(split, self.layers)
        if bits:
            check_bits(bits)
        ppl = float(quality(split, bits, state))
        c = self.cost((split, bits), state)
        return {
            "split": split,
            "bits": bits,
            "sinr_db": state.sinr_db,
            "erasure": state.erasure,
            "rate_up": self.rate(state),
            "ppl": ppl,
            "ppl0": ppl0,
            "ttft": c.ttft,
            "tpot": c.tpot,
            "request_delay": c.request,
            "ue_compute": c.ue_compute,
            "uplink_time": c.uplink,
            "ue_energy": c.ue_energy,
            "ue_memory": c.ue_memory,
            "reward": self.reward((split, bits), state, ppl, ppl0),
        }


def reward_table(
    problem: SplitProblem, states: Sequence[ChannelState], quality: QualityFn, ppl0: float
) -> dict[tuple[int, Action], float]:
    """Reward of every (state index, action), from the quality function (one call each)."""
    return {
        (i, a): problem.reward(a, s, float(quality(a[0], a[1], s)), ppl0)
        for i, s in enumerate(states)
        for a in problem.actions()
    }
