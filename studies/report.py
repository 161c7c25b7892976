"""The study report: a finished study folder as one self-contained HTML file or Markdown + PNG.

``build_report(folder)`` reads the folder (:mod:`genoffload.studies.report_load`), draws the
paper's Fig. 5 panels and the optimality-gap figure (:mod:`~genoffload.studies.figures`,
:mod:`~genoffload.studies.figures_sweeps`) and the tables (:mod:`~genoffload.studies.report_tables`).
``write_report(folder, output, fmt)`` renders it and writes it atomically: HTML with the figures
embedded as base64 PNG and the CSS inline (no script, font or image from the network; a
Content-Security-Policy forbids any), or Markdown with the PNG files next to it.
"""

from __future__ import annotations

import base64
import html
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from genoffload import __version__
from genoffload.errors import InputError
from genoffload.io import check_output, write_atomic
from genoffload.studies.figures import Panel, convergence_panels, policy_colors, policy_order
from genoffload.studies.figures_families import family_panels, family_table
from genoffload.studies.figures_sweeps import gap_panel, sweep_panels
from genoffload.studies.report_load import StudyData, read_metadata, read_study_folder
from genoffload.studies.report_model import Report, Section
from genoffload.studies.report_tables import (
    Table,
    cases_table,
    failures_table,
    metadata_table,
    policy_summary,
    study_texts,
    to_html,
    to_markdown,
)

