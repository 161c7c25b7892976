"""``genoffload study``: run declarative study sweeps on Dask, check them, show their status."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from genoffload.cli.common import console, user_errors
from genoffload.errors import InputError
from genoffload.io import check_output_folder

app = typer.Typer(help="Declarative study sweeps (scenario grid x policies x seeds) on Dask.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
SPEC_HELP = "study file (TOML) or a shipped study: paper, gap, demo, state, ..."


@app.callback()
def _study() -> None:
    """Declarative study sweeps (scenario grid x policies x seeds) on Dask."""


def _print_failures(out: Any, failures: list[dict[str, Any]], limit: int = 10) -> None:
    if not failures:
        return
    out.print(f"[bold red]{len(failures)} cell(s) failed[/] (errors in DIR/cells/<cell_id>.error.json):")
    for f in failures[:limit]:
        out.print(f"  {f['cell_id']} {f['policy']} seed {f['seed']}: {f['error']}", markup=False)
    if len(failures) > limit:
        out.print(f"  ... and {len(failures) - limit} more (see metadata.json)")


def _warn_cases(study: Any) -> None:
    """Warn (stderr, one line each) about families of an offloading case that cannot bind."""
    from genoffload.cli.common import warn_unbindable
    from genoffload.scenario import make_config

    if study.kind != "offload":
        return
    for case in study.cases:
        warn_unbindable(make_config(case.params), f"case[{case.case_id}].config")


@app.command("run")
@user_errors
def run_cmd(
    spec: Annotated[str, typer.Argument(help=SPEC_HELP)],
    output: Annotated[Path, typer.Option("-o", "--output", help="study folder (resumed if it exists)")],
    workers: Annotated[int, typer.Option(help="local Dask worker processes (1 thread each)")] = 2,
    scheduler: Annotated[str | None, typer.Option(
        help="address of an existing Dask scheduler, tcp://HOST:PORT (then --workers is unused)")] = None,
) -> None:
    """Run (or resume) a study: every (case, policy, seed) cell on Dask, then aggregate.

    Writes DIR/summary.parquet, DIR/curves.parquet, DIR/results.nc and DIR/metadata.json.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from genoffload.sizes import cap_workers
    from genoffload.studies import load_study
    from genoffload.studies.kinds import kind_of_study, pipeline_of
    from genoffload.studies.run import check_folder, check_scheduler_address, run_study

    if workers < 1:
        raise InputError("workers", workers, "must be >= 1")
    if scheduler is not None:
        check_scheduler_address(scheduler)
    else:
        workers, warning = cap_workers(workers)
        if warning:
            typer.echo(f"warning: {warning}", err=True)
    check_output_folder(output)  # before any cell is computed (e.g. a path that is not UTF-8)
    study = load_study(spec)
    check_folder(study, output)  # bad folder: one line before any cluster starts
    _warn_cases(study)
    out = console()
    pipeline = pipeline_of(kind_of_study(study))
    out.print(f"{pipeline.headline(study)} -> {output}")
    with Progress(TextColumn("[bold]cells[/]"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("failed {task.fields[failed]}"), TimeElapsedColumn(), TextColumn("left"),
                  TimeRemainingColumn(), console=out, transient=False) as bar:
        task = bar.add_task("", total=len(study.cells), failed=0)

        def progress(done: int, failed: int, total: int, computed: int) -> None:
            bar.update(task, completed=done + failed, failed=failed)

        report = run_study(study, output, workers=workers, scheduler=scheduler, progress=progress)
    out.print(pipeline.status_table(report.table, f"study {study.name}"))
    out.print(f"computed {report.computed} cells, reused {report.reused}, failed {report.failed}; "
              f"{report.workers} workers, wall {report.wall_s:.1f} s, cell compute {report.compute_s:.1f} s")
    _print_failures(out, report.failures)
    out.print(f"wrote {output / 'summary.parquet'}, curves.parquet, results.nc, metadata.json")


@app.command("check")
@user_errors
def check_cmd(spec: Annotated[str, typer.Argument(help=SPEC_HELP)]) -> None:
    """Validate a study file and list its cases and cells (computes nothing)."""
    from rich.table import Table

    from genoffload.studies import load_study
    from genoffload.studies.kinds import kind_of_study, pipeline_of

    study = load_study(spec)
    _warn_cases(study)
    out = console()
    table = Table(title=f"study {study.name}: {len(study.cells)} cells")
    columns, rows = pipeline_of(kind_of_study(study)).check_rows(study)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    out.print(table)


@app.command("show")
@user_errors
def show_cmd(directory: Annotated[Path, typer.Argument(help="study folder")]) -> None:
    """Status of a study folder: cells done, failed and pending per policy."""
    import json

    from genoffload.studies.kinds import kind_of_study, pipeline_of
    from genoffload.studies.run import open_study_folder

    study = open_study_folder(directory)
    pipeline = pipeline_of(kind_of_study(study))
    table, _ = pipeline.tables(study, directory)
    out = console()
    out.print(pipeline.status_table(table, f"study {study.name} ({directory})"))
    meta = directory / "metadata.json"
    try:
        doc = json.loads(meta.read_text()) if meta.is_file() else None
        if not isinstance(doc, dict):
            raise ValueError(meta.name)
    except (OSError, ValueError, RecursionError):
        doc = None
        if meta.exists():
            out.print(f"{meta} is not readable JSON (written again by the next run)", markup=False)
    if doc is not None:
        out.print(f"last run ended {doc.get('end_time')}; wall {float(doc.get('wall_s', 0)):.1f} s over "
                  f"{len(doc.get('runs', []))} run(s); {doc.get('workers')} workers")
    pending = int((table["status"] == "pending").sum())
    corrupt = table.filter((table["status"] == "pending") & table["error"].is_not_null())
    if corrupt.height:
        out.print(f"[bold red]{corrupt.height} cell file(s) failed their check[/] (recomputed by the "
                  "next `genoffload study run`):")
        for r in corrupt.head(10).iter_rows(named=True):
            out.print(f"  {r['cell_id']} {r.get('policy', r.get('sweep'))} seed {r['seed']}: {r['error']}",
                      markup=False)
    if pending:
        out.print(f"{pending} cell(s) pending: run the same `genoffload study run` command to resume")
    _print_failures(out, pipeline.failures(table))
