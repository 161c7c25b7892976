"""``genoffload split``: split inference between the UE and the edge (issue 15).

``profile`` (per-layer model, roofline, optionally measured), ``evaluate`` (one split decision),
``bound`` (exhaustive optimum per channel state), ``train`` (an MBRL policy against the bound)
and ``run`` (the shipped or a given split study).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer

from genoffload.cli.common import console, print_json, user_errors

app = typer.Typer(
    help="Split inference between the user's device and the edge (issue 15).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ModelOpt = Annotated[str, typer.Option("--model", help="shipped LLM config name or a config.json path")]
UEOpt = Annotated[str, typer.Option("--ue", help="UE device (catalog devices.csv)")]
EdgeOpt = Annotated[str, typer.Option("--edge", help="edge device (catalog devices.csv)")]
OutOpt = Annotated[Path | None, typer.Option("-o", help="write the table (Parquet)")]
StudyOpt = Annotated[str, typer.Option("--study", help="split study TOML, or 'split' (shipped)")]


def _write_parquet(frame: Any, output: Path | None) -> None:
    if output is not None:
        from genoffload.io import write_atomic

        write_atomic(output, lambda p: frame.write_parquet(p))


def _table(frame: Any, title: str) -> None:
    from rich.markup import escape
    from rich.table import Table

    t = Table(title=escape(title))
    for c in frame.columns:
        t.add_column(escape(c), justify="right")
    for row in frame.iter_rows():
        t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
    console().print(t)


@app.command("profile")
@user_errors
def profile_cmd(
    model: ModelOpt = "gemma3-270m",
    ue: UEOpt = "raspberry-pi-5",
    edge: EdgeOpt = "nvidia-l4",
    tokens: Annotated[int, typer.Option(help="prefill tokens [token]")] = 256,
    measured: Annotated[
        bool,
        typer.Option(help="also time each layer of the embedded Gemma 3 270M on this machine (torchllm)"),
    ] = False,
    repeats: Annotated[int, typer.Option(help="timed forwards (measured)")] = 1,
    output: OutOpt = None,
) -> None:
    """Per-layer parameters, FLOPs, bytes, KV cache, hidden-state size and roofline latency (S1)-(S3)."""
    from genoffload.io import check_output

    if output is not None:
        check_output(output)
    from genoffload.split import profile

    frame = profile.profile_table(model, ue, edge, tokens, measured=measured, repeats=repeats)
    _write_parquet(frame, output)
    _table(frame, f"{model}: per-layer profile, {tokens} prefill tokens")


@app.command("evaluate")
@user_errors
def evaluate_cmd(
    split: Annotated[int, typer.Option(help="UE runs layers 1..split (0..L)")],
    bits: Annotated[int, typer.Option(help="hidden-state precision (4, 8, 16)")] = 8,
    model: ModelOpt = "gemma3-270m",
    ue: UEOpt = "raspberry-pi-5",
    edge: EdgeOpt = "nvidia-l4",
    sinr_db: Annotated[float, typer.Option(help="uplink SINR [dB]")] = 12.0,
    erasure: Annotated[float, typer.Option(help="element erasure probability [1]")] = 0.0,
    rate: Annotated[
        float | None, typer.Option(help="given uplink rate [bit/s] (else from the SINR, S4)")
    ] = None,
    n_rb: Annotated[int, typer.Option(help="uplink RBs")] = 25,
    prompt: Annotated[int, typer.Option(help="prompt tokens")] = 256,
    output_tokens: Annotated[int, typer.Option("--output-tokens", help="output tokens")] = 64,
    objective: Annotated[str, typer.Option(help="paper (S13) or delay (S14)")] = "paper",
    measure: Annotated[
        bool, typer.Option(help="measure the perplexity on the embedded Gemma 3 270M (torchllm; cached)")
    ] = False,
    window: Annotated[int, typer.Option(help="perplexity window [token]")] = 128,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    output: OutOpt = None,
) -> None:
    """Delay (prefill, decode, request), UE energy and memory, and optionally the real perplexity."""
    from genoffload.io import check_output
    from genoffload.split.channel import ChannelState, check_bits, check_state
    from genoffload.split.config import get_config, get_device
    from genoffload.split.problem import SplitProblem, check_rate, check_split

    if output is not None:
        check_output(output)
    cfg = get_config(model)
    check_split(split, cfg.layers)
    check_bits(bits)
    if rate is not None:
        check_rate(rate, "rate")
    state = check_state(ChannelState(sinr_db, erasure))
    problem = SplitProblem(
        cfg,
        get_device(ue, "ue"),
        get_device(edge, "edge"),
        n_rb=n_rb,
        rate_up=rate,
        prompt=prompt,
        output=output_tokens,
        objective=objective,
    )
    if measure:
        from genoffload.split.quality import measured_embedded

        quality, runner = measured_embedded(window)
        runner.prepare()
        ppl0 = runner.ppl0
    else:
        ppl0 = math.nan

        def quality(s: int, b: int, st: Any) -> float:
            return math.nan

    row = problem.evaluate((split, bits), state, quality, ppl0)
    if output is not None:
        import polars as pl

        _write_parquet(pl.DataFrame([row]), output)
    if json_:
        print_json(row)
        return
    import polars as pl

    _table(
        pl.DataFrame([{k: v for k, v in row.items()}]).transpose(include_header=True, column_names=["value"]),
        f"split {split} at {bits} bits, {state.sinr_db:g} dB, erasure {state.erasure:g}",
    )


@app.command("bound")
@user_errors
def bound_cmd(
    study: StudyOpt = "split",
    seed: Annotated[int, typer.Option(help="seed of the states")] = 0,
    output: OutOpt = None,
) -> None:
    """Exhaustive optimum of every held-out channel state of a split study's base case (certified)."""
    from genoffload.io import check_output

    if output is not None:
        check_output(output)
    from genoffload.studies.split_runner import bound_table, load_split_study

    frame = bound_table(load_split_study(study).base, seed)
    _write_parquet(frame, output)
    _table(frame, "exhaustive bound per channel state")


@app.command("train")
@user_errors
def train_cmd(
    policy: Annotated[str, typer.Option(help="split policy")] = "mbrl-argmax",
    budget: Annotated[int, typer.Option(help="real evaluations for the surrogate")] = 12,
    study: StudyOpt = "split",
    seed: Annotated[int, typer.Option(help="seed")] = 0,
    json_: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Fit a split policy on the training states; regret against the bound on the held-out states."""
    from genoffload.studies.split_runner import load_split_study, train_policy

    result = train_policy(load_split_study(study).base, policy, budget, seed)
    if json_:
        print_json(result)
        return
    import polars as pl

    _table(
        pl.DataFrame(result["decisions"]),
        f"{policy}: {result['evaluations']} real evaluations, "
        f"mean relative regret {result['relative_regret']:.3%}",
    )


@app.command("run")
@user_errors
def run_cmd(
    study: Annotated[str, typer.Argument(help="split study TOML, or 'split' (shipped)")] = "split",
    output: Annotated[Path, typer.Option("-o", help="study folder")] = Path("runs/split"),
) -> None:
    """Run a split study: every case and seed (resumable), summary/curves Parquet and report panels."""
    from genoffload.io import check_output_folder
    from genoffload.studies.split_runner import load_split_study, run_split_study

    check_output_folder(output)
    spec = load_split_study(study)

    summary = run_split_study(spec, output)
    console().print(f"{len(summary)} cells; {output}/summary.parquet, curves.parquet, report.html")
