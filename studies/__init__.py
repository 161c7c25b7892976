"""Declarative studies: TOML specs swept on Dask into NetCDF/Parquet results (issue 6).

``load_study(path_or_name)`` validates a study file (or a shipped one: ``paper``, ``gap``,
``demo``); ``run_study(study, DIR)`` computes its cells on Dask (resumable) and writes
``summary.parquet``, ``curves.parquet``, ``results.nc`` and ``metadata.json`` (see
``docs/studies.md``). The runner module (Dask) is imported on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from genoffload.studies.spec import (
    METRICS,
    SHIPPED,
    Case,
    Cell,
    PolicySpec,
    Study,
    load_study,
    parse_study,
)

if TYPE_CHECKING:
    from genoffload.studies.results import write_results
    from genoffload.studies.run import RunReport, open_study_folder, run_study

_LAZY = {"run_study": "run", "RunReport": "run", "open_study_folder": "run", "write_results": "results"}

__all__ = [
    "METRICS",
    "SHIPPED",
    "Case",
    "Cell",
    "PolicySpec",
    "RunReport",
    "Study",
    "load_study",
    "open_study_folder",
    "parse_study",
    "run_study",
    "write_results",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(f"genoffload.studies.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'genoffload.studies' has no attribute {name!r}")
