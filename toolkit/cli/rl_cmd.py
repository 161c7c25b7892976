"""``genoffload rl train`` and ``genoffload rl eval``: RL agents on the episode runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from genoffload.cli.common import console, episode_table, jsonable, user_errors, write_atomic
from genoffload.errors import InputError
from genoffload.io import check_output, check_output_folder
from genoffload.sizes import check_episode_size, check_seed

app = typer.Typer(help="Reinforcement-learning baselines: tabular Q-learning and DQN (paper baseline 3).",
                  no_args_is_help=True, pretty_exceptions_enable=False)
SUFFIX = {"q-learning": ".npz", "dqn": ".zip"}


@app.callback()
def _rl() -> None:
    """Reinforcement-learning baselines: tabular Q-learning and DQN (paper baseline 3)."""


def _scenario(path: Path | None) -> Any:
    from genoffload.cli.common import warn_unbindable
    from genoffload.rl import scenario_config

    cfg = scenario_config(path)
    warn_unbindable(cfg)
    return cfg


def _options(arrival_prob: float, token_noise: float, scheduler: str, observe: str | None = None) -> Any:
    from genoffload.rl import env_options

    names = {"arrival_prob": "arrival-prob", "token_noise": "token-noise"}
    opts: dict[str, Any] = {"arrival_prob": arrival_prob, "token_noise": token_noise, "scheduler": scheduler}
    if observe is not None and observe != "auto":
        opts["extras"] = tuple(w.strip() for w in observe.split(",") if w.strip() and w.strip() != "none")
    try:
        return env_options(opts, prefix="")
    except InputError as err:
        field = err.field.lstrip(".")
        raise InputError(names.get(field, "observe" if field == "extras" else field), err.value,
                         err.reason) from None


@contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A transient rich progress bar; yields ``progress(done, total)``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(f"[bold]{label}[/] runner steps"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), console=console(), transient=True) as bar:
        task = bar.add_task("", total=total)
        yield lambda done, _total: bar.update(task, completed=done)


@app.command("train")
@user_errors
def train_cmd(
    scenario: Annotated[Path | None, typer.Argument(
        help="scenario config (TOML/JSON); default: the paper setting")] = None,
    algo: Annotated[str, typer.Option(help="q-learning or dqn (needs the drl extra)")] = "q-learning",
    steps: Annotated[int | None, typer.Option(
        help="training budget [runner steps]; default 300 (q-learning), 600 (dqn)")] = None,
    seed: Annotated[int, typer.Option(help="seed of the training scenarios and exploration")] = 0,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="agent file; default runs/rl/ALGO.npz|.zip")] = None,
    epsilon: Annotated[str | None, typer.Option(
        help="q-learning exploration over state visits: constant:EPS | linear:START:FLOOR:N | "
             "exp:START:FLOOR:HALFLIFE (default exp:1:0.02:4)")] = None,
    explore: Annotated[str, typer.Option(
        help="q-learning: an exploring task takes the untried action of its state (untried) or a coin "
             "(random)")] = "untried",
    learning_rate: Annotated[float | None, typer.Option(
        help="q-learning step size in (0, 1] (default 1/n); dqn: the optimizer's learning rate")] = None,
    discount: Annotated[float, typer.Option(help="discount factor in [0, 1) (default 0: one-step)")] = 0.0,
    observe: Annotated[str, typer.Option(
        help="optional observation components: auto, none, or link,load")] = "auto",
    arrival_prob: Annotated[float, typer.Option(help="task request probability per user and step")] = 0.05,
    token_noise: Annotated[float, typer.Option(help="relative std of the estimated output size")] = 0.0,
    scheduler: Annotated[str, typer.Option(help="pf, round-robin or max-rate")] = "pf",
) -> None:
    """Train an agent on the scenario's runner steps and save it."""
    from genoffload.rl import DEFAULT_TRAIN_STEPS, QSettings, train
    from genoffload.rl.agents import check_algo
    from genoffload.rl.dqn import require_sb3

    check_algo(algo)
    n = DEFAULT_TRAIN_STEPS[algo] if steps is None else steps
    if n < 1:
        raise InputError("steps", n, "must be >= 1")
    check_seed(seed)
    path = output or Path("runs/rl") / f"{algo}{SUFFIX[algo]}"
    check_output(path, "output", [scenario] if scenario else [])  # before training
    opts = _options(arrival_prob, token_noise, scheduler, observe)
    base = _scenario(scenario)
    settings: dict[str, Any] = {}
    if algo == "q-learning":
        try:
            q = QSettings(**{k: v for k, v in (("epsilon", epsilon), ("learning_rate", learning_rate))
                             if v is not None}, discount=discount, explore=explore)
        except InputError as err:
            raise InputError(err.field.replace("_", "-"), err.value, err.reason) from None
        settings = {"epsilon": q.epsilon, "learning_rate": q.learning_rate, "discount": q.discount,
                    "explore": q.explore}
    else:
        require_sb3()
        if epsilon is not None:
            raise InputError("epsilon", epsilon, "only for q-learning (dqn decays epsilon linearly)")
        if explore != "untried":
            raise InputError("explore", explore, "only for q-learning")
        if not 0 <= discount < 1:
            raise InputError("discount", discount, "must be in [0, 1)")
        if learning_rate is not None and not learning_rate > 0:
            raise InputError("learning-rate", learning_rate, "must be > 0")
        hyper: dict[str, Any] = {"gamma": discount}
        if learning_rate is not None:
            hyper["learning_rate"] = learning_rate
        settings = {"hyperparameters": hyper}
    opts.observation(base)  # an unknown catalog file fails here, before training
    check_episode_size(n, base.users * base.sites, opts.arrival_prob)
    with _bar(algo, n) as progress:
        result = train(algo, base, n, seed, opts, progress, **settings)
    saved = result.agent.save(path)
    s = result.summary()
    conv = (f"greedy policy converged at runner step {s['converged_step']} (decision "
            f"{s['converged_decision']})" if s["converged_step"] is not None
            else "greedy policy not converged (regret above 1 % of the optimal reward at the end)")
    console().print(f"trained {algo} in {s['time_s']:.1f} s on {n} runner steps ({s['decisions']} "
                    f"decisions, seed {seed}, observation {result.agent.spec.describe()}); {conv}; "
                    f"wrote {saved}")


