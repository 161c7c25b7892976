"""Run a study of any kind on Dask distributed: prepare the folder, skip finished cells, compute
the rest, aggregate.

Every cell is one Dask task (the kind's worker function, e.g.
:func:`genoffload.studies.cells.run_cell`) on a ``LocalCluster`` of
single-threaded worker processes, or on an existing cluster (``scheduler="tcp://HOST:PORT"``).
A finished cell is a file; running the same study again into the same folder recomputes no
finished cell (failed cells are tried again), so a killed run (even ``kill -9``) resumes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from genoffload.errors import InputError
from genoffload.io import write_atomic
from genoffload.studies.cellfiles import THREAD_ENV, check_cell, record_failure
from genoffload.studies.kinds import kind_of_study, parse_study, pipeline_of
from genoffload.studies.results import now_iso, write_results

SPEC_FILE = "study.toml"
STATE_FILE = "study.json"
LOCK_FILE = ".lock"
SCHEDULER_PROTOCOLS = ("tcp", "tls", "ws", "wss", "inproc", "ucx")
"""Protocols of ``distributed`` addresses."""

Progress = Callable[[int, int, int, int], None]
"""``progress(done, failed, total, computed_now)`` after each finished cell."""


@dataclass
class RunReport:
    """What a run did.

    Attributes
    ----------
    table : polars.DataFrame
        ``summary.parquet``.
    computed, reused, failed : int
        Cells computed by this run, reused from earlier runs, failed (now).
    wall_s : float
        Wall time of this run [s].
    compute_s : float
        Sum of the cells' own compute times in this run [s].
    workers : int
        Dask workers used.
    sweep_s : float
        Wall time from the first submitted cell to the last finished one [s] (no cluster
        start-up, no aggregation).
    failures : list of dict
        ``cell_id``, ``policy``, ``seed``, ``error`` of every failed cell (now).
    outcomes : list of dict
        What each cell computed by this run returned (timings, worker pid).
    """

    table: pl.DataFrame
    computed: int
    reused: int
    failed: int
    wall_s: float
    compute_s: float
    workers: int
    sweep_s: float = 0.0
    failures: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def check_folder(study: Any, out_dir: Path) -> bool:
    """Check that ``out_dir`` can hold the study (writes nothing); True if it already does.

    Raises
    ------
    InputError
        The folder is a file, holds another study (another spec hash), or is a non-empty
        folder that is not a study folder.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("output", str(out_dir), "exists and is not a folder")
    state = out_dir / STATE_FILE
    if state.is_file():
        try:
            held = json.loads(state.read_text())
            if not isinstance(held, dict):
                raise ValueError(STATE_FILE)
        except (ValueError, RecursionError):
            raise InputError("output", str(out_dir), f"{STATE_FILE} is not valid JSON") from None
        if held.get("spec_hash") != study.spec_hash:
            raise InputError("output", str(out_dir),
                             f"holds study '{held.get('study')}' with another spec (hash "
                             f"{str(held.get('spec_hash'))[:12]} != {study.spec_hash[:12]}); "
                             "use a new folder")
        return True
    cells = out_dir / "cells"
    own = {SPEC_FILE, "cells", LOCK_FILE}  # what an interrupted first start may have left
    if out_dir.is_dir() and any(p.name not in own or (p == cells and any(cells.iterdir()))
                                for p in out_dir.iterdir()):
        raise InputError("output", str(out_dir), "is a non-empty folder that holds no study")
    return False


def prepare_folder(study: Any, out_dir: Path) -> None:
    """Create the study folder (study file, spec hash), or check that an existing one holds
    the same study (:func:`check_folder`)."""
    if check_folder(study, out_dir):
        return
    cells = out_dir / "cells"
    cells.mkdir(parents=True, exist_ok=True)
    write_atomic(out_dir / SPEC_FILE, lambda tmp: tmp.write_text(study.text))
    doc = {"study": study.name, "spec_hash": study.spec_hash, "source": study.source, "created": now_iso()}
    write_atomic(out_dir / STATE_FILE, lambda tmp: tmp.write_text(json.dumps(doc, indent=2) + "\n"))


