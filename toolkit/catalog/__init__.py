"""LLM and service catalog: data tables with units and sources.

The tables live beside this module (``models.csv``, ``services.csv``); ``attributes.csv``
declares every column of every table (type, unit, default, whether it is required, meaning) and
is the schema they are read with (:func:`attributes`, :func:`columns`). Users add their own rows
with :func:`load_catalog` ``extra_models=`` / ``extra_services=`` (CSV files with the same columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import polars as pl

from genoffload.errors import InputError

TYPES: dict[str, type[pl.DataType]] = {"str": pl.Utf8, "float": pl.Float64, "int": pl.Int64,
                                       "bool": pl.Boolean}
"""Polars type of each ``type`` word of ``attributes.csv``."""


@dataclass(frozen=True)
class Attribute:
    """One column of a catalog table, as ``attributes.csv`` declares it.

    Attributes
    ----------
    table : str
        ``models``, ``services``, ``llm_configs`` or ``devices``.
    name : str
        Column name.
    type : str
        ``str``, ``float``, ``int`` or ``bool`` (see :data:`TYPES`).
    unit : str
        Unit of the values (empty: none or text).
    default : str
        Value of a missing column or an empty cell, as text (empty: no default).
    required : bool
        Whether a table without the column is refused.
    description : str
    """

    table: str
    name: str
    type: str
    unit: str
    default: str
    required: bool
    description: str


@cache
def _attributes() -> tuple[Attribute, ...]:
    text = (resources.files("genoffload.catalog") / "attributes.csv").read_text(encoding="utf-8")
    frame = pl.read_csv(text.encode(), infer_schema_length=0)  # every column as text
    out = []
    for row in frame.iter_rows(named=True):
        kind = row["type"]
        if kind not in TYPES:  # a shipped-file error, not user input
            raise ValueError(f"attributes.csv: {row['table']}.{row['attribute']} has unknown type {kind!r}")
        out.append(Attribute(row["table"], row["attribute"], kind, row["unit"] or "", row["default"] or "",
                             row["required"] == "true", row["description"] or ""))
    return tuple(out)


def attributes(table: str) -> list[Attribute]:
    """The declared columns of a catalog table, in order (``attributes.csv``)."""
    return [a for a in _attributes() if a.table == table]


def columns(table: str) -> dict[str, type[pl.DataType]]:
    """Column name → polars type of a catalog table (``attributes.csv``)."""
    return {a.name: TYPES[a.type] for a in attributes(table)}


SERVICE_CLASSES = ("regular", "preferred")
MODALITY_OF_KIND = {"llm": "text", "image": "image", "audio": "audio", "video": "video"}


def _read(path: Path | str, table: str, what: str) -> pl.DataFrame:
    """A catalog table read with its schema: required columns checked, defaults filled in."""
    schema = attributes(table)
    types = {a.name: TYPES[a.type] for a in schema}
    try:
        df = pl.read_csv(path, schema_overrides=types)
    except Exception as exc:  # polars raises several error types for malformed CSV
        raise InputError(what, str(path), f"not a readable CSV table ({type(exc).__name__})") from None
    missing = [a.name for a in schema if a.required and a.name not in df.columns]
    if missing:
        raise InputError(f"{what}.{missing[0]}", str(path), "missing column")
    for a in schema:
        default = pl.lit(a.default or None).cast(types[a.name])
        if a.name not in df.columns:
            df = df.with_columns(default.alias(a.name))
        elif a.default:
            df = df.with_columns(pl.col(a.name).fill_null(default))
    return df.select(list(types))


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
    models = _read(str(base / "models.csv"), "models", "catalog.models")
    services = _read(str(base / "services.csv"), "services", "catalog.services")
    if extra_models is not None:
        extra = _read(extra_models, "models", "catalog.models")
        models = pl.concat([models.filter(~pl.col("name").is_in(extra["name"].to_list())), extra])
    if extra_services is not None:
        extra = _read(extra_services, "services", "catalog.services")
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
