"""The catalog tables are read with the schema of ``attributes.csv`` (the one declaration of
their columns): types, required columns, defaults."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from genoffload.catalog import TYPES, attributes, columns, load_catalog
from genoffload.errors import InputError


@pytest.mark.parametrize("table", ["models", "services", "llm_configs", "devices"])
def test_every_shipped_table_has_exactly_the_declared_columns(table: str) -> None:
    text = (resources.files("genoffload.catalog") / f"{table}.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",") == list(columns(table))
    assert all(a.type in TYPES and a.description for a in attributes(table))


def test_load_catalog_uses_the_declared_types() -> None:
    cat = load_catalog()
    assert cat.models.schema == pl.Schema(columns("models"))
    assert cat.services.schema == pl.Schema(columns("services"))
    assert {a.name for a in attributes("models") if not a.required} == set()


def test_a_user_table_without_a_required_column_is_refused(tmp_path: Path) -> None:
    shipped = (resources.files("genoffload.catalog") / "models.csv").read_text(encoding="utf-8")
    frame = pl.read_csv(shipped.encode()).drop("tpot_s").head(1)
    path = tmp_path / "models.csv"
    frame.write_csv(path)
    with pytest.raises(InputError, match=r"^catalog\.models\.tpot_s: missing column"):
        load_catalog(extra_models=path)
