"""The study report on a real small study folder: HTML and Markdown content, panels omitted with
a note when the study has no data for them, values that match the results, determinism."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from report_fixture import fixture_study, subset_study
from typer.testing import CliRunner

from genoffload.cli.app import app
from genoffload.studies.report import build_report, render_html, write_report

PANELS = ("fig5a", "fig5b", "fig5c", "fig5d", "fig5e", "fig5f", "gap")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class ReportParser(HTMLParser):
    """Collects figures (id -> image bytes or note), tables (id -> rows), texts and resources."""

    def __init__(self) -> None:
        super().__init__()
        self.figures: dict[str, bytes | None] = {}
        self.notes: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.resources: list[str] = []  # every src/href value
        self.tags: set[str] = set()
        self.pre: list[str] = []
        self._figure: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._note: str | None = None
        self._in_pre = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        self.resources += [a[k] for k in ("src", "href") if k in a]
        if tag == "figure":
            self._figure = a["id"]
            self.figures[a["id"]] = None
        elif tag == "img" and self._figure:
            head, data = a["src"].split(",", 1)
            assert head == "data:image/png;base64"
            self.figures[self._figure] = base64.b64decode(data)
        elif tag == "p" and "note" in a.get("class", "") and "data-panel" in a:
            self._note = a["data-panel"]
            self.notes[self._note] = ""
        elif tag == "table":
            self._table = a["id"]
            self.tables[a["id"]] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "pre":
            self._in_pre = True
            self.pre.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._figure = None
        elif tag == "p":
            self._note = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "pre":
            self._in_pre = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._note:
            self.notes[self._note] += data
        if self._in_pre:
            self.pre[-1] += data


def parse(path: Path) -> ReportParser:
    parser = ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


@pytest.fixture(scope="module")
def full_html(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportParser]:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert write_report(fixture_study(), out) == [out]
    return out, parse(out)


def test_html_has_every_panel_as_an_embedded_png(full_html: tuple[Path, ReportParser]) -> None:
    _, doc = full_html
    assert set(doc.figures) == set(PANELS)
    for key, png in doc.figures.items():
        assert png is not None and png.startswith(PNG_SIGNATURE), key
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        assert width >= 400 and height >= 300, (key, width, height)
    assert doc.notes == {}


def test_html_is_self_contained(full_html: tuple[Path, ReportParser]) -> None:
    path, doc = full_html
    text = path.read_text(encoding="utf-8")
    assert "script" not in doc.tags and "link" not in doc.tags
    assert all(r.startswith(("data:image/png;base64,", "#")) for r in doc.resources), \
        [r[:40] for r in doc.resources if not r.startswith(("data:", "#"))]
    assert "<style>" in text and "@import" not in text and "url(" not in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not list(path.parent.glob(".*.tmp"))


def test_tables_match_the_summary(full_html: tuple[Path, ReportParser]) -> None:
    _, doc = full_html
    summary = pl.read_parquet(fixture_study() / "summary.parquet")
    ok = summary.filter(pl.col("status") == "ok")
    # per-policy summary: mean over cases per seed, then mean ± std over seeds
    rows = {r[0]: r for r in doc.tables["tbl-episode"][1:]}
    header = doc.tables["tbl-episode"][0]
    assert set(rows) == set(ok.filter(pl.col("mode") == "episode")["policy"].to_list())
    for label, row in rows.items():
        cells = ok.filter((pl.col("policy") == label) & (pl.col("mode") == "episode"))
        per_seed = np.array([cells.filter(pl.col("seed") == s)["mean_reward"].to_numpy().mean()
                             for s in (0, 1)])
        want = f"{np.mean(per_seed):.4g} ± {np.std(per_seed, ddof=1):.4g}"
        assert row[header.index("mean reward [s]")] == want, label
        assert row[header.index("cells")] == str(cells.height)
    snap = {r[0]: r for r in doc.tables["tbl-snapshot"][1:]}
    head = doc.tables["tbl-snapshot"][0]
    assert "gap total [%]" in head and "gap radio part [%]" in head
    assert snap["exact"][head.index("gap total [%]")].startswith("0 ±")
    # failed cells: every one listed with its error
    failed = summary.filter(pl.col("status") == "failed")
    assert failed.height > 0
    listed = doc.tables["tbl-failures"][1:]
    assert sorted(r[0] for r in listed) == sorted(failed["cell_id"].to_list())
    assert all("InfeasibleError" in r[-1] for r in listed)
    assert len(doc.tables["tbl-cases"]) - 1 == summary["case_id"].n_unique()
    meta = dict(r for r in doc.tables["tbl-metadata"][1:] if len(r) == 2)
    assert meta["study"] == "report-fixture" and meta["cells.failed"] == str(failed.height)
    assert any("[study]" in p and 'name = "report-fixture"' in p for p in doc.pre)


def test_every_axis_is_labelled_with_units(monkeypatch: pytest.MonkeyPatch) -> None:
    from genoffload.studies import figures, figures_sweeps

    labels: list[tuple[str, str, str]] = []
    render = figures.to_png

    def record(fig: Any) -> bytes:
        for ax in fig.axes:
            if ax.get_visible():
                labels.append((fig.axes[0].get_ylabel(), ax.get_xlabel(), ax.get_ylabel()))
        return render(fig)

    monkeypatch.setattr(figures, "to_png", record)
    monkeypatch.setattr(figures_sweeps, "to_png", record)
    build_report(fixture_study())
    assert len(labels) >= len(PANELS)
    counts = ("step", "users per cell", "policy", "solver")  # counts and categories: no unit
    for first, xlabel, ylabel in labels:
        assert xlabel in counts or re.search(r"\[[^\]]+\]$", xlabel), (first, xlabel)
        assert re.search(r"\[[^\]]+\]$", ylabel), (first, ylabel)


def test_markdown_report_with_png_files(tmp_path: Path) -> None:
    out = tmp_path / "site" / "study.md"
    written = write_report(fixture_study(), out)
    assert written[-1] == out and len(written) == 1 + len(PANELS)
    text = out.read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert images == [f"study-{k}.png" for k in PANELS]
    for name in images:
        assert (out.parent / name).read_bytes().startswith(PNG_SIGNATURE)
    assert "| policy | cells | seeds | mean reward [s]" in text
    assert "```toml\n[study]" in text
    assert sorted(p.name for p in out.parent.iterdir()) == sorted([*images, "study.md"])


def test_episode_only_study_omits_the_gap_with_a_note(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "episode", ["episode"])
    out = tmp_path / "r.html"
    write_report(folder, out)
    doc = parse(out)
    assert all(doc.figures[k] is not None for k in PANELS[:-1])
    assert doc.figures["gap"] is None
    assert doc.notes["gap"].startswith("no data for Optimality gap per policy: the study has no")
    assert "tbl-snapshot" not in doc.tables and "tbl-episode" in doc.tables


def test_snapshot_only_study_omits_the_episode_panels_with_a_note(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "snapshot", ["snapshot"])
    report = build_report(folder)
    drawn = {p.key for p in report.panels if p.png is not None}
    notes = {p.key: p.note for p in report.panels if p.png is None}
    assert drawn == {"fig5d", "gap"}  # the snapshot users sweep still gives delay vs users
    assert notes["fig5a"] == "no data for Fig. 5a: the study has no finished episode cells"
    assert notes["fig5e"] == "no data for Fig. 5e: the study has no token_mean sweep"
    assert notes["fig5f"] == "no data for Fig. 5f: the study has no quality_share sweep"
    doc_html = render_html(report)
    for key, note in notes.items():
        assert f'data-panel="{key}">{note}</p>' in doc_html


def test_same_folder_same_bytes(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "snapshot", ["snapshot"])
    assert render_html(build_report(folder)) == render_html(build_report(folder))


def test_cli_writes_the_report(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "study", ["snapshot"])
    res = CliRunner().invoke(app, ["report", str(folder)])
    assert res.exit_code == 0, res.output
    assert (folder / "report.html").is_file()
    assert "report: " in res.stdout and "report.html" in res.stdout
    res = CliRunner().invoke(app, ["report", str(folder), "--format", "md"])
    assert res.exit_code == 0, res.output
    assert (folder / "report.md").is_file() and (folder / "report-gap.png").is_file()


def test_all_cells_failed_gives_notes_and_the_failures(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "failed", ["snapshot"])
    frame = pl.read_parquet(folder / "summary.parquet")
    frame.with_columns(pl.lit("failed").alias("status"),
                       pl.lit("RuntimeError: worker lost").alias("error")).write_parquet(
        folder / "summary.parquet")
    report = build_report(folder)
    assert all(p.png is None and p.note and p.note.startswith("no data for ") for p in report.panels)
    tables = {t.key: t.frame for t in report.tables}
    assert set(tables) == {"tbl-failures", "tbl-cases"}
    assert tables["tbl-failures"].height == frame.height


def test_missing_curves_file_is_a_note(tmp_path: Path) -> None:
    folder = subset_study(tmp_path / "episode", ["episode"])
    (folder / "curves.parquet").unlink()
    report = build_report(folder)
    notes = {p.key: p.note for p in report.panels if p.png is None}
    assert notes["fig5a"] == "no data for Fig. 5a: curves.parquet is missing"
    assert {"fig5d", "fig5e", "fig5f"} <= {p.key for p in report.panels if p.png is not None}
    assert any("curves.parquet is missing" in n for n in report.notes)

