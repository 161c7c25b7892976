"""Declarative studies: TOML specs swept on Dask into NetCDF/Parquet results (issue 6).

``load_study(path_or_name)`` validates a study file (or a shipped one: ``paper``, ``gap``,
``demo``, ``state``, ...) of any study kind (:mod:`genoffload.studies.kinds`; ``[study] kind``,
default ``offload``); ``run_study(study, DIR)`` computes its cells on Dask (resumable) and writes
``summary.parquet``, ``curves.parquet``, ``results.nc`` and ``metadata.json`` (see
``docs/studies.md``). The runner module (Dask) is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from genoffload.studies.kinds import (
    KindCell,
    StudyKind,
    get_kind,
    load_study,
    parse_study,
    register_kind,
    shipped_studies,
)
from genoffload.studies.spec import METRICS, Case, Cell, PolicySpec, Study

if TYPE_CHECKING:
    from genoffload.studies.results import write_results
    from genoffload.studies.run import RunReport, open_study_folder, run_study

_LAZY = {"run_study": "run", "RunReport": "run", "open_study_folder": "run", "write_results": "results"}

__all__ = [
    "METRICS",
    "SHIPPED",
    "Case",
    "Cell",
    "KindCell",
    "PolicySpec",
    "RunReport",
    "Study",
    "StudyKind",
    "get_kind",
    "load_study",
    "open_study_folder",
    "parse_study",
    "register_kind",
    "run_study",
    "shipped_studies",
    "write_results",
]


def __getattr__(name: str) -> Any:
    if name == "SHIPPED":  # the study files in the package, listed when asked for
        return tuple(shipped_studies())
    if name in _LAZY:
        return getattr(import_module(f"genoffload.studies.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'genoffload.studies' has no attribute {name!r}")
