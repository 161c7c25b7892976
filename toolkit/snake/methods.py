"""FedAvg, Split Learning and Snake Learning rounds on a layered model (PyTorch, CPU).

The model's ``blocks[i]`` is layer ``i`` and ``model(x, start, stop)`` runs layers
``[start, stop)``. Every method gives each node the same budget per round: ``epochs`` passes
over its local samples in batches of ``batch`` with a fresh Adam (lr ``lr``). Per node and
round the bytes actually moved are counted from the tensors sent (``numel * element_size``)
and, when ``measure`` is set, the node's work runs inside an :class:`~genoffload.snake.measure.
AllocatorPeak` window that starts with the node's own copy of what it holds.

Knowledge distillation (Snake, non-IID): node ``k`` distils from the model it received (the
previous node's result, frozen): ``loss = CE(z, y) + kd_weight T^2 KL(softmax(z_t / T) ||
softmax(z / T))`` -- it keeps what earlier nodes learned on other labels.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genoffload.snake.measure import AllocatorPeak


@dataclass(frozen=True)
class LocalBudget:
    epochs: int = 1
    batch: int = 16
    lr: float = 1e-3
    kd_weight: float = 1.0
    kd_temperature: float = 2.0


@dataclass
class RoundLog:
    """What one round did: bytes moved [B], peak memory per node [B] (NaN when not
    measured), mean training loss [1]."""

    bytes: float = 0.0
    memory: dict[int, float] = field(default_factory=dict)
    server_memory: float = float("nan")
    loss: float = float("nan")


def _nbytes(tensors: Any) -> float:
    return float(sum(t.numel() * t.element_size() for t in tensors))


def _batches(n: int, batch: int, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def _train(model: Any, params: list, x: Any, y: Any, bud: LocalBudget, rng: np.random.Generator,
           teacher: Any = None) -> float:
    """Local epochs of Adam on ``params``; returns the mean loss."""
    import torch
    import torch.nn.functional as F

    opt = torch.optim.Adam(params, lr=bud.lr, foreach=False)
    losses = []
    for _ in range(bud.epochs):
        for idx in _batches(len(y), bud.batch, rng):
            ix = torch.from_numpy(idx)
            xb, yb = x[ix], y[ix]
            out = model(xb)
            loss = F.cross_entropy(out, yb)
            if teacher is not None:
                with torch.no_grad():
                    zt = teacher(xb)
                t = bud.kd_temperature
                kl = F.kl_div(F.log_softmax(out / t, dim=1), F.softmax(zt / t, dim=1),
                              reduction="batchmean")
                loss = loss + bud.kd_weight * t * t * kl
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
    del opt
    return float(np.mean(losses)) if losses else float("nan")


class _Window:
    """An AllocatorPeak when measuring, else nothing."""

    def __init__(self, on: bool) -> None:
        self.on, self.peak = on, float("nan")

    def __enter__(self) -> _Window:
        if self.on:
            self._w = AllocatorPeak().__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.on:
            self._w.__exit__(*exc)
            self.peak = self._w.peak


def fedavg_round(model: Any, data: list[tuple[Any, Any]], bud: LocalBudget, rng: np.random.Generator,
                 measure: bool = False) -> RoundLog:
    """Every node trains a copy of the whole model; the server averages them weighted by
    local samples (McMahan et al. 2017). ``model`` is updated in place."""
    import torch

    log, total = RoundLog(), sum(len(y) for _, y in data)
    avg = {k: torch.zeros_like(v) for k, v in model.state_dict().items()}
    losses = []
    for m, (x, y) in enumerate(data):
        with _Window(measure) as w:
            local = copy.deepcopy(model)
            losses.append(_train(local, list(local.parameters()), x, y, bud, rng))
            state = local.state_dict()
            del local
        log.memory[m] = w.peak
        for k, v in state.items():
            avg[k] += v * (len(y) / total)
        log.bytes += 2.0 * _nbytes(model.state_dict().values())  # download + upload
    model.load_state_dict(avg)
    log.loss = float(np.mean(losses))
    return log


def split_round(model: Any, data: list[tuple[Any, Any]], cut: int, bud: LocalBudget,
                rng: np.random.Generator, measure: bool = False) -> RoundLog:
    """Vanilla Split Learning: clients in turn train layers ``[0, cut)`` with the server's
    ``[cut, L)``; the cut activations go up, their gradients come down, the client part is
    handed on through the server. Client memory is measured on the client's half only."""
    import torch
    import torch.nn.functional as F

    log, losses = RoundLog(), []
    n_layers = len(model.blocks)
    client_p = [p for blk in model.blocks[:cut] for p in blk.parameters()]
    server_p = [p for blk in model.blocks[cut:] for p in blk.parameters()]
    for m, (x, y) in enumerate(data):
        if measure:  # the client's own work: its copy, forward, a returned gradient, backward, step
            with _Window(True) as w:
                client = copy.deepcopy(model.blocks[:cut])
                opt = torch.optim.Adam(client.parameters(), lr=bud.lr, foreach=False)
                for idx in _batches(len(y), bud.batch, np.random.default_rng(0)):
                    h = x[torch.from_numpy(idx)]
                    for blk in client:
                        h = blk(h)
                    opt.zero_grad(set_to_none=True)
                    h.backward(torch.ones_like(h) / h.numel())
                    opt.step()
                del client, opt
            log.memory[m] = w.peak
        opt_c = torch.optim.Adam(client_p, lr=bud.lr, foreach=False)
        opt_s = torch.optim.Adam(server_p, lr=bud.lr, foreach=False)
        log.bytes += 2.0 * _nbytes(client_p)  # the client part from and back to the server
        for _ in range(bud.epochs):
            for idx in _batches(len(y), bud.batch, rng):
                ix = torch.from_numpy(idx)
                smashed = model(x[ix], 0, cut)
                sent = smashed.detach().requires_grad_(True)
                loss = F.cross_entropy(model(sent, cut, n_layers), y[ix])
                opt_c.zero_grad(set_to_none=True)
                opt_s.zero_grad(set_to_none=True)
                loss.backward()
                smashed.backward(sent.grad)
                opt_c.step()
                opt_s.step()
                log.bytes += 2.0 * _nbytes([sent])  # activations up, gradients down
                losses.append(float(loss.detach()))
    log.loss = float(np.mean(losses))
    return log


