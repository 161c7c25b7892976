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

from importlib import import_module, resources
from pathlib import Path
from typing import Any

from genoffload.errors import InputError
from genoffload.io import load_toml, read_text
from genoffload.studies.kind_base import (
    ID_COLUMNS,
    CellFunction,
    KindCell,
    PanelFunction,
    Pipeline,
    StudyKind,
    StudyNames,
    check_seeds,
    digest,
    list_length,
    upper_cases_seeds,
)
from genoffload.studies.kind_generic import GENERIC

__all__ = ["DEFAULT_KIND", "ID_COLUMNS", "KIND_MODULES", "CellFunction", "KindCell", "PanelFunction",
           "Pipeline", "StudyKind", "StudyNames", "check_seeds", "digest", "get_kind", "kind_of_study",
           "list_length", "load_study", "parse_study", "pipeline_of", "register_kind", "shipped_studies",
           "upper_cases_seeds"]

DEFAULT_KIND = "offload"
KIND_MODULES: dict[str, str] = {
    "offload": "genoffload.studies.offload_kind",
    "split": "genoffload.studies.split_study",
    "snake": "genoffload.studies.snake_study",
}
"""Module of each shipped kind; importing it registers the kind."""
SHIPPED_FIRST = ("paper", "gap", "demo")
"""Shipped study files listed first (the others follow in name order)."""

_KINDS: dict[str, StudyKind] = {}


def pipeline_of(kind: StudyKind) -> Pipeline:
    """The pipeline of a kind: its own, else the generic one."""
    return kind.pipeline if kind.pipeline is not None else GENERIC


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
    return pipeline_of(kind).parse(kind, raw, text, source)


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
