"""Deadlines and a circuit breaker for LLM calls over the network.

A client's socket timeouts bound each read, not a request: a server that sends one byte every
few seconds keeps a request alive for ever, and the client's own retries multiply the wait.
:func:`call_with_deadline` bounds the *whole* call instead: the call runs as a coroutine
(LangChain's ``ainvoke``) on one background event loop per process and is cancelled when the
deadline passes, which closes its connection (``asyncio`` cancellation reaches every ``await``
of the HTTP client, including the read of a trickling body).

:class:`CircuitBreaker` turns a dead server into a few seconds per episode: after
``threshold`` failed decisions in a row the circuit opens and decisions go straight to the
fallback, without a request, for ``cooldown_s`` (doubling, up to ``max_cooldown_s``, while
probes keep failing); then one decision probes the server again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")

DEFAULT_DEADLINE_S = 5.0
"""Default time budget of one LLM decision, retries included [s]."""


class DeadlineExceeded(TimeoutError):
    """An LLM call did not finish within its deadline (it was cancelled)."""


class CircuitOpen(RuntimeError):
    """The circuit breaker is open: the LLM was not asked."""


_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for LLM calls, running in a daemon thread (started once).

    One loop for every call keeps the HTTP clients' connection pools (bound to the loop that
    opened them) reusable across decisions; a caller already inside an event loop (a notebook)
    can still call synchronously.
    """
    global _loop
    with _loop_lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="genoffload-llm-loop", daemon=True).start()
            _loop = loop
        return _loop


def call_with_deadline(make_call: Callable[[], Awaitable[T]], timeout_s: float) -> T:
    """Run ``make_call()`` on the background loop; cancel it after ``timeout_s``.

    Parameters
    ----------
    make_call : callable
        Returns the awaitable to run (e.g. ``lambda: chain.ainvoke(x)``); called on the loop.
    timeout_s : float
        Deadline of the whole call [s], connection, request and the full response body.

    Returns
    -------
    T
        The call's result.

    Raises
    ------
    DeadlineExceeded
        The call was cancelled at the deadline.
    Exception
        Whatever the call raised.
    """
    if timeout_s <= 0:
        raise DeadlineExceeded("no time left for the call (deadline 0 s)")

    async def bounded() -> T:
        task = asyncio.ensure_future(make_call())
        done, _ = await asyncio.wait({task}, timeout=timeout_s)
        if not done:  # the call's own TimeoutError (a client timeout) passes through as is
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)  # let it close its connection
            raise DeadlineExceeded(f"no complete reply within the deadline of {timeout_s:.3g} s")
        return task.result()

    future = asyncio.run_coroutine_threadsafe(bounded(), background_loop())
    try:
        return future.result(timeout_s + 2.0)  # bounded() ends it first; this is a backstop
    except FutureTimeout:
        if future.done():  # the call's own TimeoutError (the same class since Python 3.11)
            raise
        future.cancel()
        raise DeadlineExceeded(f"no complete reply within the deadline of {timeout_s:.3g} s") from None


@dataclass
class CircuitBreaker:
    """Stops asking an LLM that keeps failing (see the module docstring).

    Parameters
    ----------
    threshold : int
        Failed decisions in a row that open the circuit.
    cooldown_s : float
        First open period [s]; doubles after each failed probe.
    max_cooldown_s : float
        Longest open period [s].
    clock : callable
        Monotonic time [s] (a test may pass its own).
    """

    threshold: int = 3
    cooldown_s: float = 30.0
    max_cooldown_s: float = 300.0
    clock: Callable[[], float] = time.monotonic
    failures: int = 0
    opened: int = 0
    _open_until: float = field(default=0.0, repr=False)
    _period: float = field(default=0.0, repr=False)

    @property
    def is_open(self) -> bool:
        """Whether a decision now skips the LLM."""
        return self.failures >= self.threshold and self.clock() < self._open_until

    def allow(self) -> bool:
        """Whether to ask the LLM now (closed circuit, or the probe after a cooldown)."""
        return not self.is_open

    def success(self) -> None:
        """A decision came from the LLM: close the circuit."""
        self.failures = 0
        self._period = 0.0

    def failure(self) -> None:
        """A decision failed (every try): count it; open the circuit at the threshold."""
        self.failures += 1
        if self.failures >= self.threshold:
            self._period = min(self.max_cooldown_s, self._period * 2 if self._period else self.cooldown_s)
            self._open_until = self.clock() + self._period
            self.opened += 1
