"""Deadlines and the circuit breaker against real misbehaving HTTP servers on 127.0.0.1.

Each server is a stdlib socket or ``http.server`` in a thread: one that accepts and never
answers, one that trickles a byte every 0.5 s, a closed port, HTTP 500, invalid JSON, babble.
The client is the real ``langchain-openai`` one that ``--llm openai:MODEL@URL`` builds.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genoffload.episode import EpisodeConfig
from genoffload.llm import build_chat_model
from genoffload.llm.deadline import CircuitBreaker, DeadlineExceeded, call_with_deadline
from genoffload.llm.local_server import free_port
from genoffload.models.reference import run_certified_episode
from genoffload.policies.icl import ICLPolicy, ICLSettings
from genoffload.scenario import make_config

pytest.importorskip("langchain_openai")

NO_EXPLORE = {"epsilon": "constant:0", "mask_bad": False}


class _Stop:
    def __init__(self) -> None:
        self.event = threading.Event()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """Accepts connections, reads the request, never answers."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    srv.settimeout(0.2)
    stop, held = _Stop(), []

    def serve() -> None:
        while not stop.event.is_set():
            try:
                conn, _ = srv.accept()
                held.append(conn)
            except OSError:
                continue

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}/v1"
    stop.event.set()
    for c in held:
        c.close()
    srv.close()


def http_server(handler: Callable[[BaseHTTPRequestHandler], None]) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            handler(self)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def chat_reply(content: str) -> bytes:
    return json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [{"index": 0, "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": content}}]}).encode()


@pytest.fixture
def trickling_url() -> Iterator[str]:
    """Sends headers and then one byte of a valid reply every 0.5 s (about 100 s in all)."""
    body = chat_reply("cloud")

    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        try:
            for b in body:
                h.wfile.write(bytes([b]))
                h.wfile.flush()
                time.sleep(0.5)
        except OSError:
            pass  # the client gave up

    yield from http_server(handle)


def fixed(status: int, body: bytes) -> Callable[[BaseHTTPRequestHandler], None]:
    def handle(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("content-type", "application/json")
        h.send_header("content-length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handle


def policy_for(url: str, **settings: object) -> ICLPolicy:
    model = build_chat_model(f"openai:m@{url}", timeout=60.0)  # a socket timeout far past the deadline
    return ICLPolicy(model, ICLSettings(**{**NO_EXPLORE, **settings}))  # type: ignore[arg-type]


@pytest.mark.parametrize("fixture", ["hanging_url", "trickling_url"])
def test_a_decision_ends_at_its_deadline(fixture: str, request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue(fixture)
    policy = policy_for(url, deadline_s=1.5)
    t0 = time.monotonic()
    offload, _ = policy.decide(("chat", "short"))
    elapsed = time.monotonic() - t0
    assert offload is None and 1.4 <= elapsed < 4.0
    c = policy.counters
    assert c.deadline_exceeded == 1 and c.errors_by_type == {"DeadlineExceeded": 1}
    assert c.retries == 0  # the deadline covers the tries: none is left after it


def test_a_dead_server_costs_seconds_per_episode(hanging_url: str) -> None:
    policy = policy_for(hanging_url, deadline_s=0.5, breaker_threshold=2)
    t0 = time.monotonic()
    ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=60, seed=1))
    elapsed = time.monotonic() - t0
    c = policy.counters
    n = int((ds["source"].values == "fallback").sum())
    assert n == c.fallback > 20  # every task fell back, counted
    assert c.deadline_exceeded == 2 and c.circuit_open == n - 2 and c.breaker_opened == 1
    assert elapsed < 20  # two deadlines, then no requests (60 s per decision before issue 13)


@pytest.mark.parametrize(
    ("handler", "kind"),
    [(fixed(500, b'{"error": {"message": "boom"}}'), "APIError"),
     (fixed(200, b"{not json"), "JSONDecodeError"),
     (fixed(200, chat_reply("Keywords: short, translation")), "ReplyUnreadable")],
    ids=["http-500", "invalid-json", "babble"],
)
def test_bad_answers_end_in_counted_fallbacks_quickly(handler: Callable[[BaseHTTPRequestHandler], None],
                                                      kind: str) -> None:
    for url in http_server(handler):
        policy = policy_for(url, max_retries=2)
        t0 = time.monotonic()
        assert policy.decide(("chat", "short"))[0] is None
        assert time.monotonic() - t0 < 3.0
        c = policy.counters
        assert c.errors == 3 and c.retries == 2
        assert any(kind in k for k in c.errors_by_type), c.errors_by_type


def test_a_closed_port_falls_back_quickly() -> None:
    policy = policy_for(f"http://127.0.0.1:{free_port()}/v1", max_retries=2)
    t0 = time.monotonic()
    assert policy.decide(("chat", "short"))[0] is None
    assert time.monotonic() - t0 < 3.0 and policy.counters.errors == 3
    assert "Connection" in policy.counters.last_error


def test_a_served_reply_decides() -> None:
    for url in http_server(fixed(200, chat_reply("cloud"))):
        policy = policy_for(url)
        assert policy.decide(("chat", "short"))[0] is True
        assert policy.counters.from_text == 1 and policy.counters.errors == 0


def test_call_with_deadline_passes_results_and_the_calls_own_errors() -> None:
    async def ok() -> int:
        return 7

    async def own_timeout() -> None:
        raise TimeoutError("client timeout")

    async def slow() -> None:
        import asyncio

        await asyncio.sleep(10)

    assert call_with_deadline(ok, 1.0) == 7
    with pytest.raises(TimeoutError, match="client timeout") as info:
        call_with_deadline(own_timeout, 1.0)
    assert not isinstance(info.value, DeadlineExceeded)
    t0 = time.monotonic()
    with pytest.raises(DeadlineExceeded):
        call_with_deadline(slow, 0.3)
    assert time.monotonic() - t0 < 1.5


def test_circuit_breaker_opens_probes_and_closes() -> None:
    now = [0.0]
    b = CircuitBreaker(threshold=2, cooldown_s=10.0, max_cooldown_s=25.0, clock=lambda: now[0])
    b.failure()
    assert b.allow()
    b.failure()
    assert not b.allow() and b.opened == 1
    now[0] = 10.5
    assert b.allow()  # the probe
    b.failure()  # failed: open again for twice as long
    now[0] = 20.0
    assert not b.allow()
    now[0] = 31.0
    assert b.allow()
    b.failure()
    now[0] = 31.0 + 24.0
    assert not b.allow()  # capped at 25 s
    now[0] = 31.0 + 26.0
    b.success()
    assert b.allow() and b.failures == 0
