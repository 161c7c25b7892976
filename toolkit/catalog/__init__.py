"""LLM and service catalog: data tables with units and sources.

The tables live beside this module (``models.csv``, ``services.csv``); ``attributes.csv``
declares every column with its unit. Users add their own rows with :func:`load_catalog`
``extra_models=`` / ``extra_services=`` (CSV files with the same columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import polars as pl

from genoffload.errors import InputError

MODEL_COLUMNS = {
    "name": pl.Utf8,
    "kind": pl.Utf8,
    "unit": pl.Utf8,
    "ttft_s": pl.Float64,
    "tpot_s": pl.Float64,
    "quality_regular": pl.Float64,
    "quality_preferred": pl.Float64,
    "source": pl.Utf8,
    "date": pl.Utf8,
}
SERVICE_COLUMNS = {
    "name": pl.Utf8,
    "service_class": pl.Utf8,
    "modality": pl.Utf8,
    "unit": pl.Utf8,
    "mean_units": pl.Float64,
    "bytes_per_unit": pl.Float64,
    "description": pl.Utf8,
}
SERVICE_CLASSES = ("regular", "preferred")
MODALITY_OF_KIND = {"llm": "text", "image": "image", "audio": "audio", "video": "video"}


def _read(path: Path | str, columns: dict[str, type[pl.DataType]], what: str) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, schema_overrides=columns)
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise InputError(what, str(path), f"not a readable CSV table ({type(exc).__name__})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(f"{what}.{missing[0]}", str(path), "missing column")
    return df.select(list(columns))


def _check_models(df: pl.DataFrame) -> None:
    for row in df.iter_rows(named=True):
        where = f"catalog.models[{row['name']}]"
        if row["kind"] not in MODALITY_OF_KIND:
            raise InputError(f"{where}.kind", row["kind"], "must be llm, image, audio or video")
        for col in ("ttft_s", "tpot_s"):
            v = row[col]
            if v is None or not v >= 0:
                raise InputError(f"{where}.{col}", v, "must be a number >= 0")
        for col in ("quality_regular", "quality_preferred"):
            if row[col] is None:
                raise InputError(f"{where}.{col}", None, "missing quality index")
    dup = df.filter(pl.col("name").is_duplicated())["name"].to_list()
    if dup:
        raise InputError("catalog.models.name", dup[0], "duplicate model name")


@dataclass(frozen=True)
class Catalog:
    """The model and service tables (polars DataFrames)."""

    models: pl.DataFrame
    services: pl.DataFrame

    def model(self, name: str, field_name: str = "model") -> dict:
        """Return the catalog row of model ``name``; unknown names raise :class:`InputError`."""
        rows = self.models.filter(pl.col("name") == name)
        if rows.height == 0:
            known = ", ".join(self.models["name"].to_list())
            raise InputError(field_name, name, f"unknown model (known: {known})")
        return rows.row(0, named=True)

    def service(self, name: str, field_name: str = "service") -> dict:
        """Return the catalog row of service type ``name``."""
        rows = self.services.filter(pl.col("name") == name)
        if rows.height == 0:
            known = ", ".join(self.services["name"].to_list())
            raise InputError(field_name, name, f"unknown service type (known: {known})")
        return rows.row(0, named=True)


def load_catalog(
    extra_models: Path | str | None = None, extra_services: Path | str | None = None
) -> Catalog:
    """Load the shipped catalog, optionally extended (or overridden by name) with user tables.

    Parameters
    ----------
    extra_models, extra_services : path, optional
        CSV files with the columns of ``models.csv`` / ``services.csv``; a row whose name is
        already in the shipped table replaces it.
    """
    base = resources.files("genoffload.catalog")
    models = _read(str(base / "models.csv"), MODEL_COLUMNS, "catalog.models")
    services = _read(str(base / "services.csv"), SERVICE_COLUMNS, "catalog.services")
    if extra_models is not None:
        extra = _read(extra_models, MODEL_COLUMNS, "catalog.models")
        models = pl.concat([models.filter(~pl.col("name").is_in(extra["name"].to_list())), extra])
    if extra_services is not None:
        extra = _read(extra_services, SERVICE_COLUMNS, "catalog.services")
        services = pl.concat([services.filter(~pl.col("name").is_in(extra["name"].to_list())), extra])
    _check_models(models)
    bad = services.filter(~pl.col("service_class").is_in(list(SERVICE_CLASSES)))
    if bad.height:
        raise InputError(
            f"catalog.services[{bad['name'][0]}].service_class",
            bad["service_class"][0],
            "must be regular or preferred",
        )
    return Catalog(models=models, services=services)