FORMATS = ("html", "md")
STEPS = ("reading the study folder", "Fig. 5a-c", "Fig. 5d-f", "optimality gap", "tables", "writing")
Progress = Callable[[str], None]
CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
color:#1d2430;background:#fafbfc;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:1.5rem 2rem 4rem}
h1{font-size:1.7rem;margin:.2rem 0}h2{border-bottom:2px solid #d5dbe3;padding-bottom:.2rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin:.2rem 0 .5rem}
.lead{color:#4a5568;margin:.2rem 0 1rem}
nav{background:#eef2f7;border-radius:6px;padding:.5rem 1rem;font-size:.92rem}
nav a{margin-right:1.1rem;color:#1f4e8c;text-decoration:none}
.facts{display:flex;flex-wrap:wrap;gap:.6rem;margin:.8rem 0}
.fact{background:#fff;border:1px solid #d5dbe3;border-radius:6px;padding:.4rem .8rem}
.fact b{display:block;font-size:1.25rem}
figure.panel{background:#fff;border:1px solid #d5dbe3;border-radius:6px;margin:1rem 0;padding:.8rem 1rem}
figure.panel img{max-width:100%;height:auto;display:block;margin:0 auto}
figcaption{font-size:.88rem;color:#4a5568;margin-top:.4rem}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem;margin:.4rem 0;font-size:.92rem}
.tablewrap{overflow-x:auto;max-width:100%;margin:.5rem 0 1rem}
table{border-collapse:collapse;background:#fff;font-size:.85rem}
.sd{color:#6b7686;font-size:.78rem}
th,td{border:1px solid #d5dbe3;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eef2f7}td.num{text-align:right;white-space:nowrap}
pre{background:#fff;border:1px solid #d5dbe3;border-radius:6px;padding:.8rem;overflow-x:auto;font-size:.82rem}
.caption{font-size:.88rem;color:#4a5568}
"""
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _facts(data: StudyData) -> list[tuple[str, str]]:
    s = data.summary
    failed = s.filter(pl.col("status") == "failed").height
    modes = ", ".join(sorted(s["mode"].unique().to_list()))
    return [("cells", str(s.height)), ("finished", str(s.height - failed)), ("failed", str(failed)),
            ("cases", str(s["case_id"].n_unique())), ("policies", str(s["policy"].n_unique())),
            ("seeds", str(s["seed"].n_unique())), ("mode", modes)]


def build_report(folder: Path | str, progress: Progress | None = None) -> Report:
    """Read a study folder and build every figure and table of its report (through its kind).

    Parameters
    ----------
    folder : Path or str
        A folder written by ``genoffload study run``.
    progress : callable, optional
        Called with the name of each step (:data:`STEPS` for an offloading study) as it starts.

    Raises
    ------
    InputError
        Missing folder, not a study folder, damaged or schema-violating files.
    """
    from genoffload.studies.kinds import DEFAULT_KIND, get_kind, pipeline_of

    path = Path(folder)
    meta = path / "metadata.json"
    kind = DEFAULT_KIND
    if path.is_dir() and meta.is_file():
        kind = str(read_metadata(meta).get("kind", DEFAULT_KIND))
    definition = get_kind(kind, "metadata.json.kind")
    return pipeline_of(definition).report(definition, path, progress or (lambda _s: None))


def build_offload_report(folder: Path | str, progress: Progress | None = None) -> Report:
    """The report of an offloading study folder: Fig. 5, the optimality gap, the tables."""
    tick = progress or (lambda _step: None)
    tick(STEPS[0])
    data = read_study_folder(folder)
    colors = policy_colors(policy_order(data.summary))
    tick(STEPS[1])
    fig5 = convergence_panels(data, colors)
    tick(STEPS[2])
    fig5 += sweep_panels(data, colors)
    fig5 += family_panels(data, colors)  # issue 11: per constraint family vs certified optimum
    tick(STEPS[3])
    gap = gap_panel(data, colors)
    tick(STEPS[4])
    tables = [t for t in (policy_summary(data, "episode"), policy_summary(data, "snapshot"))
              if t is not None]
    tables += [t for t in (family_table(data),) if t is not None]
    tables += [failures_table(data), cases_table(data)]
    meta = data.metadata
    name = str(meta.get("study") or meta.get("name") or data.summary["study"][0])
    description = str(meta.get("description") or "")
    sections = [Section("fig5-section", "The paper's Fig. 5, reproduced", fig5, ("fig5", "Fig. 5"), "fig5"),
                Section("gap-section", "Optimality gap: every policy against the certified optimum", [gap],
                        ("gap", "Optimality gap"))]
    return Report(name, description, _facts(data), data.notes, sections, tables,
                  metadata_table(data), study_texts(meta))


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG image [px] (from its IHDR chunk)."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def _pretty(key: str) -> str:
    """A metadata key as a heading: ``study_file`` -> ``Study file``."""
    return key.replace("_", " ").replace(".", ": ").capitalize()


def _panel_html(panel: Panel) -> str:
    title = html.escape(panel.title)
    if panel.png is None:
        return (f'<figure class="panel omitted" id="{panel.key}"><h3>{title}</h3>'
                f'<p class="note" data-panel="{panel.key}">{html.escape(panel.note or "")}</p></figure>')
    w, h = png_size(panel.png)
    src = "data:image/png;base64," + base64.b64encode(panel.png).decode("ascii")
    return (f'<figure class="panel" id="{panel.key}"><h3>{title}</h3>'
            f'<img src="{src}" alt="{title}" width="{w}" height="{h}">'
            f"<figcaption>{html.escape(panel.caption)}</figcaption></figure>")


def _table_html(table: Table) -> str:
    body = to_html(table) if table.frame.height else ""
    return (f"<h3>{html.escape(table.title)}</h3><p class=caption>{html.escape(table.caption)}</p>"
            + body)


def _section_html(section: Section) -> str:
    heading_id = f' id="{html.escape(section.heading_id)}"' if section.heading_id else ""
    panels = "".join(_panel_html(p) for p in section.panels)
    return (f'<section id="{html.escape(section.section_id)}"><h2{heading_id}>'
            f"{html.escape(section.heading, quote=False)}</h2>\n{panels}</section>\n")


def render_html(report: Report) -> str:
    """The report as one self-contained HTML document."""
    esc = html.escape
    facts = "".join(f'<div class="fact"><b>{esc(v)}</b>{esc(k)}</div>' for k, v in report.facts)
    notes = "".join(f'<p class="note">{esc(n)}</p>' for n in report.notes)
    texts = "".join(f'<h3>{esc(_pretty(k))}</h3><pre data-key="{esc(k)}">{esc(t)}</pre>'
                    for k, t in report.texts)
    desc = f"<p class=lead>{esc(report.description)}</p>" if report.description else ""
    nav = "".join(f'<a href="#{esc(s.nav[0])}">{esc(s.nav[1])}</a>' for s in report.sections)
    sections = "".join(_section_html(s) for s in report.sections)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="genoffload {esc(__version__)}">
<title>Study report: {esc(report.name)}</title>
<style>{CSS}</style></head>
<body><main>
<header><h1>Study report: {esc(report.name)}</h1>{desc}
<p class=lead>Generated by genoffload {esc(__version__)} (<code>genoffload report</code>).</p></header>
<nav><a href="#overview">Overview</a>{nav}
<a href="#tables">Tables</a><a href="#metadata">Metadata</a></nav>
<section id="overview"><h2>Overview</h2><div class="facts">{facts}</div>{notes}</section>
{sections}<section id="tables"><h2>Tables</h2>{"".join(_table_html(t) for t in report.tables)}</section>
<section id="metadata"><h2>Metadata</h2>{_table_html(report.metadata)}{texts}</section>
</main></body></html>
"""


def image_names(stem: str, report: Report) -> dict[str, str]:
    """File names of the PNG files of a Markdown report (``STEM-fig5a.png``...)."""
    return {p.key: f"{stem}-{p.key}.png" for p in report.panels if p.png is not None}


def _panel_md(panel: Panel, names: dict[str, str]) -> str:
    if panel.png is None:
        return f"### {panel.title}\n\n> {panel.note}\n"
    return f"### {panel.title}\n\n![{panel.title}]({names[panel.key]})\n\n*{panel.caption}*\n"


def _table_md(table: Table) -> str:
    body = "\n\n" + to_markdown(table) if table.frame.height else ""
    return f"### {table.title}\n\n{table.caption}{body}\n"


def render_markdown(report: Report, names: dict[str, str]) -> str:
    """The report as Markdown referring to the PNG files ``names`` (panel key -> file name)."""
    parts = [f"# Study report: {report.name}\n"]
    if report.description:  # escaped as in the HTML report: raw HTML is shown, not inlined
        parts.append(html.escape(report.description, quote=False) + "\n")
    parts.append(f"Generated by genoffload {__version__} (`genoffload report`).\n")
    parts.append("## Overview\n\n" + " · ".join(f"**{v}** {k}" for k, v in report.facts) + "\n")
    parts += [f"> {html.escape(n, quote=False)}\n" for n in report.notes]
    for section in report.sections:
        parts.append(f"## {section.heading}\n")
        parts += [_panel_md(p, names) for p in section.panels]
    parts.append("## Tables\n")
    parts += [_table_md(t) for t in report.tables]
    parts.append("## Metadata\n")
    parts.append(_table_md(report.metadata))
    for key, text in report.texts:
        fence = "````" if "```" in text else "```"
        parts.append(f"### {_pretty(key)}\n\n{fence}toml\n{text.rstrip()}\n{fence}\n")
    return "\n".join(parts)


def resolve_format(fmt: str | None, output: Path) -> str:
    """The output format: ``fmt`` if given, else from the suffix of ``output`` (``.md`` -> md)."""
    if fmt is None:
        return "md" if output.suffix.lower() in (".md", ".markdown") else "html"
    value = fmt.strip().lower()
    if value not in FORMATS:
        raise InputError("format", fmt, "must be html or md")
    return value


def _write_bytes(path: Path, payload: bytes) -> Path:
    return write_atomic(path, lambda tmp: tmp.write_bytes(payload))


def write_report(folder: Path | str, output: Path | str, fmt: str | None = None,
                 progress: Progress | None = None) -> list[Path]:
    """Build the report of a study folder and write it.

    Parameters
    ----------
    folder : Path or str
        The study folder.
    output : Path or str
        The report file (``report.html``, or ``report.md`` whose PNG files go next to it).
    fmt : {'html', 'md'}, optional
        Output format; default from the suffix of ``output`` (``.md``: md, else html).
    progress : callable, optional
        Called with the name of each step as it starts.

    Returns
    -------
    list[Path]
        The files written (the report last).

    Raises
    ------
    InputError
        Bad folder or files, unknown format, an output that cannot be written. Nothing is
        written then: every file is written atomically, the report file last, and PNG files
        already written by this call are removed when a later write fails.
    """
    out = Path(output)
    kind = resolve_format(fmt, out)
    check_output(out, "output")  # a folder, an unwritable place, a file of the study folder
    report = build_report(folder, progress)
    (progress or (lambda _s: None))(STEPS[-1])
    written: list[Path] = []
    target = out
    try:
        if kind == "html":
            text = render_html(report)
        else:
            names = image_names(out.stem, report)
            for panel in report.panels:
                if panel.png is not None:
                    target = out.parent / names[panel.key]
                    written.append(_write_bytes(target, panel.png))
            text = render_markdown(report, names)
        target = out
        written.append(write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8")))
    except (OSError, InputError) as err:
        for path in written:  # the PNG files written by this call (the report is not there yet)
            path.unlink(missing_ok=True)
        reason = err.reason if isinstance(err, InputError) else err.strerror or str(err)
        raise InputError("output", str(target), f"cannot be written ({reason})") from None
    return written


def report_summary(report: Report) -> dict[str, Any]:
    """What the report holds: panels drawn and omitted (with notes), tables and their rows."""
    return {"panels": [p.key for p in report.panels if p.png is not None],
            "omitted": {p.key: p.note for p in report.panels if p.png is None},
            "tables": {t.key: t.frame.height for t in [*report.tables, report.metadata]}}
