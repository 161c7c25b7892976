"""``genoffload icl run``: an online episode driven by the ICL offloading policy."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from genoffload.cli.common import console, episode_table, jsonable, user_errors, write_atomic
from genoffload.errors import InputError, validation_error
from genoffload.io import check_output_folder
from genoffload.llm.deadline import DEFAULT_DEADLINE_S
from genoffload.sizes import check_episode_size, check_seed

app = typer.Typer(help="In-context-learning offloading policy (paper Sec. III).",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def _icl() -> None:
    """In-context-learning offloading policy (paper Sec. III)."""


def _scenario(path: Path | None) -> Any:
    from genoffload.cli.common import warn_unbindable
    from genoffload.scenario import make_config, read_config_file

    if path is not None and path.suffix.lower() in (".nc", ".netcdf", ".h5", ".hdf5"):
        raise InputError("scenario", str(path), "icl run takes a scenario config (TOML or JSON with "
                         "the generator's keys, e.g. sites, users), which draws a new scenario every "
                         "step; got a scenario file (NetCDF)")
    cfg = make_config({}) if path is None else make_config(read_config_file(path), prefix="config")
    warn_unbindable(cfg)
    return cfg


def summary_table(stats: dict[str, Any], title: str) -> Any:
    """The closing summary as a rich table (decision sources and LLM latency added)."""
    return episode_table(stats, title, [
        ("decisions (llm / explore / mask / fallback)",
         f"{stats['decisions']} ({stats['llm']} / {stats['explorations']} / {stats['masked']} / "
         f"{stats['fallbacks']})"),
        ("median LLM latency [ms]", f"{1e3 * stats['median_llm_latency_s']:.1f}")])


@app.command("run")
@user_errors
def run_cmd(
    scenario: Annotated[Path | None, typer.Argument(
        help="scenario config (TOML/JSON); default: the paper setting")] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="output folder")] = Path("runs/icl"),
    llm: Annotated[str, typer.Option(
        help="embedded | embedded:PATH | openai:MODEL@URL | ollama:MODEL | fake:A,B")] = "embedded",
    steps: Annotated[int, typer.Option(help="episode steps")] = 300,
    replay: Annotated[str, typer.Option(
        help="prioritized (the paper) or latest (baseline 1)")] = "prioritized",
    epsilon: Annotated[str, typer.Option(
        help="constant:EPS | linear:START:FLOOR:STEPS | exp:START:FLOOR:HALFLIFE (constant:0 = "
             "baseline 2)")] = "",
    examples: Annotated[int, typer.Option(help="most examples in a prompt")] = 20,
    seed: Annotated[int, typer.Option(help="random seed of the episode")] = 0,
    token_noise: Annotated[float, typer.Option(help="relative std of the estimated output size")] = 0.0,
    labels: Annotated[str, typer.Option(help="decision words LOCAL,OFFLOAD")] = "edge,cloud",
    keywords: Annotated[str, typer.Option(help="extra keywords: link, load (comma-separated)")] = "",
    calibrate: Annotated[str, typer.Option(
        help="content-free calibration: no-hint (queries without a repeated example), always, off")
    ] = "no-hint",
    clock: Annotated[str, typer.Option(
        help="what epsilon counts: keywords (decisions with the same keywords) or step")] = "keywords",
    explore: Annotated[str, typer.Option(
        help="exploring decision: untried (novelty first) or random (fair coin)")] = "untried",
    mask_bad: Annotated[bool, typer.Option(
        help="never repeat a decision that violated a constraint for the same keywords")] = True,
    threads: Annotated[int, typer.Option(help="CPU threads of the embedded model")] = 1,
    deadline: Annotated[float, typer.Option(
        help="time budget of one LLM decision of a served model, every try and the whole reply "
             "included [s]; then the quality rule decides (counted)")] = DEFAULT_DEADLINE_S,
    arrival_prob: Annotated[float, typer.Option(help="task request probability per user and step")] = 0.05,
) -> None:
    """Run an online episode with the ICL policy; write DIR/episode.nc and DIR/summary.json."""
    from pydantic import ValidationError

    from genoffload.episode import EpisodeConfig, summary
    from genoffload.llm import chat_model
    from genoffload.models.reference import run_certified_episode
    from genoffload.policies.icl import DEFAULT_EPSILON, ICLPolicy, ICLSettings, parse_epsilon

    # --- validate everything before loading a model or touching the output folder ---
    if steps < 1:
        raise InputError("steps", steps, "must be >= 1")
    if threads < 1:
        raise InputError("threads", threads, "must be >= 1")
    check_output_folder(output)
    check_seed(seed)
    schedule = parse_epsilon(epsilon or DEFAULT_EPSILON)
    words = tuple(w.strip() for w in labels.split(","))
    if len(words) != 2:
        raise InputError("labels", labels, "expected two words LOCAL,OFFLOAD")
    extras = tuple(w.strip() for w in keywords.split(",") if w.strip())
    settings = ICLSettings(replay=replay, epsilon=schedule.spec, max_examples=examples,
                           labels=words, extras=extras, calibrate=calibrate, clock=clock,
                           explore=explore, mask_bad=mask_bad, deadline_s=deadline)
    try:
        config = EpisodeConfig(steps=steps, seed=seed, token_noise=token_noise, arrival_prob=arrival_prob)
    except ValidationError as err:
        raise validation_error(err, names={"token_noise": "token-noise", "arrival_prob": "arrival-prob"},
                               depth=1) from None
    base = _scenario(scenario)
    check_episode_size(steps, base.users * base.sites, arrival_prob)

    out = console()
    t_load = time.perf_counter()
    model = chat_model(llm, threads)
    policy = ICLPolicy(model, settings)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    t0 = time.perf_counter()
    with Progress(TextColumn("[bold]icl[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=out, transient=True) as bar:
        task = bar.add_task("", total=steps)

        def progress(t: int, info: dict[str, float]) -> None:
            c = policy.counters
            bar.update(task, completed=t + 1, description=(
                f"reward {info['reward']:7.2f}  pool {len(policy.pool):3d}  "
                f"llm {c.llm} explore {c.explore} mask {c.mask} fallback {c.fallback}"))

        ds = run_certified_episode(base, policy, config, progress=progress)
    elapsed = time.perf_counter() - t0
    stats = summary(ds)
    sources = ds["source"].values
    llm_lat = ds["latency_s"].values[sources == "llm"]
    stats.update({
        "decisions": int(ds.sizes["decision"]),
        "llm": int((sources == "llm").sum()),
        "median_llm_latency_s": float(sorted(llm_lat)[len(llm_lat) // 2]) if llm_lat.size else 0.0,
        "decisions_per_s": ds.sizes["decision"] / elapsed if elapsed > 0 else 0.0,
        "elapsed_s": elapsed,
        "load_s": t0 - t_load,
    })
    ds.attrs.update({"llm": llm, "icl_settings": json.dumps(jsonable(policy.describe()["settings"]))})
    output.mkdir(parents=True, exist_ok=True)
    write_atomic(output / "episode.nc", lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
    doc = {"summary": stats, "llm": llm, "policy": policy.describe(),
           "episode": config.model_dump(), "scenario": str(scenario) if scenario else "paper setting"}
    write_atomic(output / "summary.json",
                 lambda tmp: tmp.write_text(json.dumps(jsonable(doc), indent=2) + "\n"))
    out.print(summary_table(stats, f"ICL episode ({replay} replay, epsilon {schedule.spec}, {llm})"))
    out.print(f"wrote {output / 'episode.nc'} and {output / 'summary.json'}")
