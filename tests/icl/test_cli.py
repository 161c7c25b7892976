"""``genoffload icl run`` with a fake model: files, summary, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

from genoffload.cli import icl_cmd

runner = CliRunner()


def run(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(icl_cmd.app, ["run", *args])


def test_run_writes_episode_and_summary(tmp_path: Path) -> None:
    out = tmp_path / "icl"
    res = run("--llm", "fake:edge,cloud,cloud", "--steps", "8", "--seed", "3", "--epsilon",
              "constant:0.25", "-o", str(out))
    assert res.exit_code == 0, res.output
    assert "mean reward [s]" in res.output and "decisions/s" in res.output
    assert "median LLM latency [ms]" in res.output  # units survive rich markup
    doc = json.loads((out / "summary.json").read_text())
    s = doc["summary"]
    for key in ("mean_reward", "optimal_reward", "regret", "success_rate", "tail_reward_ratio",
                "fallbacks", "decisions_per_s"):
        assert key in s
    assert doc["policy"]["settings"]["epsilon"] == "constant:0.25"
    with xr.open_dataset(out / "episode.nc", engine="h5netcdf") as ds:
        assert ds.sizes["decision"] == s["decisions"]
        assert set(ds["source"].values.astype(str)) <= {"llm", "explore", "mask", "fallback"}
        assert ds.attrs["llm"] == "fake:edge,cloud,cloud"
    assert not list(out.glob(".*.tmp"))


def test_scenario_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "s.toml"
    cfg.write_text("users = 5\nquality_share = 1.0\n")
    res = run(str(cfg), "--llm", "fake:cloud", "--steps", "4", "--epsilon", "0", "-o",
              str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())["summary"]
    assert s["success_rate"] == 1.0 and s["regret"] == pytest.approx(0.0, abs=1e-9)


def test_garbage_model_falls_back(tmp_path: Path) -> None:
    res = run("--llm", "fake:maybe", "--steps", "3", "--epsilon", "0", "-o", str(tmp_path / "o"))
    assert res.exit_code == 0, res.output
    s = json.loads((tmp_path / "o" / "summary.json").read_text())["summary"]
    assert s["fallbacks"] == s["decisions"] > 0


@pytest.mark.parametrize(("args", "field"), [
    (["--epsilon", "linear:0.5"], "epsilon"),
    (["--epsilon", "exp:2:0:10"], "epsilon"),
    (["--replay", "random"], "replay"),
    (["--examples", "0"], "examples"),
    (["--steps", "0"], "steps"),
    (["--token-noise", "-1"], "token-noise"),
    (["--llm", "gpt5"], "llm"),
    (["--labels", "edge"], "labels"),
    (["--keywords", "weather"], "keywords"),
    (["missing.toml"], "config"),
    (["--deadline", "0"], "deadline"),
    (["runs/s.nc"], "scenario"),
])
def test_bad_options_one_line_exit_2(tmp_path: Path, args: list[str], field: str) -> None:
    out = tmp_path / "o"
    res = run("--llm", "fake:edge", "--steps", "2", *args, "-o", str(out)) if "--llm" not in args \
        else run("--steps", "2", *args, "-o", str(out))
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"error: {field}"), res.output
    assert not out.exists()  # nothing written on bad input


def test_bad_scenario_value(tmp_path: Path) -> None:
    cfg = tmp_path / "s.json"
    cfg.write_text('{"users": 0}')
    res = run(str(cfg), "--llm", "fake:edge", "-o", str(tmp_path / "o"))
    assert res.exit_code == 2 and "config.users" in res.output
    assert not (tmp_path / "o").exists()
