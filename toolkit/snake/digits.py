"""The digits CNN and its data (scikit-learn's 8x8 digits, 1,797 images, offline)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoffload.snake.layers import DIGITS_CHANNELS, DIGITS_HIDDEN, DIGITS_POOL_AFTER


def build_cnn(classes: int = 10, seed: int = 0):
    """:class:`DigitsCNN` as a ``torch.nn.Module`` whose ``blocks[i]`` is layer ``i`` of
    :func:`genoffload.snake.layers.digits_cnn_spec`."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    blocks: list[nn.Module] = []
    c_in, side = 1, 8
    for i, c_out in enumerate(DIGITS_CHANNELS):
        parts: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()]
        if i in DIGITS_POOL_AFTER:
            parts.append(nn.MaxPool2d(2))
            side //= 2
        blocks.append(nn.Sequential(*parts))
        c_in = c_out
    blocks.append(nn.Sequential(nn.Flatten(), nn.Linear(c_in * side * side, DIGITS_HIDDEN), nn.ReLU()))
    blocks.append(nn.Linear(DIGITS_HIDDEN, classes))

    class DigitsCNN(nn.Module):
        """Eight 3x3 convolutions (ReLU, max-pool after the 3rd and 6th) and two linear layers."""

        def __init__(self) -> None:
            super().__init__()
            self.blocks = nn.ModuleList(blocks)

        def forward(self, x: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
            for blk in self.blocks[start:stop]:
                x = blk(x)
            return x

    return DigitsCNN()


@dataclass(frozen=True)
class DigitsData:
    """Train and test tensors (images (n, 1, 8, 8) in [0, 1], labels (n,))."""

    x_train: object
    y_train: object
    x_test: object
    y_test: object

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.y_train.numpy())  # type: ignore[attr-defined]


def load_digits_data(seed: int = 0, test_share: float = 0.2) -> DigitsData:
    """scikit-learn's digits, stratified train/test split drawn from ``seed``."""
    import torch
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    d = load_digits()
    x = (d.images / 16.0).astype(np.float32)[:, None]
    xtr, xte, ytr, yte = train_test_split(x, d.target, test_size=test_share, random_state=seed,
                                          stratify=d.target)
    return DigitsData(torch.from_numpy(xtr), torch.from_numpy(ytr).long(), torch.from_numpy(xte),
                      torch.from_numpy(yte).long())


__all__ = ["DigitsData", "build_cnn", "load_digits_data"]
