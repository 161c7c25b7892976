"""Study kinds: how a problem family plugs its studies into the shared study runner.

A study file selects its kind in ``[study] kind = "<name>"`` (default ``"offload"``: the
edge-cloud offloading studies, unchanged). A kind supplies

- ``base``: the pydantic schema of its ``[base]`` table; every ``[[sweep]]`` key is a field of it
  given as a list (each grid point is validated by the same schema);
- ``expand``: the cells of the study (default :func:`grid_cells`: the union of the sweeps, each the
  product of its lists, times the seeds; a cell = id + coords + params + seed);
- ``cell``: a module-level function run on a Dask worker, ``cell(params, seed) -> xarray.Dataset``;
  its 0-d data variables are the summary metrics (one column each in ``summary.parquet``), its 1-d
  variables along ``curve_dim`` the curves (``curves.parquet``);
- ``panels``: the report figures, ``panels(summary, curves) -> [(title, matplotlib Figure)]``.

Everything else is shared by every kind: the runner (Dask, resumable cell files, the folder lock,
progress), the result files (``summary.parquet``, ``curves.parquet``, ``results.nc``,
``metadata.json``), the report's HTML/Markdown shell and the CLI (``study check/run/show``,
``report``). The generic pipeline is :mod:`genoffload.studies.kind_generic`; the offloading kind
(its cells carry policies, modes and the certified references) brings its own pipeline object with
the same methods (:mod:`genoffload.studies.offload_kind`).

Kinds are registered lazily: :data:`KIND_MODULES` names the module of each shipped kind, imported
(and so registered) the first time the kind is asked for. A kind defined elsewhere (a test, a
plugin) calls :func:`register_kind` itself.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module, resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from genoffload.errors import InputError
from genoffload.io import load_toml, read_text
from genoffload.sizes import MAX_SEED

if TYPE_CHECKING:
    import polars as pl
    import xarray as xr
    from matplotlib.figure import Figure
    from pydantic import BaseModel

DEFAULT_KIND = "offload"
KIND_MODULES: dict[str, str] = {
    "offload": "genoffload.studies.offload_kind",
    "split": "genoffload.studies.split_study",
    "snake": "genoffload.studies.snake_study",
}
"""Module of each shipped kind; importing it registers the kind."""
SHIPPED_FIRST = ("paper", "gap", "demo")
"""Shipped study files listed first (the others follow in name order)."""

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

    def report(self, folder: Path, progress: Callable[[str], None]) -> Any:
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

    def runner(self) -> Pipeline:
        """The pipeline of this kind."""
        if self.pipeline is not None:
            return self.pipeline
        from genoffload.studies.kind_generic import GENERIC

        return GENERIC


_KINDS: dict[str, StudyKind] = {}


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


def register_kind(kind: StudyKind) -> StudyKind:
    """Register (or replace) a study kind; return it."""
    _KINDS[kind.name] = kind
    return kind


def get_kind(name: str, where: str = "study.kind") -> StudyKind:
    """The kind called ``name``, importing its module from :data:`KIND_MODULES` on first use.

    Raises
    ------
    InputError
        ``study.kind``: no such kind (the known ones listed).
    """
    if not isinstance(name, str):
        raise InputError(where, name, "must be a kind name (text)")
    if name not in _KINDS and name in KIND_MODULES:
        try:
            import_module(KIND_MODULES[name])
        except ModuleNotFoundError as err:  # a kind of a later issue, not written yet
            if err.name != KIND_MODULES[name]:
                raise
    if name not in _KINDS:
        raise InputError(where, name, f"unknown study kind (known: {', '.join(known_kinds())})")
    return _KINDS[name]


def known_kinds() -> list[str]:
    """Every kind that can be used now (registered, or whose module is there)."""
    import importlib.util

    names = set(_KINDS)
    for name, module in KIND_MODULES.items():
        try:
            if importlib.util.find_spec(module) is not None:
                names.add(name)
        except ModuleNotFoundError:
            pass
    return sorted(names, key=lambda n: (n != DEFAULT_KIND, n))


def kind_of(raw: dict[str, Any]) -> str:
    """The kind a parsed study file asks for (``[study] kind``, default ``offload``)."""
    study = raw.get("study")
    return study.get("kind", DEFAULT_KIND) if isinstance(study, dict) else DEFAULT_KIND


def parse_study(text: str, source: str = "<text>") -> Any:
    """Validate a study file's text into the study of its kind."""
    raw = load_toml(text, "study", source)
    kind = get_kind(kind_of(raw))
    return kind.runner().parse(kind, raw, text, source)


def shipped_studies() -> list[str]:
    """Names of the study files shipped with the package (``genoffload study run NAME``)."""
    stems = {p.name.removesuffix(".toml") for p in resources.files("genoffload.studies").iterdir()
             if p.name.endswith(".toml")}
    return [*[s for s in SHIPPED_FIRST if s in stems], *sorted(stems - set(SHIPPED_FIRST))]


def study_text(spec: str | Path) -> tuple[str, str]:
    """Read a study file, or a shipped study by name; return (text, source)."""
    path = Path(spec)
    if path.is_dir():
        raise InputError("spec", str(spec), "is a folder, expected a study file (TOML)")
    if path.is_file():
        return read_text(path, "spec", "study file"), str(path)
    shipped = shipped_studies()
    if str(spec) in shipped:
        res = resources.files("genoffload.studies") / f"{spec}.toml"
        return res.read_text(encoding="utf-8"), f"genoffload.studies/{spec}.toml"
    raise InputError("spec", str(spec), f"no such file, nor a shipped study ({', '.join(shipped)})")


def load_study(spec: str | Path) -> Any:
    """Load and validate a study file or a shipped study (``paper``, ``gap``, ``demo``, ...)."""
    text, source = study_text(spec)
    return parse_study(text, source)


def kind_of_study(study: Any) -> StudyKind:
    """The kind of a validated study."""
    return get_kind(getattr(study, "kind", DEFAULT_KIND))
