"""``genoffload rl train|eval`` and ``evaluate --policy q-learning``: happy paths, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from genoffload.cli import rl_cmd
from genoffload.cli.app import app

runner = CliRunner()


def rl(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(rl_cmd.app, list(args))


def one_error_line(res, field: str) -> None:  # type: ignore[no-untyped-def]
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), res.output
    assert "Traceback" not in res.output


def test_train_then_eval(tmp_path: Path) -> None:
    agent = tmp_path / "agents" / "q.npz"
    res = rl("train", "--steps", "40", "--seed", "2", "-o", str(agent))
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "trained q-learning in" in text and "on 40 runner steps" in text and f"wrote {agent}" in text
    assert agent.is_file() and not list(agent.parent.glob(".*.tmp"))
    out = tmp_path / "eval"
    res = rl("eval", "--agent", str(agent), "--steps", "20", "--seed", "5", "-o", str(out))
    assert res.exit_code == 0, res.output
    for row in ("mean reward", "optimal reward", "regret", "success rate", "tail reward ratio"):
        assert row in res.output
    doc = json.loads((out / "summary.json").read_text())
    assert doc["algo"] == "q-learning" and doc["training"]["steps"] == 40
    with xr.open_dataset(out / "episode.nc", engine="h5netcdf") as ds:
        assert ds.sizes["decision"] == doc["summary"]["decisions"]
        assert set(ds["source"].values.astype(str)) == {"rl"}


def test_evaluate_with_agent_and_on_the_fly(tmp_path: Path, q_file: Path) -> None:
    scen = tmp_path / "s.nc"
    assert runner.invoke(app, ["scenario", "generate", "--users", "8", "--seed", "3", "-o",
                               str(scen)]).exit_code == 0
    res = runner.invoke(app, ["evaluate", str(scen), "--policy", "q-learning", "--policy",
                              "quality-rule", "--agent", str(q_file), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output[res.output.index("{"):])
    totals = {r["policy"]: r["totals"]["mean_reward"] for r in doc["results"]}
    assert totals["q-learning"] == totals["quality-rule"]  # the paper setting's optimum
    res = runner.invoke(app, ["evaluate", str(scen), "--policy", "all"])
    assert res.exit_code == 0 and "q-learning" not in res.output and "dqn" not in res.output
    res = runner.invoke(app, ["evaluate", str(scen), "--policy", "all", "--agent", str(q_file)])
    assert res.exit_code == 0 and "q-learning" in res.output


def test_evaluate_dqn_without_agent(tmp_path: Path) -> None:
    scen = tmp_path / "s.nc"
    runner.invoke(app, ["scenario", "generate", "--users", "4", "-o", str(scen)])
    res = runner.invoke(app, ["evaluate", str(scen), "--policy", "dqn"])
    one_error_line(res, "agent: the dqn policy needs a trained agent")
    assert "genoffload rl train --algo dqn" in res.output
    res = runner.invoke(app, ["evaluate", str(scen), "--policy", "quality-rule", "--agent", "x.npz"])
    one_error_line(res, "agent")


@pytest.mark.parametrize(("args", "field"), [
    (["--algo", "sarsa"], "algo"),
    (["--steps", "0"], "steps"),
    (["--seed", "-1"], "seed"),
    (["--epsilon", "linear:0.5"], "epsilon"),
    (["--learning-rate", "2"], "learning-rate"),
    (["--discount", "1"], "discount"),
    (["--explore", "never"], "explore"),
    (["--observe", "weather"], "observe"),
    (["--arrival-prob", "0"], "arrival-prob"),
    (["--token-noise", "-1"], "token-noise"),
    (["--scheduler", "fifo"], "scheduler"),
    (["missing.toml"], "config"),
])
def test_train_bad_input(tmp_path: Path, args: list[str], field: str) -> None:
    out = tmp_path / "a.npz"
    one_error_line(rl("train", "--steps", "2", *args, "-o", str(out)) if "--steps" not in args
                   else rl("train", *args, "-o", str(out)), field)
    assert not out.exists()


def test_train_output_is_a_folder(tmp_path: Path) -> None:
    one_error_line(rl("train", "--steps", "2", "-o", str(tmp_path)), "output")


def test_eval_bad_input(tmp_path: Path, q_file: Path, other_catalog: Path) -> None:
    out = tmp_path / "o"
    junk = tmp_path / "junk.npz"
    junk.write_text("hello")
    one_error_line(rl("eval", "--steps", "2", "-o", str(out)), "agent: required")
    one_error_line(rl("eval", "--agent", str(tmp_path / "none.npz"), "-o", str(out)), "agent: no such file")
    one_error_line(rl("eval", "--agent", str(junk), "-o", str(out)), "agent: not a genoffload agent file")
    one_error_line(rl("eval", str(other_catalog), "--agent", str(q_file), "-o", str(out)),
                   "agent: trained for observation space")
    one_error_line(rl("eval", "--agent", str(q_file), "--steps", "0"), "steps")
    one_error_line(rl("eval", "--agent", str(q_file), "--seed", "-3"), "seed")
    assert not out.exists()


def test_usage_error_through_the_console_script(q_file: Path) -> None:
    """A non-number option value (click's usage error) is one line, exit 2, via ``main``."""
    res = subprocess.run([sys.executable, "-c", "from genoffload.cli.app import main; main()", "rl", "eval",
                          "--agent", str(q_file), "--steps", "abc"], capture_output=True, text=True)
    assert res.returncode == 2 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "rl eval: Invalid value for '--steps'" in lines[0]


@pytest.mark.drl
def test_train_and_eval_dqn(tmp_path: Path) -> None:
    pytest.importorskip("stable_baselines3", reason="needs the drl extra: pip install -e '.[drl]'")
    agent = tmp_path / "d.zip"
    res = rl("train", "--algo", "dqn", "--steps", "20", "--discount", "0.5", "-o", str(agent))
    assert res.exit_code == 0, res.output
    assert "trained dqn in" in " ".join(res.output.split()) and agent.is_file()
    res = rl("eval", "--agent", str(agent), "--steps", "5")
    assert res.exit_code == 0 and "tail reward ratio" in res.output, res.output
    one_error_line(rl("train", "--algo", "dqn", "--epsilon", "0.1", "-o", str(tmp_path / "e.zip")),
                   "epsilon")