def summary_table(stats: dict[str, Any], title: str) -> Any:
    """The closing summary of an evaluation episode as a rich table."""
    return episode_table(stats, title)


@app.command("eval")
@user_errors
def eval_cmd(
    scenario: Annotated[Path | None, typer.Argument(
        help="scenario config (TOML/JSON); default: the paper setting")] = None,
    agent: Annotated[Path | None, typer.Option(help="agent file from genoffload rl train")] = None,
    steps: Annotated[int, typer.Option(help="episode steps")] = 300,
    seed: Annotated[int, typer.Option(help="seed of the evaluation episode (training default: 0)")] = 1,
    output: Annotated[Path | None, typer.Option(
        "-o", "--output", help="folder for episode.nc and summary.json")] = None,
    arrival_prob: Annotated[float, typer.Option(help="task request probability per user and step")] = 0.05,
    token_noise: Annotated[float, typer.Option(help="relative std of the estimated output size")] = 0.0,
    scheduler: Annotated[str, typer.Option(help="pf, round-robin or max-rate")] = "pf",
) -> None:
    """Evaluate a trained agent (greedy, no learning) on an online episode."""
    from genoffload.episode import summary
    from genoffload.models.reference import run_certified_episode
    from genoffload.rl import load_agent
    from genoffload.rl.agents import check_observation

    if agent is None:
        raise InputError("agent", None, "required: an agent file from genoffload rl train")
    if steps < 1:
        raise InputError("steps", steps, "must be >= 1")
    check_seed(seed)
    if output is not None:
        check_output_folder(output)
    opts = _options(arrival_prob, token_noise, scheduler)
    base = _scenario(scenario)
    check_episode_size(steps, base.users * base.sites, opts.arrival_prob)
    loaded = load_agent(agent)
    check_observation(loaded, base, str(agent))
    config = opts.episode(steps, seed)
    policy = loaded.online()
    t0 = time.perf_counter()
    with _bar(f"{loaded.algo} eval", steps) as progress:
        ds = run_certified_episode(base, policy, config, progress=lambda t, _: progress(t + 1, steps))
    elapsed = time.perf_counter() - t0
    stats: dict[str, Any] = dict(summary(ds))
    stats.update(decisions=int(ds.sizes["decision"]), elapsed_s=elapsed,
                 decisions_per_s=ds.sizes["decision"] / elapsed if elapsed > 0 else 0.0)
    out = console()
    if output is not None:
        ds.attrs.update({"agent": str(agent), "algo": loaded.algo})
        output.mkdir(parents=True, exist_ok=True)
        write_atomic(output / "episode.nc", lambda tmp: ds.to_netcdf(tmp, engine="h5netcdf"))
        doc = {"summary": stats, "agent": str(agent), "algo": loaded.algo,
               "observation": loaded.spec.to_dict(), "training": loaded.meta.get("training"),
               "episode": config.model_dump(), "scenario": str(scenario) if scenario else "paper setting"}
        write_atomic(output / "summary.json",
                     lambda tmp: tmp.write_text(json.dumps(jsonable(doc), indent=2) + "\n"))
    out.print(summary_table(stats, f"{loaded.algo} (greedy), {steps} steps, seed {seed}"))
    if output is not None:
        out.print(f"wrote {output / 'episode.nc'} and {output / 'summary.json'}")
