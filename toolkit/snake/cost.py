"""Per-round cost model of FedAvg, Split Learning and Snake Learning: eqs. (S1)-(S9).

Every formula of the family is here, once; ``docs/model.md`` (*Snake Learning*) maps each to
its function. The paper (Yu et al., arXiv 2405.03372) gives no formulas; the numbering is
this toolkit's. A *segment* is a contiguous range ``[a, b]`` of layer indices (inclusive).

Protocols (one round):

* **FedAvg** -- every node downloads the trainable parameters, trains all of them on its
  samples, uploads them; nodes run in parallel, the round lasts as long as the slowest.
* **Split Learning** (vanilla, sequential) -- client ``m`` holds layers ``[0, cut)``, the
  server the rest; per sample the cut activations go up and their gradients come down; the
  client part is handed over to the next client through the server.
* **Snake Learning** (client-server mode) -- nodes are visited in the order of their segments;
  a node downloads the trainable parameters it does not hold (all but its own segment, which
  nobody else changes), trains its segment with every other layer frozen, uploads the segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoffload.snake.layers import ModelSpec
from genoffload.snake.nodes import NodeSet

BITS = 8.0  # [bit/B]


@dataclass(frozen=True)
class Training:
    """How a node trains (bytes per element [B]).

    ``weight``: trained parameters; ``frozen``: frozen ones (2 = bf16, as the paper's fp16);
    ``grad``: gradients; ``optim``: optimizer state per parameter (Adam 8, SGD 0);
    ``act``: activations of trained layers (frozen layers' activations take ``frozen``);
    ``batch`` [samples]: samples per step; ``kd``: Snake's distillation from the previous node
    (a teacher copy of the segment and its logits).
    """

    weight: float = 4.0
    frozen: float = 4.0
    grad: float = 4.0
    optim: float = 8.0
    act: float = 4.0
    batch: int = 1
    kd: bool = False


def _seg(spec: ModelSpec, a: int, b: int) -> range:
    return range(a, b + 1)


def memory_snake(spec: ModelSpec, a: int, b: int, tr: Training) -> float:
    """Eq. (S1): peak training memory of a Snake node training segment ``[a, b]``.

    ``M = f sum_{l not in seg} P_l + (w + g + o) sum_{l in seg} P_l
    + B (sum_{l >= a} c_l A_l + w Z) + w max_{l in seg} T_l (+ KD: w sum_seg P_l + w B K)``
    where ``c_l`` is ``act`` for trained and ``frozen`` for frozen layers, ``Z`` the loss
    workspace, ``T_l`` the largest tensor (the optimizer step's temporary), ``K`` the classes.

    Returns
    -------
    memory : float [B]
    """
    seg = _seg(spec, a, b)
    p_seg = sum(spec.layers[i].params for i in seg)
    frozen = spec.params - p_seg
    acts = sum((tr.act if i in seg else tr.frozen) * spec.layers[i].acts
               for i in range(a, spec.n_layers))
    tmp = max(spec.layers[i].largest_tensor for i in seg)
    mem = (tr.frozen * frozen + (tr.weight + tr.grad + tr.optim) * p_seg
           + tr.batch * (acts + tr.act * spec.workspace) + tr.weight * tmp)
    if tr.kd:
        mem += tr.weight * p_seg + tr.batch * tr.act * spec.workspace / 3.0
    return float(mem)


def memory_full(spec: ModelSpec, tr: Training) -> float:
    """Eq. (S2): peak memory of a FedAvg node (full training of every layer).

    ``M = (w + g + o) sum_l P_l + B a (sum_l A_l + Z) + g T_max``: the gradient of the largest
    tensor exists twice while the backward accumulates it (a tied embedding's two uses).

    Returns
    -------
    memory : float [B]
    """
    acts = sum(lay.acts for lay in spec.layers)
    tmax = max(lay.largest_tensor for lay in spec.layers)
    return float((tr.weight + tr.grad + tr.optim) * spec.params
                 + tr.batch * tr.act * (acts + spec.workspace) + tr.grad * tmax)


def memory_split(spec: ModelSpec, cut: int, tr: Training) -> tuple[float, float]:
    """Eq. (S3): peak memory of the Split Learning client (layers ``[0, cut)``) and server.

    ``M_c = (w + g + o) sum_{l < cut} P_l + B a sum_{l < cut} A_l``,
    ``M_s = (w + g + o) sum_{l >= cut} P_l + B a (sum_{l >= cut} A_l + Z)``.

    Returns
    -------
    client, server : float [B]
    """
    per = tr.weight + tr.grad + tr.optim
    lo, hi = spec.layers[:cut], spec.layers[cut:]
    client = per * sum(x.params for x in lo) + tr.batch * tr.act * sum(x.acts for x in lo)
    server = per * sum(x.params for x in hi) + tr.batch * tr.act * (sum(x.acts for x in hi)
                                                                      + spec.workspace)
    return float(client), float(server)


def flops_snake(spec: ModelSpec, a: int, b: int, kd: bool = False) -> float:
    """Eq. (S4): training FLOPs per sample of a Snake node on segment ``[a, b]``.

    ``F = sum_l F_l + sum_{l > a} F_l + sum_{l in seg} F_l (+ KD: sum_l F_l)``: the forward,
    the input gradients from the output down to layer ``a`` (``a`` itself needs none), the
    weight gradients of the segment (each about one forward, the usual 2x rule).

    Returns
    -------
    flops : float [FLOP per sample]
    """
    f = [lay.flops for lay in spec.layers]
    fwd = sum(f)
    return float(fwd + sum(f[a + 1:]) + sum(f[a:b + 1]) + (fwd if kd else 0.0))


def flops_full(spec: ModelSpec) -> float:
    """Eq. (S4) for every layer trained (FedAvg, SL client + server): ``3 sum_l F_l - F_0``.

    Returns
    -------
    flops : float [FLOP per sample]
    """
    return flops_snake(spec, 0, spec.n_layers - 1)


def transfer_time(n_bytes: float, rate: float) -> float:
    """Eq. (S5): time to move ``n_bytes`` [B] over a link of ``rate`` [bit/s]: ``8 n / r``.

    Returns
    -------
    time : float [s]
    """
    return BITS * n_bytes / rate


def trainable_params(spec: ModelSpec) -> int:
    return sum(spec.layers[i].params for i in spec.trainable)


def snake_node_time(spec: ModelSpec, nodes: NodeSet, m: int, a: int, b: int, tr: Training) -> float:
    """Eq. (S6): time of node ``m`` on segment ``[a, b]`` in a Snake round.

    ``t = 8 w (P_tr - P_seg) / r_down + n_m F_seg / f_m + 8 w P_seg / r_up`` (eqs. S4, S5).

    Returns
    -------
    time : float [s]
    """
    p_seg = sum(spec.layers[i].params for i in range(a, b + 1))
    down = transfer_time(tr.weight * (trainable_params(spec) - p_seg), nodes.downlink[m])
    work = nodes.samples[m] * flops_snake(spec, a, b, tr.kd) / nodes.compute[m]
    return float(down + work + transfer_time(tr.weight * p_seg, nodes.uplink[m]))


def snake_node_bytes(spec: ModelSpec, a: int, b: int, tr: Training) -> float:
    """Eq. (S7): bytes a Snake node moves per round: ``w (P_tr - P_seg) + w P_seg = w P_tr``.

    Returns
    -------
    bytes : float [B]
    """
    del a, b  # the download and the upload together are the trainable parameters
    return float(tr.weight * trainable_params(spec))


@dataclass(frozen=True)
class RoundCost:
    """Cost of one round: memory per node [B], bytes moved [B], round time [s]."""

    method: str
    memory: np.ndarray
    bytes: float
    time: float
    server_memory: float = 0.0


def fedavg_round(spec: ModelSpec, nodes: NodeSet, tr: Training) -> RoundCost:
    """Eq. (S8a): FedAvg round: ``M_m`` of eq. (S2); bytes ``2 N w P``;
    time ``max_m (8 w P / r_down + n_m F / f_m + 8 w P / r_up)``."""
    p = spec.params
    t = [transfer_time(tr.weight * p, nodes.downlink[m])
         + nodes.samples[m] * flops_full(spec) / nodes.compute[m]
         + transfer_time(tr.weight * p, nodes.uplink[m]) for m in range(nodes.n)]
    return RoundCost("fedavg", np.full(nodes.n, memory_full(spec, tr)), 2.0 * nodes.n * tr.weight * p,
                     float(max(t)))


def split_round(spec: ModelSpec, nodes: NodeSet, cut: int, tr: Training,
                server_flops: float = 1e12) -> RoundCost:
    """Eq. (S8b): Split Learning round (clients in turn, server ``server_flops`` [FLOP/s]).

    Per client ``m``: ``n_m`` samples each send ``a A_cut`` bytes up and the same down; its part
    ``w P_c`` comes from the server and goes back. Time ``sum_m (8 w P_c (1/r_down + 1/r_up)
    + n_m (F_c / f_m + F_s / f_s + 8 a A_c (1/r_up + 1/r_down)))`` with ``F_c, F_s`` of eq.
    (S4) on each side.
    """
    lo = spec.layers[:cut]
    p_c = sum(x.params for x in lo)
    a_c = lo[-1].acts if lo else 0.0  # the cut activation: the last client layer's output
    f_c = 3.0 * sum(x.flops for x in lo) - lo[0].flops
    f_s = 3.0 * sum(x.flops for x in spec.layers[cut:])
    client, server = memory_split(spec, cut, tr)
    byts, t = 0.0, 0.0
    for m in range(nodes.n):
        smash = nodes.samples[m] * tr.act * a_c
        byts += 2.0 * tr.weight * p_c + 2.0 * smash
        t += (transfer_time(tr.weight * p_c, nodes.downlink[m])
              + transfer_time(tr.weight * p_c, nodes.uplink[m])
              + nodes.samples[m] * (f_c / nodes.compute[m] + f_s / server_flops)
              + transfer_time(smash, nodes.uplink[m]) + transfer_time(smash, nodes.downlink[m]))
    return RoundCost("split", np.full(nodes.n, client), float(byts), float(t), server_memory=server)


def snake_round(spec: ModelSpec, nodes: NodeSet, segments: list[tuple[int, int, int]],
                tr: Training) -> RoundCost:
    """Eq. (S9): Snake round for ``segments`` = ``(node, a, b)`` in visiting order:
    memory of eq. (S1) per node (0 for a node not visited), bytes ``sum`` of eq. (S7), time
    ``sum`` of eq. (S6) (nodes one after another)."""
    mem = np.zeros(nodes.n)
    byts = t = 0.0
    for m, a, b in segments:
        mem[m] = memory_snake(spec, a, b, tr)
        byts += snake_node_bytes(spec, a, b, tr)
        t += snake_node_time(spec, nodes, m, a, b, tr)
    return RoundCost("snake", mem, float(byts), float(t))


def even_segments(spec: ModelSpec, n: int) -> list[tuple[int, int, int]]:
    """Node ``k`` trains the ``k``-th of ``n`` near-equal runs of the trainable layers."""
    idx = spec.trainable
    cuts = np.linspace(0, len(idx), n + 1).round().astype(int)
    return [(k, idx[cuts[k]], idx[cuts[k + 1] - 1]) for k in range(n)]


__all__ = ["BITS", "RoundCost", "Training", "even_segments", "fedavg_round", "flops_full", "flops_snake",
           "memory_full", "memory_snake", "memory_split", "snake_node_bytes", "snake_node_time",
           "snake_round", "split_round", "trainable_params", "transfer_time"]
