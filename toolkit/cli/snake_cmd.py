"""``genoffload snake``: plan a Snake round exactly, train for real, compare with FedAvg and SL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from genoffload.cli.common import console, print_json, user_errors, write_atomic
from genoffload.errors import InputError, validation_error
from genoffload.io import check_output, check_output_folder

app = typer.Typer(help="Snake Learning: exact layer-segment planner, real training, FedAvg/SL comparison.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _snake() -> None:
    """Snake Learning: exact layer-segment planner, real training, FedAvg/SL comparison."""


def _floats(text: str, field: str) -> float | list[float]:
    try:
        vals = [float(x) for x in text.split(",")]
    except ValueError:
        raise InputError(field, text, "must be a number or comma-separated numbers") from None
    for i, v in enumerate(vals):
        if not v > 0:
            raise InputError(f"nodes[{i}].{field.split('.')[-1]}" if len(vals) > 1 else field, v,
                             "must be positive")
    return vals[0] if len(vals) == 1 else vals


def _alpha(text: str) -> float | None:
    if text == "iid":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InputError("data.alpha", text, "must be 'iid' or a positive number") from None
    if not value > 0:
        raise InputError("data.alpha", value, "must be a positive number")
    return value


Model = Annotated[str, typer.Option(help="digits-cnn or gemma3-270m")]
Nodes = Annotated[int, typer.Option(help="number of nodes")]
Seed = Annotated[int, typer.Option(help="random seed")]


@app.command("plan")
@user_errors
def plan_cmd(
    model: Model = "digits-cnn",
    nodes: Nodes = 6,
    memory_gib: Annotated[str, typer.Option(help="node memory [GiB], one value or one per node")] = "4",
    compute_gflops: Annotated[str, typer.Option(help="node throughput [GFLOP/s], one or per node")] = "20",
    samples: Annotated[int, typer.Option(help="local samples per node and round")] = 128,
    heterogeneity: Annotated[float, typer.Option(help="spread of compute and memory, in [0, 1)")] = 0.0,
    batch: Annotated[int, typer.Option(help="samples per step")] = 16,
    seq: Annotated[int, typer.Option(help="tokens per sample (language model)")] = 64,
    frozen_dtype: Annotated[str, typer.Option(help="frozen layers: float32 or bfloat16")] = "float32",
    objective: Annotated[str, typer.Option(help="time, bytes or weighted")] = "time",
    w_time: Annotated[float, typer.Option(help="weight of time in the weighted objective")] = 0.5,
    threads: Annotated[int, typer.Option(help="HiGHS threads")] = 1,
    seed: Seed = 0,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    output: Annotated[Path | None, typer.Option("-o", help="write the plan (JSON)")] = None,
) -> None:
    """Certified optimal segments and visiting order of one Snake round (Pyomo MILP, HiGHS)."""
    import json

    from genoffload.models.snake_plan import plan
    from genoffload.snake.cost import Training
    from genoffload.snake.layers import model_spec
    from genoffload.snake.nodes import make_nodes

    if output is not None:
        check_output(output, "output")
    if frozen_dtype not in ("float32", "bfloat16"):
        raise InputError("frozen_dtype", frozen_dtype, "must be float32 or bfloat16")
    spec = model_spec(model, seq)
    node_set = make_nodes(nodes, memory_gib=_floats(memory_gib, "nodes.memory_gib"),
                          compute_gflops=_floats(compute_gflops, "nodes.compute_gflops"), samples=samples,
                          heterogeneity=heterogeneity, seed=seed)
    tr = Training(frozen=2.0 if frozen_dtype == "bfloat16" else 4.0, batch=batch)
    result = plan(spec, node_set, tr, objective=objective, w_time=w_time, threads=threads)
    payload = {"model": spec.name, "nodes": nodes, **result.to_dict(),
               "layers": [lay.name for lay in spec.layers]}
    if output is not None:
        write_atomic(output, lambda p: p.write_text(json.dumps(payload, indent=2)))
    if json_:
        print_json(payload)
        return
    from rich.table import Table

    table = Table(title=f"{spec.name}: Snake plan, {nodes} nodes ({result.status}, gap {result.gap:.1e})")
    for col in ("order", "node", "layers", "memory [GiB]", "limit [GiB]"):
        table.add_column(col)
    for k, (m, a, b) in enumerate(result.segments):
        table.add_row(str(k), str(m), f"{spec.layers[a].name}..{spec.layers[b].name} [{a}, {b}]",
                      f"{result.memory[m] / 2**30:.4f}", f"{node_set.memory[m] / 2**30:.4f}")
    out = console()
    out.print(table)
    out.print(f"round time {result.round_time:.4g} s, bytes {result.round_bytes / 2**20:.4g} MiB, "
              f"solved in {result.solve_s:.2f} s ({result.columns} columns)", markup=False)


@app.command("train")
@user_errors
def train_cmd(
    model: Model = "digits-cnn",
    method: Annotated[str, typer.Option(help="fedavg, split, snake, snake-kd (language: fedavg, snake, "
                                             "snake-fp32)")] = "snake",
    dataset: Annotated[str, typer.Option(help="digits (CNN) or pydoc-topics (language model)")] = "digits",
    nodes: Nodes = 6,
    alpha: Annotated[str, typer.Option(help="'iid' or the Dirichlet concentration")] = "iid",
    rounds: Annotated[int, typer.Option(help="rounds (digits)")] = 30,
    lr: Annotated[float, typer.Option(help="Adam learning rate")] = 3e-3,
    steps: Annotated[int, typer.Option(help="steps per node (language model)")] = 5,
    seq: Annotated[int, typer.Option(help="tokens per sample (language model)")] = 64,
    seed: Seed = 0,
    output: Annotated[Path | None, typer.Option("-o", help="write the result (NetCDF)")] = None,
) -> None:
    """Train for real (PyTorch, CPU) and report accuracy/loss, bytes and measured memory."""
    if output is not None:
        check_output(output, "output")
    _alpha(alpha)
    ds = _cell({"model": model, "method": method, "dataset": dataset, "nodes": nodes, "alpha": alpha,
                "rounds": rounds, "lr": lr, "steps": steps, "seq": seq}, seed)
    if output is not None:
        write_atomic(output, lambda p: ds.to_netcdf(p, engine="h5netcdf"))
    out = console()
    for k, v in ds.data_vars.items():
        if v.ndim == 0:
            out.print(f"{k}: {float(v):.6g}", markup=False)


def _cell(params: dict[str, Any], seed: int) -> Any:
    from pydantic import ValidationError

    from genoffload.studies.snake_study import SnakeCell, run_cell

    if params.get("alpha") not in (None, "iid"):
        params["alpha"] = _alpha(str(params["alpha"]))
    _check_names(params)
    try:
        cell = SnakeCell.model_validate(params)
    except ValidationError as err:
        raise validation_error(err) from None
    return run_cell(cell.model_dump(), seed)


def _check_names(params: dict[str, Any]) -> None:
    from genoffload.snake.layers import MODELS

    if params.get("model") not in MODELS:
        raise InputError("model", params.get("model"), f"unknown model (one of {', '.join(MODELS)})")
    if params.get("dataset") not in ("digits", "pydoc-topics"):
        raise InputError("dataset", params.get("dataset"), "unknown data set (one of digits, pydoc-topics)")
    if params.get("nodes", 1) < 1:
        raise InputError("nodes.count", params.get("nodes"), "must be at least 1")
    if params.get("model") == "digits-cnn" and params.get("nodes", 1) > 1437:
        raise InputError("nodes.count", params["nodes"], "more nodes than training samples (1437)")


@app.command("compare")
@user_errors
def compare_cmd(
    output: Annotated[Path, typer.Option("-o", help="folder for summary.parquet, curves.parquet, "
                                                    "report figures")],
    nodes: Nodes = 6,
    alpha: Annotated[str, typer.Option(help="comma-separated: 'iid' and/or Dirichlet concentrations")] = (
        "iid,0.5"),
    methods: Annotated[str, typer.Option(help="comma-separated digits methods")] = (
        "fedavg,split,snake,snake-kd"),
    rounds: Annotated[int, typer.Option(help="rounds")] = 30,
    lr: Annotated[float, typer.Option(help="Adam learning rate")] = 3e-3,
    seeds: Annotated[int, typer.Option(help="seeds 0..n-1")] = 3,
    study: Annotated[Path | None,
                     typer.Option(help="a study TOML (or the shipped: snake) instead of the options")] = None,
) -> None:
    """Snake vs FedAvg vs SL on digits (IID and Dirichlet) over seeds: tables and report panels."""
    from genoffload.io import load_toml, read_text
    from genoffload.studies import snake_study as ss

    check_output_folder(output, "output")
    if study is not None and str(study) == "snake" and not study.exists():  # the shipped study
        from importlib import resources

        text = (resources.files("genoffload.studies") / "snake.toml").read_text(encoding="utf-8")
        spec = ss.parse_study(load_toml(text, "study", "snake"), "snake")
    elif study is not None:
        spec = ss.parse_study(load_toml(read_text(study, "study"), "study", str(study)), str(study))
    else:
        alphas = [a.strip() for a in alpha.split(",")]
        for a in alphas:
            _alpha(a)
        spec = ss.parse_study({"seeds": list(range(seeds)),
                               "base": {"nodes": nodes, "rounds": rounds, "lr": lr},
                               "sweep": [{"alpha": [a if a == "iid" else float(a) for a in alphas],
                                          "method": [m.strip() for m in methods.split(",")]}]})
    cells = ss.expand(spec)
    for c in cells:
        _check_names(c)
    from rich.progress import Progress

    results = []
    with Progress(console=console()) as bar:
        task = bar.add_task("cells", total=len(cells) * len(spec.seeds))
        for c in cells:
            for s in spec.seeds:
                results.append((c, s, ss.run_cell(c, s)))
                bar.advance(task)
    summary, curves = ss.tables(results)
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / "summary.parquet", lambda p: summary.write_parquet(p))
    write_atomic(output / "curves.parquet", lambda p: curves.write_parquet(p))
    for i, (title, fig) in enumerate(ss.panels(summary, curves)):
        write_atomic(output / f"panel-{i}.png", lambda p, f=fig: f.savefig(p, format="png", dpi=110))
        del title
    _print_summary(summary)


def _print_summary(summary: Any) -> None:
    import polars as pl
    from rich.table import Table

    keys = [k for k in ("method", "alpha", "nodes") if k in summary.columns]
    g = summary.group_by(keys, maintain_order=True).agg(
        pl.col("final_accuracy").mean().alias("acc"), pl.col("final_accuracy").std().alias("sd"),
        pl.col("bytes_per_round").mean().alias("bytes"), pl.col("peak_memory").mean().alias("mem"),
        pl.col("predicted_peak_memory").mean().alias("pred"))
    table = Table(title="digits: final test accuracy (mean, sd over seeds), bytes per round, peak memory")
    for col in (*keys, "accuracy", "sd", "MiB/round", "peak MiB (measured)", "peak MiB (eq. S1-S3)"):
        table.add_column(col)
    for r in g.iter_rows(named=True):
        table.add_row(*(str(r[k]) for k in keys), f"{r['acc']:.4f}", f"{(r['sd'] or 0):.4f}",
                      f"{r['bytes'] / 2**20:.3f}", f"{r['mem'] / 2**20:.3f}", f"{r['pred'] / 2**20:.3f}")
    console().print(table)