def snake_round(model: Any, data: list[tuple[Any, Any]], segments: list[tuple[int, int, int]],
                bud: LocalBudget, rng: np.random.Generator, kd: bool = False,
                measure: bool = False) -> RoundLog:
    """Snake Learning: nodes in the order of ``segments`` = ``(node, a, b)``; node ``m``
    downloads the trainable layers it does not hold, trains layers ``[a, b]`` with every other
    layer frozen (and distils from the received model when ``kd``), uploads its segment."""
    log, losses = RoundLog(), []
    for m, a, b in segments:
        x, y = data[m]
        seg = [p for blk in model.blocks[a:b + 1] for p in blk.parameters()]
        log.bytes += _nbytes(model.parameters()) - _nbytes(seg)  # download
        with _Window(measure) as w:
            local = copy.deepcopy(model)
            teacher = copy.deepcopy(model.blocks[a:b + 1]) if kd else None
            train_p = []
            for i, blk in enumerate(local.blocks):
                for p in blk.parameters():
                    p.requires_grad_(a <= i <= b)
                    if a <= i <= b:
                        train_p.append(p)
            t_model = None
            if teacher is not None:
                t_model = _Spliced(local, teacher, a, b)
            losses.append(_train(local, train_p, x, y, bud, rng, t_model))
            new = [blk.state_dict() for blk in local.blocks[a:b + 1]]
            del local, teacher, t_model
        log.memory[m] = w.peak
        for blk, sd in zip(model.blocks[a:b + 1], new, strict=True):
            blk.load_state_dict(sd)
        log.bytes += _nbytes(seg)  # upload
    log.loss = float(np.mean(losses))
    return log


class _Spliced:
    """The received model: the node's own frozen layers with the teacher's copy of the segment
    (the only layers the node changes), so the teacher costs one segment, not a model."""

    def __init__(self, local: Any, teacher_seg: Any, a: int, b: int) -> None:
        self.local, self.teacher, self.a, self.b = local, teacher_seg, a, b

    def __call__(self, x: Any) -> Any:
        h = self.local(x, 0, self.a)
        for blk in self.teacher:
            h = blk(h)
        return self.local(h, self.b + 1, None)


def accuracy(model: Any, x: Any, y: Any) -> float:
    """Top-1 accuracy [1] on ``(x, y)``."""
    import torch

    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


__all__ = ["LocalBudget", "RoundLog", "accuracy", "fedavg_round", "snake_round", "split_round"]