def open_study_folder(out_dir: Path) -> Any:
    """The study of an existing study folder (from its copy of the study file)."""
    spec = out_dir / SPEC_FILE
    if not out_dir.is_dir():
        raise InputError("dir", str(out_dir), "no such folder")
    if not spec.is_file() or not (out_dir / STATE_FILE).is_file():
        raise InputError("dir", str(out_dir), f"not a study folder (no {SPEC_FILE} / {STATE_FILE})")
    return parse_study(spec.read_text(encoding="utf-8"), str(spec))


def check_scheduler_address(address: str) -> str:
    """A Dask scheduler address must be ``PROTOCOL://HOST[:PORT]`` (``tcp://10.0.0.5:8786``).

    Raises
    ------
    InputError
        ``scheduler`` and the address, before anything connects.
    """
    from urllib.parse import urlsplit

    text = address.strip()
    if not text:
        raise InputError("scheduler", address, "empty address (expected tcp://HOST:PORT)")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as err:
        raise InputError("scheduler", address, f"not an address ({err}; expected tcp://HOST:PORT)") from None
    if parts.scheme not in SCHEDULER_PROTOCOLS or not parts.hostname or parts.path not in ("", "/"):
        raise InputError("scheduler", address, "not an address (expected tcp://HOST:PORT; protocols: "
                         f"{', '.join(SCHEDULER_PROTOCOLS)})")
    del port
    return text


@contextmanager
def dask_client(workers: int, scheduler: str | None, timeout: float = 20.0) -> Iterator[Any]:
    """A Dask client on a new ``LocalCluster`` (single-threaded processes) or on ``scheduler``
    (waiting at most ``timeout`` [s] to connect)."""
    from distributed import Client, LocalCluster

    if scheduler:
        check_scheduler_address(scheduler)
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as err:
            raise InputError("scheduler", scheduler, f"cannot connect ({err})") from None
        try:
            yield client
        finally:
            client.close()
        return
    for key, value in THREAD_ENV.items():  # worker processes inherit these
        os.environ.setdefault(key, value)
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                           host="127.0.0.1", silence_logs=logging.ERROR)
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _n_workers(client: Any) -> int:
    return len(client.scheduler_info().get("workers", {}))


def _warm_up(kind: str = "offload") -> None:
    """Import the cell code (and, for the offloading kind, the solver, and generate a one-user
    scenario) once per worker: first-use costs (xarray imports dask.array and scipy.sparse on its
    first Variable, ~1 s) stay out of the cells' timing."""
    from genoffload.studies.cellfiles import configure_worker

    configure_worker()
    if kind == "offload":
        import genoffload.models.solve  # noqa: F401
        from genoffload.scenario import generate, make_config

        generate(make_config({"users": 1}))


def warm_workers(client: Any, kind: str = "offload") -> None:
    """Run :func:`_warm_up` on every worker of the client."""
    client.run(_warm_up, kind)


def compute_cells(client: Any, tasks: list[tuple[Any, int]], progress: Progress | None,
                  done0: int, total: int, worker: Callable[[Any], dict[str, Any]]) -> list[dict[str, Any]]:
    """Submit the tasks (with their priorities) to ``worker`` and wait for them; return each
    cell's outcome (see :func:`~genoffload.studies.cellfiles.execute_cell`)."""
    from distributed import as_completed

    ordered = sorted(tasks, key=lambda tp: -tp[1])  # the first submitted start at once: longest first
    futures = {client.submit(worker, task, key=f"cell-{task.cell_id}", pure=False, priority=prio): task
               for task, prio in ordered}
    outcomes: list[dict[str, Any]] = []
    failed = 0
    for future in as_completed(futures):
        task = futures[future]
        try:
            outcome = future.result()
        except Exception as exc:  # a worker died (KilledWorker) or the task could not run
            message = " ".join(f"{type(exc).__name__}: {exc}".split())
            record_failure(task, message)
            outcome = {"cell_id": task.cell_id, "status": "failed", "compute_s": 0.0, "error": message}
        outcomes.append(outcome)
        failed += outcome["status"] == "failed"
        future.release()
        if progress is not None:
            progress(done0 + len(outcomes) - failed, failed, total, len(outcomes))
    return outcomes


