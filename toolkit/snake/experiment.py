"""Digits experiments: one method, one split, one seed -> an xarray Dataset.

0-d variables are metrics, 1-d ones curves over ``round`` or ``node`` (the study-kind
convention). Memory per node is measured in round 1 (:class:`~genoffload.snake.measure.
AllocatorPeak`); the same round's cost model (eqs. S1-S3) sits next to it as ``predicted``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from genoffload.errors import InputError
from genoffload.snake import cost
from genoffload.snake.layers import digits_cnn_spec
from genoffload.snake.nodes import make_nodes
from genoffload.snake.partition import check_split, dirichlet_split, iid_split, label_counts

METHODS = ("fedavg", "split", "snake", "snake-kd")
DATASETS = ("digits",)


@dataclass(frozen=True)
class DigitsRun:
    """Settings of one digits run (``alpha`` None = IID)."""

    method: str = "snake"
    nodes: int = 6
    alpha: float | None = None
    rounds: int = 30
    epochs: int = 1
    batch: int = 16
    lr: float = 1e-3
    cut: int = 2  # Split Learning: layers [0, cut) on the client
    dataset: str = "digits"

    def check(self) -> None:
        if self.method not in METHODS:
            raise InputError("method", self.method, f"unknown method (one of {', '.join(METHODS)})")
        if self.dataset not in DATASETS:
            raise InputError("dataset", self.dataset, f"unknown data set (one of {', '.join(DATASETS)})")
        for name in ("rounds", "epochs", "batch"):
            if getattr(self, name) < 1:
                raise InputError(name, getattr(self, name), "must be at least 1")
        if not self.lr > 0:
            raise InputError("lr", self.lr, "must be positive")
        spec = digits_cnn_spec()
        if not 1 <= self.cut < spec.n_layers:
            raise InputError("cut", self.cut, f"must be in [1, {spec.n_layers - 1}]")
        check_split(1437, self.nodes, self.alpha)  # the training share of the 1,797 images
        if self.method.startswith("snake") and self.nodes > spec.n_layers:
            raise InputError("nodes.count", self.nodes, f"more nodes than layers ({spec.n_layers})")


def run_digits(run: DigitsRun, seed: int = 0, segments: list[tuple[int, int, int]] | None = None,
               progress: Any = None) -> xr.Dataset:
    """Train the digits CNN with ``run.method`` and return curves and metrics.

    ``segments`` (node, a, b) default to near-equal runs of layers in node order
    (:func:`genoffload.snake.cost.even_segments`); a plan from
    :func:`genoffload.models.snake_plan.plan` may be given instead.
    """
    import torch

    from genoffload.snake.digits import build_cnn, load_digits_data
    from genoffload.snake.methods import LocalBudget, accuracy, fedavg_round, snake_round, split_round

    run.check()
    torch.set_num_threads(1)
    rng = np.random.default_rng(seed)
    data = load_digits_data(seed)
    labels = data.labels
    parts = (iid_split(len(labels), run.nodes, rng) if run.alpha is None
             else dirichlet_split(labels, run.nodes, run.alpha, rng))
    local = [(data.x_train[torch.from_numpy(p)], data.y_train[torch.from_numpy(p)])
             for p in parts]
    model = build_cnn(seed=seed)
    spec = digits_cnn_spec()
    segs = segments or cost.even_segments(spec, run.nodes)
    bud = LocalBudget(run.epochs, run.batch, run.lr)
    acc, byts, loss, secs = [], [], [], []
    memory = np.full(run.nodes, np.nan)
    for r in range(run.rounds):
        t0 = time.process_time()
        measure = r == 0
        if run.method == "fedavg":
            log = fedavg_round(model, local, bud, rng, measure)
        elif run.method == "split":
            log = split_round(model, local, run.cut, bud, rng, measure)
        else:
            log = snake_round(model, local, segs, bud, rng, kd=run.method == "snake-kd", measure=measure)
        secs.append(time.process_time() - t0)
        if measure:
            for m, v in log.memory.items():
                memory[m] = v
        acc.append(accuracy(model, data.x_test, data.y_test))
        byts.append(log.bytes)
        loss.append(log.loss)
        if progress is not None:
            progress(r + 1, run.rounds, acc[-1])
    nodes = make_nodes(run.nodes, samples=[len(p) for p in parts], seed=seed)
    tr = cost.Training(batch=run.batch, kd=run.method == "snake-kd")
    predicted = _predicted(run, spec, nodes, segs, tr)
    counts = label_counts(labels, parts, 10)
    return xr.Dataset(
        {"accuracy": ("round", np.asarray(acc)), "bytes": ("round", np.asarray(byts)),
         "train_loss": ("round", np.asarray(loss)), "cpu_s": ("round", np.asarray(secs)),
         "memory_measured": ("node", memory), "memory_predicted": ("node", predicted),
         "samples": ("node", np.asarray([len(p) for p in parts])),
         "label_counts": (("node", "label"), counts),
         "final_accuracy": float(acc[-1]), "best_accuracy": float(max(acc)),
         "bytes_per_round": float(np.mean(byts)),
         "peak_memory": float(np.nanmax(memory)),
         "predicted_peak_memory": float(np.max(predicted))},
        coords={"round": np.arange(1, run.rounds + 1), "node": np.arange(run.nodes),
                "label": np.arange(10)},
        attrs={"method": run.method, "nodes": run.nodes,
               "alpha": "iid" if run.alpha is None else float(run.alpha), "seed": seed,
               "memory_measure": "torch profiler: peak live CPU-allocator bytes in the node's window",
               "segments": str(segs) if run.method.startswith("snake") else "", "cut": run.cut})


def _predicted(run: DigitsRun, spec: Any, nodes: Any, segs: list[tuple[int, int, int]],
               tr: cost.Training) -> np.ndarray:
    if run.method == "fedavg":
        return np.asarray(cost.fedavg_round(spec, nodes, tr).memory)
    if run.method == "split":
        return np.asarray(cost.split_round(spec, nodes, run.cut, tr).memory)
    return np.asarray(cost.snake_round(spec, nodes, segs, tr).memory)


__all__ = ["DATASETS", "METHODS", "DigitsRun", "run_digits"]
