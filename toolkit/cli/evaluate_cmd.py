"""``genoffload evaluate``: run schedulers and policies on a scenario and print the totals."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer
import xarray as xr
from rich.markup import escape
from rich.table import Table

from genoffload.cli.common import console, print_json, user_errors, write_atomic
from genoffload.errors import InputError
from genoffload.evaluate import to_table
from genoffload.io import check_output
from genoffload.pipeline import CERTIFICATION, run_policy
from genoffload.policy import entries, policy_entry
from genoffload.scenario import load_scenario
from genoffload.schedulers import get_scheduler

TOTAL_KEYS = ("objective", "radio_part", "mean_delay", "mean_reward", "quality_success",
              "preferred_success", "constraints_ok", "offloaded_share", "feasible", "decide_s")


def evaluate_many(scenario: xr.Dataset, scheduler: str, policies: list[str],
                  agent: Path | None = None) -> list[xr.Dataset]:
    """Evaluate each policy with the scheduler; returns the evaluator's results.

    ``all`` means every registered policy that needs no trained agent (``learned``), plus the
    algorithm of ``agent`` when one is given. The RL policies (``q-learning``, ``dqn``) use
    ``agent``; ``q-learning`` without one is trained first on the scenario's config.
    """
    get_scheduler(scheduler)  # fail early on an unknown name
    names = policies
    if "all" in policies:
        names = [e.name for e in entries() if e.offline is not None and not e.learned]
        if agent is not None:
            from genoffload.rl import load_agent

            names.append(load_agent(agent).algo)
    made = [_policy(name, scenario, agent) for name in names]
    return [run_policy(scenario, scheduler, pol)[1] for pol in made]


def _policy(name: str, scenario: xr.Dataset, agent: Path | None) -> Any:
    """A name, or for an RL policy the policy object with its agent (trained now if needed)."""
    if not policy_entry(name).learned:
        return name
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from genoffload.rl import offline_policy

    if agent is not None or name != "q-learning":
        return offline_policy(name, scenario, agent)
    with Progress(TextColumn(f"[bold]training {name}[/] runner steps"), BarColumn(),
                  MofNCompleteColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("", total=None)
        return offline_policy(name, scenario, agent,
                              progress=lambda done, total: bar.update(task, completed=done, total=total))


def totals_table(results: list[xr.Dataset], title: str) -> Table:
    """A rich table with one row per policy."""
    table = Table(title=title)
    for col in ("policy", "scheduler", "objective [s]", "radio part [s]", "mean delay [s]",
                "mean reward [s]", "quality ok", "offloaded", "decide [ms]"):
        table.add_column(escape(col), justify="left" if col in ("policy", "scheduler") else "right")
    for r in results:
        a = r.attrs
        name = a["policy"]
        if "certified" in a:  # the exact solver says whether it is the certified optimum
            name += (f" (certified, gap {a['gap']:.1e})" if a["certified"]
                     else f" (NOT certified: {a['status']})")
        table.add_row(escape(name), a["scheduler"], f"{a['objective']:.2f}",
                      f"{a['radio_part']:.4f}", f"{a['mean_delay']:.3f}",
                      f"{a['mean_reward']:.3f}", f"{a['quality_success']:.1%}",
                      f"{a['offloaded_share']:.1%}", f"{1e3 * a['decide_s']:.1f}")
    return table


def result_payload(result: xr.Dataset, scenario: xr.Dataset) -> dict[str, Any]:
    """The stable ``--json`` record of one policy (documented in docs/cli.md)."""
    return {
        "policy": result.attrs["policy"],
        "scheduler": result.attrs["scheduler"],
        "totals": {k: result.attrs[k] for k in TOTAL_KEYS},
        **({"certification": {k: result.attrs[k] for k in CERTIFICATION}}
           if "certified" in result.attrs else {}),
        "tasks": to_table(result, scenario).to_dicts(),
        "users": {"capacity_bps": result["capacity"].values, "n_rb": result["n_rb"].values},
    }


def evaluate_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario file (NetCDF or JSON)")],
    scheduler: Annotated[str, typer.Option(help="pf, round-robin or max-rate")] = "pf",
    policy: Annotated[list[str] | None, typer.Option(help="policy name (repeatable) or 'all'")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print JSON (docs/cli.md)")] = False,
    output: Annotated[Path | None, typer.Option("-o", help="write per-task results (Parquet)")] = None,
    agent: Annotated[Path | None, typer.Option(
        help="trained agent for q-learning/dqn (genoffload rl train)")] = None,
) -> None:
    """Evaluate offloading policies on a scenario (eqs. 1-4, 10)."""
    names = policy or ["quality-rule"]
    if agent is not None and "all" not in names and not any(
            policy_entry(n).learned for n in names):
        raise InputError("agent", str(agent), "only the q-learning and dqn policies use an agent")
    if output is not None:  # before any work: an input, a study's file, an unwritable place
        check_output(output, "output", [scenario, *([agent] if agent else [])])
    ds = load_scenario(scenario)
    results = evaluate_many(ds, scheduler, names, agent)
    if output is not None:
        frames = [to_table(r, ds).with_columns(pl.lit(r.attrs["policy"]).alias("policy"))
                  for r in results]
        write_atomic(output, lambda p: pl.concat(frames).write_parquet(p))
    if json_:
        print_json({"scenario": str(scenario),
                    "results": [result_payload(r, ds) for r in results]})
        return
    console().print(totals_table(results, f"{scenario.name}: {ds.sizes['task']} tasks"))


evaluate_cmd = user_errors(evaluate_cmd)
