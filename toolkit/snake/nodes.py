"""Node sets: compute, memory, local data and radio links of the training nodes.

Link rates come from the toolkit's radio model (eq. (2)'s summand, :func:`genoffload.delay.
shannon_rate`, over a node's bandwidth and SNR) or are given directly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoffload.delay import shannon_rate
from genoffload.errors import InputError

GIB = 2.0**30


@dataclass(frozen=True)
class NodeSet:
    """The nodes of one Snake / FedAvg / SL round (arrays of shape (node,)).

    Attributes
    ----------
    compute : ndarray [FLOP/s]
        Sustained training throughput of each node.
    memory : ndarray [B]
        Memory a node may use for training.
    samples : ndarray [samples per round]
        Local samples each node trains on per round.
    uplink, downlink : ndarray [bit/s]
        Link rates to and from the server / relay.
    labels : ndarray, shape (node, class), optional
        Label counts of each node's local data.
    """

    compute: np.ndarray
    memory: np.ndarray
    samples: np.ndarray
    uplink: np.ndarray
    downlink: np.ndarray
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.compute)
        for name in ("compute", "memory", "samples", "uplink", "downlink"):
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != (n,):
                raise InputError(f"nodes.{name}", arr.shape, f"must have one value per node ({n})")
            bad = np.flatnonzero(~(arr > 0) | ~np.isfinite(arr))
            if bad.size:
                raise InputError(f"nodes[{bad[0]}].{name}", float(arr[bad[0]]), "must be positive")
            object.__setattr__(self, name, arr)

    @property
    def n(self) -> int:
        return len(self.compute)


def make_nodes(
    n: int,
    *,
    memory_gib: float | list[float] = 4.0,
    compute_gflops: float | list[float] = 20.0,
    samples: int | list[int] = 128,
    bandwidth_hz: float = 20e6,
    snr_db: float | list[float] | None = None,
    heterogeneity: float = 0.0,
    seed: int = 0,
) -> NodeSet:
    """A node set; scalars are shared, lists give one value per node.

    ``heterogeneity`` h in [0, 1) spreads compute and memory by a factor drawn from
    ``U(1 - h, 1 + h)`` per node; SNRs not given are drawn from ``U(0, 30)`` dB. Rates are
    ``shannon_rate(bandwidth_hz, 10**(snr/10))`` both ways.
    """
    if n < 1:
        raise InputError("nodes.count", n, "must be at least 1")
    if not 0.0 <= heterogeneity < 1.0:
        raise InputError("nodes.heterogeneity", heterogeneity, "must be in [0, 1)")
    rng = np.random.default_rng(seed)

    def per_node(value: float | list[float] | list[int] | int, field: str) -> np.ndarray:
        arr = np.asarray(value, dtype=float)
        if arr.ndim == 0:
            arr = np.full(n, float(arr))
        if arr.shape != (n,):
            raise InputError(f"nodes.{field}", list(arr), f"must be one value or {n} values")
        bad = np.flatnonzero(~(arr > 0))
        if bad.size:
            raise InputError(f"nodes[{bad[0]}].{field}", float(arr[bad[0]]), "must be positive")
        return arr

    mem = per_node(memory_gib, "memory_gib")
    comp = per_node(compute_gflops, "compute_gflops")
    spread = rng.uniform(1 - heterogeneity, 1 + heterogeneity, size=(2, n))
    snr = rng.uniform(0.0, 30.0, n) if snr_db is None else np.broadcast_to(
        np.asarray(snr_db, dtype=float), (n,)).copy()
    rate = shannon_rate(bandwidth_hz, 10.0 ** (snr / 10.0))
    return NodeSet(compute=comp * spread[0] * 1e9, memory=mem * spread[1] * GIB,
                   samples=per_node(samples, "samples"), uplink=rate, downlink=rate.copy())


__all__ = ["GIB", "NodeSet", "make_nodes"]
