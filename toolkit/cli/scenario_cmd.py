"""``genoffload scenario generate | show``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from genoffload.cli.common import console, print_json, user_errors
from genoffload.errors import InputError
from genoffload.io import check_output, load_json
from genoffload.scenario import generate, load_scenario, make_config, read_config_file, save
from genoffload.scenario.dataset import save as save_netcdf

app = typer.Typer(help="Generate and inspect scenarios.", no_args_is_help=True)


@app.command("generate")
@user_errors
def generate_cmd(
    output: Annotated[Path, typer.Option("-o", "--output", help="NetCDF file to write")],
    config: Annotated[Path | None, typer.Option("--config", help="TOML/JSON config file")] = None,
    sites: Annotated[int | None, typer.Option(help="1, 7 or 19 sites")] = None,
    users: Annotated[int | None, typer.Option(help="users per cell")] = None,
    rbs: Annotated[int | None, typer.Option(help="RBs (default: N_RB of the numerology)")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed")] = None,
    set_: Annotated[list[str] | None,
                    typer.Option("--set", help="KEY=VALUE config override (JSON value)")] = None,
) -> None:
    """Generate a 3GPP urban scenario (TR 38.901 UMa/UMi) and save it as NetCDF."""
    check_output(output, "output", [config] if config else [])
    settings: dict[str, Any] = read_config_file(config) if config else {}
    for item in set_ or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise InputError("--set", item, "expected KEY=VALUE")
        settings[key.strip()] = _parse_value(raw, f"--set {key.strip()}")
    for key, value in (("sites", sites), ("users", users), ("rbs", rbs), ("seed", seed)):
        if value is not None:
            settings[key] = value
    ds = generate(make_config(settings))
    save(ds, output)
    typer.echo(f"wrote {output}: {ds.sizes['cell']} cells, {ds.sizes['user']} users, "
               f"{ds.sizes['rb']} RBs, {ds.sizes['task']} tasks")


def _parse_value(raw: str, field: str) -> Any:
    """A JSON value, or the text itself when it is not JSON (``--set environment=UMi``)."""
    try:
        return load_json(raw, field, raw)
    except InputError as err:
        if err.reason.startswith("not valid JSON"):
            return raw
        raise


def summary(ds: Any) -> dict[str, Any]:
    """Key facts of a scenario (used by ``show``)."""
    rate = ds["rate"].values
    return {
        "source": ds.attrs.get("source"),
        "cells": ds.sizes["cell"], "users": ds.sizes["user"], "rbs": ds.sizes["rb"],
        "tasks": ds.sizes["task"],
        "edge_model": ds.attrs.get("edge_model"), "cloud_model": ds.attrs.get("cloud_model"),
        "t_back_s": ds.attrs["t_back_s"], "delivery": ds.attrs["delivery"],
        "rate_mean_bps": float(rate.mean()), "rate_min_bps": float(rate.min()),
        "rate_max_bps": float(rate.max()),
        "content_bits_total": float(ds["content_bits"].values.sum()),
        "preferred_share": float((ds["service_class"].values == "preferred").mean())
        if ds.sizes["task"] else 0.0,
        "services": {str(s): int((ds["service"].values == s).sum())
                     for s in sorted(set(ds["service"].values.tolist()))},
    }


@app.command("show")
@user_errors
def show_cmd(
    scenario: Annotated[Path, typer.Argument(help="scenario file (NetCDF or JSON)")],
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    output: Annotated[Path | None, typer.Option("-o", help="also save as NetCDF")] = None,
) -> None:
    """Validate a scenario file and print its summary."""
    if output is not None:
        check_output(output, "output", [scenario])
    ds = load_scenario(scenario)
    info = summary(ds)
    if output is not None:
        save_netcdf(ds, output)
    if json_:
        print_json(info)
        return
    table = Table(title=str(scenario), show_header=False)
    for k, v in info.items():
        table.add_row(k, f"{v:.4g}" if isinstance(v, float) else str(v))
    console().print(table)
