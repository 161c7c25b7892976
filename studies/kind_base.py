"""What every study kind is made of: :class:`StudyKind`, :class:`KindCell`, the :class:`Pipeline`
protocol, and the helpers every kind's parsing shares (ids, seeds, list lengths).

The registry of kinds and the study-file readers are in :mod:`genoffload.studies.kinds`; the
generic pipeline in :mod:`genoffload.studies.kind_generic`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genoffload.sizes import MAX_SEED

if TYPE_CHECKING:
    import polars as pl
    import xarray as xr
    from matplotlib.figure import Figure
    from pydantic import BaseModel

ID_COLUMNS = ("study", "kind", "cell_id", "case_id", "sweep", "seed")
"""The identifying columns of every kind's ``summary.parquet``."""

CellFunction = Callable[[dict[str, Any], int], "xr.Dataset"]
PanelFunction = Callable[["pl.DataFrame", "pl.DataFrame"], "list[tuple[str, Figure]]"]


@dataclass(frozen=True)
class KindCell:
    """One cell of a kind's study: the unit of work.

    Attributes
    ----------
    cell_id : str
        Hash of everything that determines the result (kind, params, seed).
    case_id : str
        Hash of the kind and the params (the cell without its seed).
    sweeps : tuple[str, ...]
        Names of the sweeps that produce the cell's case (``("base",)`` without sweeps).
    coords : dict
        The grid values of the cell (every key some sweep varies): the grid columns of the summary.
    params : dict
        Every field of the kind's ``base`` schema (JSON values): what ``cell`` receives.
    seed : int
    """

    cell_id: str
    case_id: str
    sweeps: tuple[str, ...]
    coords: dict[str, Any]
    params: dict[str, Any]
    seed: int


class Pipeline(Protocol):
    """What the shared runner, result writer, report and CLI ask of a kind."""

    def parse(self, kind: StudyKind, raw: dict[str, Any], text: str, source: str) -> Any:
        """The validated study (its ``cells`` each have a ``cell_id``)."""

    def task(self, study: Any, cell: Any, out_dir: Path) -> Any:
        """The plain-data task of a cell (pickled to a worker; ``cell_id``, ``case_id``, ``seed``,
        ``label``, ``out_dir``)."""

    def worker(self) -> Callable[[Any], dict[str, Any]]:
        """The module-level function a worker runs on a task (writes the cell file, never raises)."""

    def priority(self, study: Any, cell: Any) -> int:
        """Rough relative cost of a cell (longest first)."""

    def tables(self, study: Any, out_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
        """``summary.parquet`` and ``curves.parquet`` from the finished cells."""

    def dataset(self, study: Any, summary: pl.DataFrame) -> xr.Dataset:
        """``results.nc``: the metrics on the grid."""

    def report(self, kind: StudyKind, folder: Path, progress: Callable[[str], None]) -> Any:
        """The report (:class:`genoffload.studies.report.Report`) of a finished study folder."""

    def headline(self, study: Any) -> str:
        """The line ``study run`` prints first (cases, seeds, cells)."""

    def check_rows(self, study: Any) -> tuple[list[str], list[list[str]]]:
        """Columns and rows of ``study check``'s table."""

    def status_table(self, summary: pl.DataFrame, title: str) -> Any:
        """The rich table of ``study run`` / ``study show``."""

    def failures(self, summary: pl.DataFrame) -> list[dict[str, Any]]:
        """``cell_id``, ``policy``, ``seed``, ``error`` of every failed cell."""


@dataclass(frozen=True)
class StudyKind:
    """A problem family's study kind (see the module docstring).

    Attributes
    ----------
    name : str
        What ``[study] kind`` names.
    base : type[pydantic.BaseModel]
        Schema of ``[base]`` (``extra="forbid"`` recommended: an unknown key is then an error).
    cell : callable
        ``cell(params, seed) -> xarray.Dataset``, a module-level function (pickled by reference);
        only a kind with its own ``pipeline`` goes without.
    panels : callable
        ``panels(summary, curves) -> [(title, Figure)]`` from the ``ok`` cells' rows.
    expand : callable, optional
        ``expand(kind, base, sweeps, seeds) -> [KindCell]``; default :func:`grid_cells`.
    curve_dim : str or tuple of str
        The dimension(s) of the curve variables (1-d data variables along one of them) [name].
    description : str
        One line shown by ``study check``.
    pipeline : Pipeline, optional
        A kind's own pipeline (the offloading kind); default the generic one.
    """

    name: str
    base: type[BaseModel]
    cell: CellFunction | None = None
    panels: PanelFunction | None = None
    expand: Callable[..., list[KindCell]] | None = None
    curve_dim: str | tuple[str, ...] = "step"
    description: str = ""
    pipeline: Pipeline | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.cell is None and self.pipeline is None:
            raise TypeError(f"study kind {self.name!r} needs a cell function (or a pipeline of its own)")



def digest(obj: Any, n: int = 16) -> str:
    """Short SHA-256 of an object's canonical JSON [hex] (cell, case and spec ids of every kind)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def check_seeds(seeds: list[int]) -> list[int]:
    """The ``[study] seeds`` rule of every kind: unique, 0 <= seed <= 2**63 - 1."""
    if any(s < 0 for s in seeds):
        raise ValueError("seeds must be >= 0")
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be unique")
    if any(s > MAX_SEED for s in seeds):
        raise ValueError(f"seeds must be <= {MAX_SEED} (2**63 - 1)")
    return seeds


class StudyNames:
    """``name``, ``description`` and ``seeds`` of a validated study of any kind, from the
    ``[study]`` table of its file (``self.spec.study``)."""

    spec: Any

    @property
    def name(self) -> str:
        return str(self.spec.study.name)

    @property
    def description(self) -> str:
        return str(self.spec.study.description)

    @property
    def seeds(self) -> list[int]:
        return list(self.spec.study.seeds)


def list_length(value: Any) -> int:
    """How many values a raw study file's entry gives (a list: its length, at least 1; else 1)."""
    return max(len(value), 1) if isinstance(value, list) else 1


def upper_cases_seeds(raw: dict[str, Any], settings: tuple[str, ...] = ("name",)) -> tuple[int, int]:
    """Most cases (the sum over the sweeps of the product of their lists' lengths, the keys in
    ``settings`` left out) and the seeds of a raw study file, from its list lengths only (cheap,
    before any validation)."""
    study = raw.get("study")
    seeds = list_length(study.get("seeds", [0])) if isinstance(study, dict) else 1
    sweeps = raw.get("sweep")
    cases = 1
    if isinstance(sweeps, list) and sweeps:
        cases = sum(math.prod(list_length(v) for k, v in sweep.items() if k not in settings)
                    if isinstance(sweep, dict) else 1 for sweep in sweeps)
    return cases, seeds
