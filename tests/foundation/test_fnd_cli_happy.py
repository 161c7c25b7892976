"""CLI happy paths: generate, show --json, evaluate --json / -o Parquet, demo, --version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import genoffload
from genoffload.cli.app import app
from genoffload.evaluate import evaluate
from genoffload.scenario import load_scenario
from genoffload.schedulers import proportional_fair

runner = CliRunner()
OFFLOADING = {"all-cloud", "all-edge", "greedy", "quality-rule"}
TASK_KEYS = {"task", "user", "service", "service_class", "units", "alpha", "t_radio", "t_backhaul",
             "t_gen", "t_total", "quality_ok", "constraints_ok", "reward"}
TOTAL_KEYS = {"objective", "radio_part", "mean_delay", "mean_reward", "quality_success",
              "preferred_success", "constraints_ok", "offloaded_share", "feasible", "decide_s"}


def invoke_ok(args: list[str]) -> Any:
    res = runner.invoke(app, args)
    assert res.exit_code == 0, f"{res.exception!r}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def generated_nc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "deep" / "s.nc"  # missing parents are created
    res = invoke_ok(["scenario", "generate", "-o", str(path), "--users", "3", "--rbs", "6",
                     "--seed", "7", "--set", "tasks_per_user=[1,2]", "--set", "quality_share=0.5"])
    assert str(path) in res.stdout and "1 cells, 3 users, 6 RBs" in res.stdout
    return path


def test_generate_then_show_json(generated_nc: Path) -> None:
    ds = load_scenario(generated_nc)
    info = json.loads(invoke_ok(["scenario", "show", str(generated_nc), "--json"]).stdout)
    assert info["source"] == "generated"
    assert (info["cells"], info["users"], info["rbs"]) == (1, 3, 6)
    assert info["tasks"] == ds.sizes["task"] and 3 <= info["tasks"] <= 6
    assert sum(info["services"].values()) == info["tasks"]
    assert info["edge_model"] == "llama3-8b" and info["cloud_model"] == "gpt-4o"
    assert info["rate_min_bps"] <= info["rate_mean_bps"] <= info["rate_max_bps"]
    assert info["rate_mean_bps"] == pytest.approx(float(ds["rate"].mean()))
    assert info["content_bits_total"] == pytest.approx(float(ds["content_bits"].sum()))
    assert json.loads(ds.attrs["config"])["seed"] == 7


def test_generate_is_reproducible_and_config_file_precedence(tmp_path: Path) -> None:
    (tmp_path / "c.toml").write_text("users = 2\nrbs = 4\nseed = 1\n")
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    invoke_ok(["scenario", "generate", "--config", str(tmp_path / "c.toml"), "-o", str(a)])
    # --set overrides the file, --users/--seed override --set
    invoke_ok(["scenario", "generate", "--config", str(tmp_path / "c.toml"), "--set", "users=5",
               "--users", "2", "--set", "seed=9", "--seed", "1", "-o", str(b)])
    assert load_scenario(a).identical(load_scenario(b))
    c = tmp_path / "c.nc"
    invoke_ok(["scenario", "generate", "--config", str(tmp_path / "c.toml"), "--set", "users=3",
               "-o", str(c)])
    assert load_scenario(c).sizes["user"] == 3


def test_show_json_of_explicit_and_save_full_form(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "full.nc"
    info = json.loads(invoke_ok(["scenario", "show", str(data_dir / "f_valid.json"), "--json",
                                 "-o", str(out)]).stdout)
    assert info["source"] == "explicit"
    assert (info["cells"], info["users"], info["rbs"], info["tasks"]) == (1, 3, 4, 3)
    assert info["services"] == {"chat": 1, "math": 1, "science": 1}
    assert info["preferred_share"] == pytest.approx(2 / 3)
    assert info["rate_max_bps"] == 950_000 and info["rate_min_bps"] == 95_000
    assert load_scenario(out).identical(load_scenario(data_dir / "f_valid.json"))


def test_show_table(data_dir: Path) -> None:
    out = invoke_ok(["scenario", "show", str(data_dir / "f_valid.json")]).stdout
    assert "explicit" in out and "llama3-8b" in out


def test_evaluate_all_json(generated_nc: Path) -> None:
    payload = json.loads(invoke_ok(["evaluate", str(generated_nc), "--policy", "all",
                                    "--json"]).stdout)
    ds = load_scenario(generated_nc)
    assert payload["scenario"] == str(generated_nc)
    results = {r["policy"]: r for r in payload["results"]}
    assert OFFLOADING | {"exact"} <= set(results)
    assert [r["policy"] for r in payload["results"]] == sorted(results)  # 'all' = sorted names
    for name, r in results.items():
        assert r["scheduler"] == ("joint" if name == "exact" else "pf"), name
        assert set(r["totals"]) == TOTAL_KEYS
        assert len(r["tasks"]) == ds.sizes["task"]
        assert set(r["tasks"][0]) == TASK_KEYS
        assert r["totals"]["objective"] == pytest.approx(sum(t["t_total"] for t in r["tasks"]))
        assert len(r["users"]["capacity_bps"]) == len(r["users"]["n_rb"]) == ds.sizes["user"]
        for t in r["tasks"]:
            assert t["reward"] == pytest.approx(
                ds.attrs["t_target_s"] - t["t_total"]
                - (0.0 if t["constraints_ok"] else ds.attrs["penalty_s"]))
    # the CLI's numbers are the evaluator's
    pf = proportional_fair(ds)
    ref = evaluate(ds, pf, np.ones(ds.sizes["task"], dtype=bool))
    assert results["all-cloud"]["totals"]["objective"] == pytest.approx(ref.attrs["objective"])
    assert all(t["alpha"] for t in results["all-cloud"]["tasks"])
    assert not any(t["alpha"] for t in results["all-edge"]["tasks"])
    # the exact optimum is no worse than any heuristic
    best = min(results[n]["totals"]["objective"] for n in OFFLOADING
               if results[n]["totals"]["feasible"])
    assert results["exact"]["totals"]["objective"] <= best + 1e-6 * best


def test_evaluate_default_policy_and_scheduler_option(data_dir: Path) -> None:
    payload = json.loads(invoke_ok(["evaluate", str(data_dir / "f_valid.json"), "--json",
                                    "--scheduler", "round-robin"]).stdout)
    assert [(r["policy"], r["scheduler"]) for r in payload["results"]] == [
        ("quality-rule", "round-robin")]
    # round robin over 3 users and 4 RBs: RBs 0 and 3 to user 0, RB 1 to user 1, RB 2 to user 2
    assert payload["results"][0]["users"]["n_rb"] == [2, 1, 1]


def test_evaluate_json_writes_inf_for_a_starved_user(tmp_path: Path) -> None:
    # max-rate gives every RB to the 10x stronger user 0: user 1 has C = 0, its delay is inf
    doc = {"user_cell": [0, 0], "rate_bps": [[1e6, 1e6], [1e5, 1e5]],
           "tasks": [{"user": 0, "service": "chat", "output_tokens": 10},
                     {"user": 1, "service": "chat", "output_tokens": 10}]}
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    payload = json.loads(invoke_ok(["evaluate", str(path), "--scheduler", "max-rate",
                                    "--json"]).stdout)
    r = payload["results"][0]
    assert r["users"]["n_rb"] == [2, 0] and r["users"]["capacity_bps"] == [2e6, 0.0]
    assert r["tasks"][1]["t_radio"] == "inf" and r["tasks"][1]["t_total"] == "inf"
    assert r["tasks"][1]["reward"] == "-inf"
    assert r["totals"]["objective"] == "inf"
    assert r["totals"]["feasible"] == 0  # an undeliverable task makes the plan infeasible
    assert r["tasks"][0]["t_radio"] == pytest.approx(10 * 32 / 2e6)


def test_evaluate_table(data_dir: Path) -> None:
    out = invoke_ok(["evaluate", str(data_dir / "f_valid.json"), "--policy", "greedy",
                     "--policy", "all-edge"]).stdout
    assert "greedy" in out and "all-edge" in out and "objective" in out


def test_evaluate_writes_parquet(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "new" / "out.parquet"
    invoke_ok(["evaluate", str(data_dir / "f_valid.json"), "--policy", "greedy", "--policy",
               "all-cloud", "-o", str(out)])
    df = pl.read_parquet(out)
    assert df.height == 2 * 3
    assert TASK_KEYS | {"policy"} <= set(df.columns)
    assert sorted(set(df["policy"].to_list())) == ["all-cloud", "greedy"]
    assert df.filter(pl.col("policy") == "all-cloud")["alpha"].all()
    assert [p.name for p in out.parent.iterdir()] == ["out.parquet"]  # no temporary file left


def test_demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo is a 7-site, 20-user scenario whose exact solve takes ~10 s; shrink it to 2 users
    # per cell and 6 RBs (the demo reads make_config from genoffload.scenario at call time).
    real = genoffload.scenario.make_config
    monkeypatch.setattr(genoffload.scenario, "make_config",
                        lambda overrides=None, **kw: real({**(overrides or {}), "users": 2,
                                                           "rbs": 6}, **kw))
    out = tmp_path / "demo"
    res = invoke_ok(["demo", "-o", str(out), "--seed", "4"])
    ds = load_scenario(out / "scenario.nc")
    assert ds.sizes["cell"] == 7 and ds.sizes["user"] == 14
    assert ds.attrs["seed"] == 4
    for name in [*OFFLOADING, "exact", "round-robin", "joint"]:
        assert name in res.stdout, name


def test_version() -> None:
    assert invoke_ok(["--version"]).stdout.strip() == genoffload.__version__
