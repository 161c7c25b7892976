"""The ``genoffload`` command line (typer)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from genoffload import __version__
from genoffload.cli import evaluate_cmd as ev
from genoffload.cli import icl_cmd, report_cmd, rl_cmd, scenario_cmd, solve_cmd, study_cmd
from genoffload.cli.common import console, user_errors
from genoffload.policies import POLICIES

app = typer.Typer(
    name="genoffload",
    help="Joint RB allocation and LLM task offloading at the 6G edge and cloud.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(scenario_cmd.app, name="scenario")
app.add_typer(icl_cmd.app, name="icl")
app.add_typer(rl_cmd.app, name="rl")
app.add_typer(study_cmd.app, name="study")
app.command("evaluate")(ev.evaluate_cmd)
app.command("solve")(solve_cmd.solve_cmd)
app.command("report")(report_cmd.report_cmd)


@app.command("demo")
@user_errors
def demo_cmd(
    output: Annotated[Path, typer.Option("-o", help="folder for the demo files")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Generate the default 7-site UMa scenario and evaluate every policy on it."""
    from genoffload.scenario import generate, make_config, save

    cfg = make_config({"sites": 7, "users": 20, "tasks_per_user": (1, 3), "seed": seed})
    ds = generate(cfg)
    path = save(ds, output / "scenario.nc")
    out = console()
    out.print(f"scenario: {path} ({ds.sizes['cell']} cells, {ds.sizes['user']} users, "
                  f"{ds.sizes['rb']} RBs, {ds.sizes['task']} tasks; "
                  f"edge {ds.attrs['edge_model']}, cloud {ds.attrs['cloud_model']})")
    offloading = sorted(n for n, f in POLICIES.items()
                        if not getattr(f, "joint", False) and not getattr(f, "learned", False))
    results = [r for scheduler in ("pf", "round-robin")
               for r in ev.evaluate_many(ds, scheduler, offloading)]
    results += ev.evaluate_many(ds, "pf", ["exact"])
    out.print(ev.totals_table(results, "every policy (exact = certified optimum of eq. 4)"))


@app.callback(invoke_without_command=True)
def _root(
    version: Annotated[bool, typer.Option("--version", help="print the version")] = False,
) -> None:
    if version:
        typer.echo(__version__)
        raise typer.Exit()


def main() -> None:
    """Entry point of the ``genoffload`` script.

    Usage errors (unknown option, missing argument, bad option value) print one line and exit
    with code 2, like every other bad input.
    """
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.exit(130)
    except Exception as err:
        # click's UsageError (vendored by typer): exit_code 2 and format_message()
        if getattr(err, "exit_code", None) != 2 or not hasattr(err, "format_message"):
            raise
        if type(err).__name__ == "NoArgsIsHelpError":
            typer.echo(err.format_message())
            sys.exit(0)
        ctx = getattr(err, "ctx", None)
        where = f"{ctx.command_path}: " if ctx is not None else ""
        message = " ".join(err.format_message().split())
        typer.echo(f"error: {where}{message}", err=True)
        sys.exit(2)
    sys.exit(code if isinstance(code, int) else 0)
