"""llama-cpp-python's own OpenAI-compatible server on this machine, serving the embedded GGUF.

``python -m llama_cpp.server`` (the ``server`` extra) on 127.0.0.1 and a free port, for the
served-model integration test, ``benchmarks/bench_served.py`` and anyone who wants to try the
``openai:`` / ``openai-completions:`` paths offline::

    with llama_server() as url:      # e.g. http://127.0.0.1:41234/v1
        model = build_chat_model(f"openai-completions:gemma@{url}")
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    model_path: str | Path | None = None,
    *,
    port: int | None = None,
    n_threads: int = 1,
    logits_all: bool = False,
    n_ctx: int = 4096,
    start_timeout_s: float = 120.0,
    log_path: str | Path | None = None,
) -> Iterator[str]:
    """Run ``python -m llama_cpp.server`` until the block ends; yield its base URL (``.../v1``).

    Parameters
    ----------
    model_path : str or Path, optional
        GGUF file; default the embedded Gemma 3 270M.
    port : int, optional
        Port on 127.0.0.1; default a free one.
    n_threads : int
        llama.cpp threads of the server [threads].
    logits_all : bool
        Keep the logits of every position, which llama-cpp-python needs to return
        log-probabilities (it then computes them over the whole prompt: about 2 s per request on
        Gemma 3 270M; off, a decision is read from the reply text).
    n_ctx : int
        Context window [tokens].
    start_timeout_s : float
        How long to wait for the server to answer [s].
    log_path : str or Path, optional
        File for the server's output (default: discarded).

    Raises
    ------
    RuntimeError
        The server exited or did not answer in time (its last output is in the message).
    """
    if model_path is None:
        from genoffload.llm.embedded import embedded_model_path

        model_path = embedded_model_path()
    port = port or free_port()
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path), "--host", "127.0.0.1",
           "--port", str(port), "--n_threads", str(n_threads), "--n_threads_batch", str(n_threads),
           "--n_ctx", str(n_ctx), "--logits_all", str(logits_all), "--verbose", "False"]
    log = open(log_path, "wb") if log_path else None
    proc = subprocess.Popen(cmd, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        end = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited with code {proc.returncode} ({' '.join(cmd)})")
            try:
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"llama_cpp.server did not answer within {start_timeout_s:.0f} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not None:
            log.close()