def run_study(study: Any, out_dir: Path | str, workers: int = 2, scheduler: str | None = None,
              client: Any = None, progress: Progress | None = None, timeout: float = 20.0) -> RunReport:
    """Run (or resume) a study into ``out_dir`` and write its results.

    Parameters
    ----------
    study : Study or KindStudy
        From :func:`genoffload.studies.load_study` (any kind).
    out_dir : path
        Study folder (created; an existing one must hold the same study).
    workers : int
        Worker processes of the local cluster.
    scheduler : str, optional
        Address of an existing Dask scheduler (``tcp://HOST:PORT``) instead of a local cluster.
    client : distributed.Client, optional
        An existing client (tests share one cluster); ``workers``/``scheduler`` are then unused.
    progress : callable, optional
        ``progress(done, failed, total, computed_now)``.
    timeout : float
        Longest wait for ``scheduler`` to answer [s].
    """
    if workers < 1:
        raise InputError("workers", workers, "must be >= 1")
    out = Path(out_dir)
    t0 = time.perf_counter()
    check_folder(study, out)  # bad folder: before any cluster starts
    if client is not None:
        return _prepared_run(study, out, workers, "client", client, progress, t0)
    if all(check_cell(out, c.cell_id) is None for c in study.cells):
        return _prepared_run(study, out, workers, scheduler or "local", None, progress, t0)
    with dask_client(workers, scheduler, timeout) as own:  # a bad scheduler: before the folder is made
        return _prepared_run(study, out, workers, scheduler or "local", own, progress, t0)


def _prepared_run(study: Any, out: Path, workers: int, where: str, client: Any,
                  progress: Progress | None, t0: float) -> RunReport:
    prepare_folder(study, out)
    with folder_lock(out):
        return _run(study, out, workers, where, client, progress, t0)


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """Hold ``DIR/.lock`` (``flock``) for a run: two runs into one folder at once are refused.

    The operating system releases the lock when the process dies, even by ``kill -9``.
    Temporary files of cells interrupted while being written are removed.
    """
    import fcntl

    with open(out / LOCK_FILE, "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError("output", str(out), "is being run by another process") from None
        for stale in (out / "cells").glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(study: Any, out: Path, workers: int, where: str, client: Any, progress: Progress | None,
         t0: float) -> RunReport:
    start = now_iso()
    pending = [c for c in study.cells if check_cell(out, c.cell_id) is not None]  # corrupt: again
    reused = len(study.cells) - len(pending)
    pipeline = pipeline_of(kind_of_study(study))
    tasks = [(pipeline.task(study, c, out), pipeline.priority(study, c)) for c in pending]
    worker = pipeline.worker()
    if progress is not None:
        progress(reused, 0, len(study.cells), 0)
    outcomes: list[dict[str, Any]] = []
    sweep_s = 0.0
    used_workers = workers
    if tasks:
        if client is not None:
            used_workers = _n_workers(client)
            warm_workers(client, study.kind)
            t1 = time.perf_counter()
            outcomes = compute_cells(client, tasks, progress, reused, len(study.cells), worker)
        else:  # cells went missing since run_study looked
            with dask_client(workers, None) as own:
                used_workers = _n_workers(own)
                warm_workers(own, study.kind)
                t1 = time.perf_counter()
                outcomes = compute_cells(own, tasks, progress, reused, len(study.cells), worker)
        sweep_s = time.perf_counter() - t1
    wall = time.perf_counter() - t0
    computed, failed = len(outcomes), sum(o["status"] == "failed" for o in outcomes)
    compute_s = sum(float(o["compute_s"]) for o in outcomes)
    run = {"start_time": start, "end_time": now_iso(), "wall_s": wall, "workers": used_workers,
           "scheduler": where,
           "computed": computed, "reused": reused, "failed": failed, "compute_s": compute_s,
           "sweep_s": sweep_s}
    table = write_results(study, out, run)
    failures = pipeline.failures(table)
    return RunReport(table, computed, reused, failed, wall, compute_s, used_workers, sweep_s, failures,
                     outcomes)
