"""``genoffload solve``: the certified optimum of problem (4)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table

from genoffload.cli.common import console, print_json, user_errors, write_atomic
from genoffload.io import check_output
from genoffload.scenario import load_scenario
from genoffload.sizes import check_solve_size


def solve_payload(result: Any) -> dict[str, Any]:
    """The stable ``--json`` record of a solve (documented in docs/cli.md)."""
    s = result.summary.to_dict()
    z = result.z
    return {
        **{k: s[k] for k in ("objective", "bound", "gap", "gap_abs", "radio_part", "status",
                             "reason", "certified", "requested_gap", "heuristic_objective",
                             "build_s", "transfer_s", "solve_s", "total_s", "iterations",
                             "cuts")},
        "cells": s["cells"],
        "decisions": {
            "alpha": result.alpha.astype(int).tolist(),
            "rbs": {str(k): np.flatnonzero(z[k]).tolist() for k in range(z.shape[0]) if z[k].any()},
        },
    }


def solve_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario file (NetCDF or JSON)")],
    gap: Annotated[float, typer.Option(help="gap relative to the z-dependent part [1]")] = 1e-4,
    time_limit: Annotated[float | None, typer.Option(help="wall-clock limit [s]")] = None,
    threads: Annotated[int, typer.Option(help="HiGHS threads")] = 1,
    json_: Annotated[bool, typer.Option("--json", help="print JSON (docs/cli.md)")] = False,
    output: Annotated[Path | None, typer.Option("-o", help="write the solution (NetCDF)")] = None,
) -> None:
    """Solve the joint RB-allocation and offloading problem (eq. 4) to a certified gap."""
    from genoffload.models.solve import solve

    if output is not None:
        check_output(output, "output", [scenario])
    ds = load_scenario(scenario)
    users = int(np.unique(ds["task_user"].values).size)
    check_solve_size(users, int(ds.sizes["rb"]), "scenario", str(scenario))  # before building the model
    result = solve(ds, gap=gap, time_limit=time_limit, threads=threads)
    if output is not None:
        write_atomic(output, lambda p: result.dataset.to_netcdf(p, engine="h5netcdf"))
    if json_:
        print_json(solve_payload(result))
        return
    s = result.summary
    table = Table(title=f"{scenario.name}: exact solve", show_header=False)
    rows = [("status", s.status + (f": {s.reason}" if s.reason else "")),
            ("objective [s]", f"{s.objective:.6f}"),
            ("bound [s]", f"{s.bound:.6f}"), ("gap (z-dependent part)", f"{s.gap:.2e}"),
            ("gap [s]", f"{s.gap_abs:.3e}"), ("z-dependent part [s]", f"{s.radio_part:.6f}"),
            ("PF + quality-rule [s]", f"{s.heuristic_objective:.6f}"),
            ("OA rounds / cuts", f"{s.iterations} / {s.cuts}"),
            ("build / transfer / solve / total [s]",
             f"{s.build_s:.3f} / {s.transfer_s:.3f} / {s.solve_s:.3f} / {s.total_s:.3f}")]
    for k, v in rows:
        table.add_row(escape(k), v)
    console().print(table)


solve_cmd = user_errors(solve_cmd)
