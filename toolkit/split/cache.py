"""On-disk cache of perplexity measurements, keyed by everything a measurement depends on.

One JSON line per measurement, appended and flushed as soon as it is made, so an interrupted
grid resumes where it stopped (a torn last line is ignored). The key holds the model file
(name and size), the text digest, the window, the transformers and torch versions, the
modulation, whether bit errors are on, the split, the precision, the channel state and the
corruption seed. :class:`MeasuredQuality` is the ``QualityFn`` that reads the cache first and
measures (and records) only what it lacks.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoffload.split.channel import ChannelState

Measure = Callable[[int, int, ChannelState, int], float]
"""``(split, bits, state, seed) -> perplexity``: one real measurement."""


def measurement_key(context: dict[str, Any], split: int, bits: int, state: ChannelState, seed: int) -> str:
    """SHA-256 (hex, 24 chars) of the context and the measurement's own parameters."""
    payload = {
        **context,
        "split": int(split),
        "bits": int(bits),
        "sinr_db": float(state.sinr_db),
        "erasure": float(state.erasure),
        "seed": int(seed),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]


class MeasurementCache:
    """Append-only JSONL store ``key -> record`` (``ppl`` [1], parameters, ``seconds``)."""

    def __init__(self, path: Path | str | None) -> None:
        self.path = None if path is None else Path(path)
        self.records: dict[str, dict[str, Any]] = {}
        if self.path is not None and self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:  # a line torn by an interruption
                        continue
                    if isinstance(rec, dict) and "key" in rec:
                        self.records[rec["key"]] = rec

    def get(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)

    def put(self, key: str, record: dict[str, Any]) -> None:
        rec = {"key": key, **record}
        self.records[key] = rec
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(rec, allow_nan=True) + "\n")
                fh.flush()

    def __len__(self) -> int:
        return len(self.records)


@dataclass
class MeasuredQuality:
    """Perplexity from the cache, else measured and recorded; counts both.

    Parameters
    ----------
    measure : Measure or None
        The real measurement (None: cache only; a miss raises ``KeyError``).
    cache : MeasurementCache
    context : dict
        What every measurement depends on besides its own parameters (see module doc).
    seeds : sequence of int
        Corruption seeds; the quality is the mean perplexity over them.
    layers : int
        ``L``: split ``L`` needs no corruption seeds (nothing crosses the link).
    """

    measure: Measure | None
    cache: MeasurementCache
    context: dict[str, Any]
    seeds: Sequence[int] = (0,)
    layers: int = 0
    hits: int = 0
    misses: int = 0
    seconds: float = 0.0
    asked: set[tuple[int, int, ChannelState]] = field(default_factory=set)

    def one(self, split: int, bits: int, state: ChannelState, seed: int) -> float:
        key = measurement_key(self.context, split, bits, state, seed)
        rec = self.cache.get(key)
        if rec is not None:
            self.hits += 1
            return float(rec["ppl"])
        if self.measure is None:
            raise KeyError(f"no cached measurement for split {split}, bits {bits}, {state}, seed {seed}")
        import time

        start = time.perf_counter()
        ppl = float(self.measure(split, bits, state, seed))
        took = time.perf_counter() - start
        self.misses += 1
        self.seconds += took
        self.cache.put(
            key,
            {
                "split": split,
                "bits": bits,
                "sinr_db": state.sinr_db,
                "erasure": state.erasure,
                "seed": seed,
                "ppl": ppl,
                "seconds": took,
            },
        )
        return ppl

    def __call__(self, split: int, bits: int, state: ChannelState) -> float:
        self.asked.add((split, bits, state))
        seeds = (self.seeds[0],) if split >= self.layers > 0 else self.seeds
        values = [self.one(split, bits, state, s) for s in seeds]
        if not all(math.isfinite(v) for v in values):
            return float("inf")
        return sum(values) / len(values)


def measure_grid(
    quality: MeasuredQuality,
    cells: Iterable[tuple[int, int, ChannelState]],
    description: str = "measuring perplexity",
    show: bool = True,
) -> dict[tuple[int, int, ChannelState], float]:
    """Measure (or read) every ``(split, bits, state)``; rich progress; resumes from the cache."""
    todo = list(cells)
    out: dict[tuple[int, int, ChannelState], float] = {}
    if not show:
        return {c: quality(*c) for c in todo}
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=len(todo))
        for cell in todo:
            out[cell] = quality(*cell)
            bar.advance(task)
    return out
