"""The report of a study kind's folder: the kind's panels and the shared tables, in the shared shell
(:mod:`genoffload.studies.report`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from genoffload.errors import InputError
from genoffload.studies.figures import Panel, omitted, to_png
from genoffload.studies.kind_base import ID_COLUMNS, StudyKind
from genoffload.studies.report_load import StudyData, read_metadata, read_results
from genoffload.studies.report_model import Report, Section
from genoffload.studies.report_tables import ERROR_CHARS, Table, fmt, metadata_table, study_texts

KIND_STEPS = ("reading the study folder", "figures", "tables")


def _read(path: Path, what: str) -> pl.DataFrame:
    try:
        return pl.read_parquet(path)
    except Exception as err:  # polars/arrow raise several types for a damaged file
        raise InputError(what, str(path), f"not a readable Parquet file ({type(err).__name__})") from None


def read_kind_folder(folder: Path) -> StudyData:
    """Read a kind's study folder (summary, curves, metadata, the results.nc layout)."""
    if not folder.is_dir():
        raise InputError("dir", str(folder), "no such folder")
    for name in ("summary.parquet", "metadata.json"):
        if not (folder / name).is_file():
            raise InputError("dir", str(folder), f"not a study folder: {name} is missing")
    summary = _read(folder / "summary.parquet", "summary.parquet")
    missing = [c for c in (*ID_COLUMNS, "status", "error") if c not in summary.columns]
    if missing:
        raise InputError("summary.parquet.columns", missing, "missing columns of the study results schema")
    notes: list[str] = []
    curves = None
    if (folder / "curves.parquet").is_file():
        curves = _read(folder / "curves.parquet", "curves.parquet")
    else:
        notes.append("curves.parquet is missing")
    results = read_results(folder / "results.nc") if (folder / "results.nc").is_file() else None
    if results is None:
        notes.append("results.nc is missing")
    return StudyData(folder, summary, curves, read_metadata(folder / "metadata.json"), results, notes)


def grid_of(summary: pl.DataFrame) -> list[str]:
    """The grid columns of a kind's summary (between ``seed`` and ``status``)."""
    cols = summary.columns
    return cols[cols.index("seed") + 1:cols.index("status")]


def metrics_of(summary: pl.DataFrame) -> list[str]:
    """The numeric metric columns of a kind's summary (after ``error``)."""
    cols = summary.columns
    return [c for c in cols[cols.index("error") + 1:] if summary.schema[c].is_numeric()]


def case_table(data: StudyData) -> Table:
    """Mean ± std over the seeds of every metric, per case (sweep and grid values)."""
    ok = data.summary.filter(pl.col("status") == "ok")
    grid, metrics = grid_of(data.summary), metrics_of(data.summary)
    keys = ["sweep", *grid]
    if ok.height == 0:
        frame = pl.DataFrame(schema=dict.fromkeys([*keys, "seeds"], pl.String))
        return Table("tbl-cases", "Metrics per case", "No cell finished.", frame)
    grouped = ok.group_by(keys, maintain_order=True).agg(
        pl.len().alias("n"), *[pl.col(m).cast(pl.Float64).mean().alias(f"{m}_mean") for m in metrics],
        *[pl.col(m).cast(pl.Float64).std().alias(f"{m}_std") for m in metrics])
    cols: dict[str, list[str]] = {k: [fmt(v) for v in grouped[k].to_list()] for k in keys}
    cols["seeds"] = [str(n) for n in grouped["n"].to_list()]
    for m in metrics:
        cols[m] = [fmt(a) if b is None or n < 2 else f"{fmt(a)} ± {fmt(b)}"
                   for a, b, n in zip(grouped[f"{m}_mean"], grouped[f"{m}_std"], grouped["n"], strict=True)]
    return Table("tbl-cases", "Metrics per case", "Mean ± standard deviation over the seeds of each case "
                 "(finished cells).", pl.DataFrame(cols), ("seeds", *metrics))


def kind_failures(data: StudyData) -> Table:
    """The failed cells and their errors."""
    failed = data.summary.filter(pl.col("status") == "failed")
    frame = failed.select(pl.col("cell_id").alias("cell"), pl.col("case_id").alias("case"), "sweep",
                          pl.col("seed").cast(pl.String),
                          pl.col("error").fill_null("(no message)").str.slice(0, ERROR_CHARS).alias("error"))
    n = data.summary.height
    caption = (f"{failed.height} of {n} cells failed; a failed cell records its error and the study goes on."
               if failed.height else f"No cell failed ({n} cells).")
    return Table("tbl-failures", "Failed cells", caption, frame, ("seed",))


def kind_panels(kind: StudyKind, data: StudyData) -> list[Panel]:
    """The kind's figures as report panels (a note when no cell finished or no panel is defined)."""
    ok = data.summary.filter(pl.col("status") == "ok")
    if kind.panels is None:
        return []
    if ok.height == 0:
        return [omitted("fig1", "Figures: none", "no cell finished")]
    curves = data.curves if data.curves is not None else pl.DataFrame()
    curves = curves.filter(pl.col("cell_id").is_in(ok["cell_id"].to_list())) if curves.height else curves
    panels = []
    for i, (title, fig) in enumerate(kind.panels(ok, curves), start=1):
        panels.append(Panel(f"fig{i}", title, f"{kind.name} study: {title}", to_png(fig)))
    return panels


def build_kind_report(kind: StudyKind, folder: Path, progress: Callable[[str], None]) -> Report:
    """The report of a kind's study folder."""
    progress(KIND_STEPS[0])
    data = read_kind_folder(folder)
    progress(KIND_STEPS[1])
    panels = kind_panels(kind, data)
    progress(KIND_STEPS[2])
    s = data.summary
    failed = s.filter(pl.col("status") == "failed").height
    facts = [("cells", str(s.height)), ("finished", str(s.filter(pl.col("status") == "ok").height)),
             ("failed", str(failed)), ("cases", str(s["case_id"].n_unique())),
             ("seeds", str(s["seed"].n_unique())), ("kind", kind.name)]
    meta: dict[str, Any] = data.metadata
    name = str(meta.get("study") or (s["study"][0] if s.height else folder.name))
    sections = [Section("figures-section", f"Figures of the {kind.name} study", panels,
                        ("figures", "Figures"), "figures")]
    return Report(name, str(meta.get("description") or ""), facts, data.notes, sections,
                  [case_table(data), kind_failures(data)], metadata_table(data), study_texts(meta))
