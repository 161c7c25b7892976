"""Size guards: the memory a scenario or a study will take, estimated from its sizes, and the
limits checked before anything is allocated (docs/robustness.md).

Every check raises :class:`~genoffload.errors.InputError` naming the field that makes the input
too large and the value given. The estimates are upper bounds of the peak memory of
:func:`genoffload.scenario.generate` (measured, see :data:`BYTES_PER_LINK_RB`,
:data:`BYTES_PER_TASK`); the exact solver's own limit is in ``genoffload.models``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from genoffload.errors import InputError

DEFAULT_MAX_MEMORY_GB = 4.0
"""Largest memory one scenario may take [GB] unless ``GENOFFLOAD_MAX_MEMORY_GB`` says otherwise."""
MEMORY_ENV = "GENOFFLOAD_MAX_MEMORY_GB"
FREE_SHARE = 0.8
"""Share of the machine's available memory one scenario may take [1]."""
BYTES_PER_LINK_RB = 24
"""Peak bytes of :func:`~genoffload.scenario.generate` per (user, site, RB): the fading and gain
float64 arrays (measured with ``tracemalloc``: 16 B)."""
BYTES_PER_USER_RB = 48
"""Peak bytes per (user, RB): SINR and rate arrays, the allocations of the schedulers (measured
with ``tracemalloc``: 32 B)."""
BYTES_PER_TASK = 1200
"""Peak bytes per task: the task columns and model parameters (object and float arrays), the
evaluator's per-task results and the output tables (measured: 275 B generating, 150 B
evaluating; the rest is the margin of the Parquet/JSON output)."""
BYTES_PER_JSON_BYTE = 50
"""Peak bytes per byte of a JSON scenario file while it is parsed and validated [B/B]
(measured: 38 for a 2 MB rate table)."""
BYTES_PER_SOLVE_VARIABLE = 10_000
"""Peak bytes of the exact solve (Pyomo model and HiGHS) per binary RB variable ``z[k, q]`` of a
user with tasks (measured: 8.6 kB at 60 users x 240 RBs, RSS)."""
BYTES_PER_DECISION = 400
"""Bytes per decision of an online episode: its records (``run_episode``: about 15 float and text
columns) and the policy's history [B]."""
BYTES_PER_CURVE_STEP = 150
"""Bytes per (episode cell, step) of a study's ``curves.parquet`` while it is aggregated [B]."""
MAX_TEXT_BYTES = 64 * 2**20
"""Largest config or study file [B] (a study of 10**6 seeds is 6.9 MB)."""
MAX_STUDY_CELLS = 200_000
"""Most cells (case x policy x seed) of one study: each is a file and a Dask task."""
WORKERS_PER_CORE = 4
"""Local Dask worker processes per CPU core (``study run --workers``): more are capped."""
WORKER_BYTES = 512 * 2**20
"""Memory a local worker process needs [B] (Python, numpy, xarray, the solver; 250-400 MB)."""
MAX_SEED = 2**63 - 1
"""Largest seed: seeds are stored as signed 64-bit NetCDF attributes."""


def memory_limit(machine: bool = True) -> int:
    """Largest memory one scenario may take [B]: the documented limit (``GENOFFLOAD_MAX_MEMORY_GB``,
    default :data:`DEFAULT_MAX_MEMORY_GB`), and with ``machine`` at most :data:`FREE_SHARE` of
    the memory available now."""
    raw = os.environ.get(MEMORY_ENV, "")
    try:
        gb = float(raw) if raw.strip() else DEFAULT_MAX_MEMORY_GB
    except ValueError:
        raise InputError(MEMORY_ENV, raw, "must be a number of GB") from None
    if not gb > 0 or not math.isfinite(gb):
        raise InputError(MEMORY_ENV, raw, "must be a number of GB > 0")
    limit = int(gb * 1e9)
    if machine:
        limit = min(limit, int(FREE_SHARE * available_memory()))
    return limit


def available_memory() -> int:
    """Memory available to a new allocation now [B] (``psutil``; ``MemAvailable`` on Linux)."""
    import psutil

    return int(psutil.virtual_memory().available)


def scenario_bytes(users: int, sites: int, rbs: int, tasks: int) -> dict[str, int]:
    """Estimated peak memory of generating and evaluating a scenario, by part [B].

    Parameters
    ----------
    users : int
        Users in total (all cells).
    sites : int
        Sites (cells); 1 for an explicit scenario (its rates are given per user).
    rbs : int
        Resource blocks.
    tasks : int
        Tasks (the most a config can draw).

    Returns
    -------
    dict
        ``links`` (per user, site and RB), ``rates`` (per user and RB), ``tasks``.
    """
    return {"links": users * sites * rbs * BYTES_PER_LINK_RB, "rates": users * rbs * BYTES_PER_USER_RB,
            "tasks": tasks * BYTES_PER_TASK}


