"""The ``genoffload`` command line (typer).

Start-up stays short (``genoffload --help`` / ``--version`` import neither NumPy's heavy
neighbours nor xarray, pandas, polars, Pyomo): every command but ``demo`` lives in its own
module, which is imported only when that command runs (or its own ``--help`` is asked);
the root help lists them from :data:`LAZY_COMMANDS`.
"""

from __future__ import annotations

import sys
from importlib import import_module
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import typer
from typer.core import TyperCommand, TyperGroup

from genoffload import __version__
from genoffload.cli.common import console, user_errors


class LazyCommand(NamedTuple):
    """A command imported on use: module, attribute (a Typer app or a command function), help."""

    module: str
    attr: str
    help: str


LAZY_COMMANDS: dict[str, LazyCommand] = {
    "evaluate": LazyCommand("genoffload.cli.evaluate_cmd", "evaluate_cmd",
                            "Evaluate offloading policies on a scenario (eqs. 1-4, 10)."),
    "solve": LazyCommand("genoffload.cli.solve_cmd", "solve_cmd",
                         "Solve the joint RB-allocation and offloading problem (eq. 4) to a certified gap."),
    "report": LazyCommand("genoffload.cli.report_cmd", "report_cmd",
                          "Write the study report: the paper's Fig. 5, the optimality gaps, tables and "
                          "metadata."),
    "scenario": LazyCommand("genoffload.cli.scenario_cmd", "app", "Generate and inspect scenarios."),
    "icl": LazyCommand("genoffload.cli.icl_cmd", "app",
                       "In-context-learning offloading policy (paper Sec. III)."),
    "rl": LazyCommand("genoffload.cli.rl_cmd", "app",
                      "Reinforcement-learning baselines: tabular Q-learning and DQN (paper baseline 3)."),
    "study": LazyCommand("genoffload.cli.study_cmd", "app",
                         "Declarative study sweeps (scenario grid x policies x seeds) on Dask."),
    "snake": LazyCommand("genoffload.cli.snake_cmd", "app",
                         "Snake Learning: exact layer-segment planner, real training, FedAvg/SL comparison."),
    "split": LazyCommand("genoffload.cli.split_cmd", "app",
                         "Split inference between the user's device and the edge (issue 15)."),
}
"""Commands whose module is imported only when they run; ``help`` is what the root help shows
(a test checks it against the command's own)."""


def load_command(name: str) -> Any:
    """The click command of a lazy command (its module imported now)."""
    entry = LAZY_COMMANDS[name]
    target: Any = getattr(import_module(entry.module), entry.attr)
    if not isinstance(target, typer.Typer):
        single = typer.Typer(pretty_exceptions_enable=False)
        single.command(name)(target)
        target = single
    command = typer.main.get_command(target)
    command.name = name
    return command


class LazyGroup(TyperGroup):
    """The root group: lazy commands listed from their registry entry, loaded when resolved."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *(n for n in LAZY_COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            # the help listing only needs the short help: a placeholder, nothing imported
            return TyperCommand(cmd_name, help=LAZY_COMMANDS[cmd_name].help)
        return super().get_command(ctx, cmd_name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] in LAZY_COMMANDS and args[0] not in self.commands:
            self.add_command(load_command(args[0]), args[0])
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="genoffload",
    cls=LazyGroup,
    help="Joint RB allocation and LLM task offloading at the 6G edge and cloud.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@app.command("demo")
@user_errors
def demo_cmd(
    output: Annotated[Path, typer.Option("-o", help="folder for the demo files")] = Path("runs/demo"),
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Generate the default 7-site UMa scenario and evaluate every policy on it."""
    from genoffload.cli import evaluate_cmd as ev
    from genoffload.policy import entries
    from genoffload.scenario import generate, make_config, save

    cfg = make_config({"sites": 7, "users": 20, "tasks_per_user": (1, 3), "seed": seed})
    ds = generate(cfg)
    path = save(ds, output / "scenario.nc")
    out = console()
    out.print(f"scenario: {path} ({ds.sizes['cell']} cells, {ds.sizes['user']} users, "
                  f"{ds.sizes['rb']} RBs, {ds.sizes['task']} tasks; "
                  f"edge {ds.attrs['edge_model']}, cloud {ds.attrs['cloud_model']})")
    offloading = [e.name for e in entries() if e.offline is not None and not e.joint and not e.learned]
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
