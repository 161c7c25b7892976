"""Measured memory: the CPU allocator's peak (torch profiler) and a process's peak RSS (psutil).

* :class:`AllocatorPeak` -- every tensor allocation and free of the c10 CPU allocator inside the
  window, as recorded by ``torch.profiler`` with ``profile_memory=True``; the peak of their
  running sum is the window's peak of live tensor bytes (weights, gradients, optimizer state,
  activations, temporaries created in the window; not the Python interpreter nor tensors that
  existed before the window).
* :class:`RssPeak` -- the resident set size of this process sampled every ``interval`` seconds
  in a thread (and ``ru_maxrss`` at the end), minus the RSS when the window opened.
"""

from __future__ import annotations

import resource
import threading
import time
from typing import Any


class AllocatorPeak:
    """Context manager: ``peak`` [B] of live tensor bytes allocated inside the window."""

    def __init__(self) -> None:
        self.peak = 0.0
        self.net = 0.0

    def __enter__(self) -> AllocatorPeak:
        from torch.profiler import ProfilerActivity, profile

        self._prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
        self._prof.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._prof.__exit__(*exc)
        sizes: list[tuple[int, int]] = []
        stack = list(self._prof.profiler.kineto_results.experimental_event_tree())  # type: ignore[union-attr]
        while stack:  # every allocation event of the tree (alloc_size < 0: a free)
            node = stack.pop()
            stack.extend(node.children)
            if node.typed[0].name == "Allocation":
                sizes.append((node.start_time_ns, node.typed[1].alloc_size))
        sizes.sort()
        live = peak = 0.0
        for _, size in sizes:
            live += size
            peak = max(peak, live)
        self.peak, self.net = float(peak), float(live)


def rss_bytes() -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


class RssPeak:
    """Context manager: ``peak`` [B] of the process RSS above its value at the window's start."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.base = self.top = self.peak = 0
        self.maxrss = 0

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.top = max(self.top, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> RssPeak:
        self.base = self.top = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.top = max(self.top, rss_bytes())
        self.maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.peak = self.top - self.base


__all__ = ["AllocatorPeak", "RssPeak", "rss_bytes"]
