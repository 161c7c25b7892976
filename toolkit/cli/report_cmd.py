"""``genoffload report``: a finished study folder as an HTML (or Markdown + PNG) report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from genoffload.cli.common import console, user_errors


@user_errors
def report_cmd(
    study: Annotated[Path, typer.Argument(help="study folder written by `genoffload study run`")],
    output: Annotated[Path | None, typer.Option(
        "-o", "--output",
        help="report file: .html (self-contained) or .md (PNG files next to it); "
             "default DIR/report.html")] = None,
    format_: Annotated[str | None, typer.Option(
        "--format", help="html or md (default: from the suffix of -o, else html)")] = None,
) -> None:
    """Write the study report: the paper's Fig. 5, the optimality gaps, tables and metadata."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from genoffload.studies.report import STEPS, resolve_format, write_report

    if output is None:
        kind = resolve_format(format_, Path("report.html"))
        output = study / ("report.md" if kind == "md" else "report.html")
    out = console()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=out, transient=True,
                  disable=not out.is_terminal) as bar:
        task = bar.add_task("report", total=len(STEPS))
        done = [0]

        def tick(step: str) -> None:
            bar.update(task, completed=done[0], description=f"report: {step}")
            done[0] += 1

        written = write_report(study, output, format_, progress=tick)
        bar.update(task, completed=len(STEPS))
    images = len(written) - 1
    extra = f" and {images} PNG file(s) next to it" if images else ""
    out.print(f"report: {escape(str(written[-1]))}{extra}")
