"""Shared CLI helpers: one-line errors with exit code 2, JSON output, atomic writes."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

import typer

from genoffload.errors import InputError
from genoffload.io import write_atomic as write_atomic
from genoffload.llm.deps import MissingDependencyError

if TYPE_CHECKING:
    from rich.console import Console

F = TypeVar("F", bound=Callable[..., Any])


def console() -> Console:
    """A rich console; wide enough for the tables when the output is not a terminal."""
    from rich.console import Console

    c = Console()
    return c if c.is_terminal else Console(width=140)


def fail(message: str) -> None:
    """Print one line to stderr and exit with code 2."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def user_errors(func: F) -> F:
    """Turn :class:`InputError` (bad input) into one line on stderr and exit code 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as err:
            fail(str(err))
        except MissingDependencyError as err:  # an optional extra is not installed
            fail(str(err))
        except OSError as err:  # e.g. an output path that cannot be written
            where = err.filename or "file"
            fail(f"{where}: {err.strerror or err}")

    return wrapper  # type: ignore[return-value]


def jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and non-finite floats into JSON-safe values."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    np = sys.modules.get("numpy")  # not imported (CLI start-up): no value is a NumPy one
    if np is not None and isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if np is not None and isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def print_json(payload: dict[str, Any]) -> None:
    """Write a JSON document to stdout."""
    sys.stdout.write(json.dumps(jsonable(payload), indent=2) + "\n")




def episode_table(stats: dict[str, Any], title: str, extra: list[tuple[str, str]] | None = None) -> Any:
    """Closing summary of an online episode (``genoffload.episode.summary`` keys) as a rich table.

    ``extra`` rows (label, value) go before the closing ``decisions/s`` row. Labels are escaped
    so that units such as ``[s]`` are not read as rich markup.
    """
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(title), show_header=False)
    rows = [("mean reward [s]", f"{stats['mean_reward']:.3f}"),
            ("optimal reward given the allocation, certified [s]", f"{stats['optimal_reward']:.3f}"),
            ("optimal reward, joint, certified [s]", f"{stats.get('joint_reward', float('nan')):.3f}"),
            ("regret: offloading decisions [s]", f"{stats['regret']:.3f}"),
            ("regret: radio allocation [s]", f"{stats.get('radio_regret', float('nan')):.3f}"),
            ("largest certified gap of a step [s]", f"{stats.get('max_gap', float('nan')):.2g}"),
            ("success rate", f"{stats['success_rate']:.1%}"),
            ("tail reward ratio (last 20 %)", f"{stats['tail_reward_ratio']:.1%}"),
            ("tail success rate", f"{stats['tail_success_rate']:.1%}"),
            *(extra or [("decisions", f"{stats['decisions']}")]),
            ("decisions/s", f"{stats['decisions_per_s']:.1f}")]
    for k, v in rows:
        table.add_row(escape(k), v)
    return table


def warn_unbindable(cfg: Any, where: str = "config") -> None:
    """Print ``warning: ...`` on stderr for each family of ``cfg`` that cannot bind (goes on)."""
    from genoffload.binding import unbindable

    for line in unbindable(cfg, where):
        sys.stderr.write(f"warning: {line}\n")
