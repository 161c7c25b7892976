"""Data partitioning across nodes: IID and Dirichlet(alpha) label skew."""

from __future__ import annotations

import numpy as np

from genoffload.errors import InputError


def check_split(n_samples: int, n_nodes: int, alpha: float | None) -> None:
    """Refuse a split that cannot be made (one line naming the field)."""
    if n_nodes < 1:
        raise InputError("nodes.count", n_nodes, "must be at least 1")
    if n_nodes > n_samples:
        raise InputError("nodes.count", n_nodes, f"more nodes than training samples ({n_samples})")
    if alpha is not None and not (alpha > 0 and np.isfinite(alpha)):
        raise InputError("data.alpha", alpha, "must be a positive number")


def iid_split(n_samples: int, n_nodes: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Sample indices shuffled and dealt into ``n_nodes`` near-equal shares."""
    check_split(n_samples, n_nodes, None)
    return [np.sort(p) for p in np.array_split(rng.permutation(n_samples), n_nodes)]


def dirichlet_split(labels: np.ndarray, n_nodes: int, alpha: float, rng: np.random.Generator,
                    min_size: int = 1) -> list[np.ndarray]:
    """Label-skewed split: per class, shares ``p ~ Dir(alpha 1_N)`` of its samples go to the
    nodes (the usual benchmark of Hsu et al. 2019); redrawn until every node holds at least
    ``min_size`` samples (at most 100 draws, then the largest shares give samples to the
    empty nodes)."""
    labels = np.asarray(labels)
    check_split(len(labels), n_nodes, alpha)
    classes = np.unique(labels)
    for _ in range(100):
        parts: list[list[int]] = [[] for _ in range(n_nodes)]
        for c in classes:
            idx = rng.permutation(np.flatnonzero(labels == c))
            p = rng.dirichlet(np.full(n_nodes, alpha))
            cuts = (np.cumsum(p)[:-1] * len(idx)).astype(int)
            for k, chunk in enumerate(np.split(idx, cuts)):
                parts[k].extend(chunk.tolist())
        if min(len(p) for p in parts) >= min_size:
            break
    for k in range(n_nodes):  # hand samples to nodes still short of min_size
        while len(parts[k]) < min_size:
            donor = int(np.argmax([len(p) for p in parts]))
            parts[k].append(parts[donor].pop())
    return [np.sort(np.asarray(p, dtype=int)) for p in parts]


def label_counts(labels: np.ndarray, parts: list[np.ndarray], classes: int) -> np.ndarray:
    """Label counts per node, shape (node, class)."""
    return np.stack([np.bincount(labels[p], minlength=classes) for p in parts])


__all__ = ["check_split", "dirichlet_split", "iid_split", "label_counts"]