def _gb(n: float) -> str:
    return f"{n / 1e9:.3g} GB"


def check_scenario_size(users: int, sites: int, rbs: int, tasks: int, fields: dict[str, tuple[str, object]],
                        machine: bool = True) -> None:
    """Refuse a scenario whose estimated memory exceeds :func:`memory_limit`.

    ``fields`` maps ``users``, ``rbs`` and ``tasks`` to (dotted field, value given): the error
    names the field of the largest part (tasks, or the larger of users and RBs).

    Raises
    ------
    InputError
    """
    parts = scenario_bytes(users, sites, rbs, tasks)
    total = sum(parts.values())
    limit = memory_limit(machine)
    if total <= limit:
        return
    if parts["tasks"] >= parts["links"] + parts["rates"]:
        key = "tasks"
    else:
        key = "rbs" if rbs >= users else "users"
    field, value = fields[key]
    which = f"{FREE_SHARE:.0%} of the memory available now" if limit < memory_limit(False) else "the limit"
    raise InputError(field, value, f"scenario too large: {users} users x {rbs} RBs x {sites} sites, up to "
                     f"{tasks} tasks need about {_gb(total)}, more than {which} ({_gb(limit)}; "
                     f"{MEMORY_ENV}, docs/robustness.md)")


def check_solve_size(users_with_tasks: int, rbs: int, field: str = "scenario", value: object = None) -> None:
    """Refuse an exact solve whose model would exceed :func:`memory_limit` (CLI ``solve``; the
    solver's own size limit is in ``genoffload.models``)."""
    need = users_with_tasks * rbs * BYTES_PER_SOLVE_VARIABLE
    limit = memory_limit()
    if need > limit:
        raise InputError(field, value, f"too large to solve exactly: {users_with_tasks} users with tasks x "
                         f"{rbs} RBs need about {_gb(need)}, more than {_gb(limit)} ({MEMORY_ENV}, "
                         "docs/robustness.md)")


def check_file_size(path: Path, field: str) -> None:
    """Refuse a JSON input whose parsing would exceed :func:`memory_limit`."""
    size = path.stat().st_size
    need = size * BYTES_PER_JSON_BYTE
    limit = memory_limit()
    if need > limit:
        raise InputError(field, str(path), f"file too large to parse ({_gb(size)} of JSON need about "
                         f"{_gb(need)}, more than {_gb(limit)}; use NetCDF for large scenarios)")


def check_episode_size(steps: int, users: int, arrival_prob: float, field: str = "steps") -> None:
    """Refuse an online episode whose records would exceed :func:`memory_limit`: ``steps`` runner
    steps of ``users`` users each requesting with ``arrival_prob`` (at least one decision a step)."""
    decisions = steps * max(1.0, users * arrival_prob)
    need = decisions * BYTES_PER_DECISION
    limit = memory_limit()
    if need > limit:
        raise InputError(field, steps, f"episode too large: about {decisions:.3g} decisions need "
                         f"{_gb(need)}, more than {_gb(limit)} ({MEMORY_ENV}, docs/robustness.md)")


def check_study_curves(episode_steps: int, field: str, value: object) -> None:
    """Refuse a study whose curves (episode cells x steps rows) would exceed the documented limit."""
    need = episode_steps * BYTES_PER_CURVE_STEP
    limit = memory_limit(machine=False)
    if need > limit:
        raise InputError(field, value, f"study too large: {episode_steps} episode steps over all cells "
                         f"need about {_gb(need)} to aggregate, more than {_gb(limit)} ({MEMORY_ENV})")


def check_study_size(cells: int, field: str, value: object) -> None:
    """Refuse a study of more than :data:`MAX_STUDY_CELLS` cells (before the cells are built)."""
    if cells > MAX_STUDY_CELLS:
        raise InputError(field, value, f"study too large: {cells} cells (cases x policies x seeds), "
                         f"more than {MAX_STUDY_CELLS} (docs/robustness.md); split it into several studies")


def cap_workers(workers: int) -> tuple[int, str | None]:
    """Local worker processes to start for ``workers`` asked: at most :data:`WORKERS_PER_CORE` per
    core and as many as :data:`WORKER_BYTES` fit in the available memory; a warning if capped."""
    cores = os.cpu_count() or 1
    cap = max(1, min(WORKERS_PER_CORE * cores, available_memory() // WORKER_BYTES))
    if workers <= cap:
        return workers, None
    return cap, (f"--workers {workers} capped at {cap} ({WORKERS_PER_CORE} per core on {cores} cores, "
                 f"{WORKER_BYTES // 2**20} MB each; docs/robustness.md)")


def check_seed(seed: int, field: str = "seed") -> int:
    """A seed must be in ``0..MAX_SEED``."""
    if not 0 <= seed <= MAX_SEED:
        raise InputError(field, seed, f"must be in 0..{MAX_SEED} (2**63 - 1)")
    return seed
