"""A real, small study folder for the report tests, in the study runner's results schema.

Episode cells run :func:`genoffload.episode.run_episode` (rule policies, and the ICL policy driven
by LangChain's fake chat model for the replay/exploration variants); snapshot cells run
:func:`genoffload.pipeline.run_policy` and the exact solver :func:`genoffload.models.solve.solve`.
Every number comes from those runs; the four files are written as the runner writes them
(``summary.parquet``, ``curves.parquet``, ``results.nc``, ``metadata.json``). The folder is built
once per test process (module-level cache) and copied or filtered for variants.
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xarray as xr

from genoffload.episode import EpisodeConfig, summary
from genoffload.io import write_atomic
from genoffload.models.reference import run_certified_episode
from genoffload.models.solve import solve
from genoffload.pipeline import run_policy
from genoffload.policy import RulePolicy, Step, StepDecision
from genoffload.scenario import generate, make_config

GRID = ("sites", "users", "rbs", "token_mean", "quality_share", "llm_pair", "edge_model",
        "cloud_model", "families")
METRICS = ("mean_reward", "optimal_reward", "regret", "success_rate", "mean_delay_s",
           "tail_reward_ratio", "tail_success_rate", "objective_s", "radio_part_s",
           "exact_objective_s", "exact_radio_part_s", "gap_total", "gap_radio", "exact_gap",
           "decisions", "fallbacks", "explorations", "decisions_per_s", "wall_s",
           "preferred_success_rate", "feasible")  # the last two: runner extras beyond the schema
INT_METRICS = ("decisions", "fallbacks", "explorations")
# family name -> scenario config keys that switch it on ("min_rate" at 500 Mbit/s: infeasible)
FAMILY_CONFIG: dict[str, dict[str, Any]] = {
    "slo": {"slo": "hard"},
    "concurrency": {"edge_tpot_slope": 0.5},
    "kv": {"kv_bytes_per_token": 1e5, "edge_kv_capacity_gb": 0.05},
    "min_rate": {"min_rate_mbps": 500.0},
}
SEEDS = (0, 1)
EPISODE_STEPS = 6
EPISODE_BASE: dict[str, Any] = {"sites": 1, "users": 4, "rbs": 10, "token_mean": 500.0, "quality_share": 0.5,
                "llm_pair": "llama3-8b+gpt-4o", "families": "none"}
EPISODE_SWEEPS: dict[str, dict[str, list[Any]]] = {
    "users": {"users": [2, 4, 6], "llm_pair": ["llama3-8b+gpt-4o", "gemma-7b+gemini-1.5-pro"]},
    "tokens": {"token_mean": [250.0, 500.0], "llm_pair": ["llama3-8b+gpt-4o",
                                                          "gemma-7b+gemini-1.5-pro"]},
    "quality": {"quality_share": [0.25, 0.5], "llm_pair": ["llama3-8b+gpt-4o",
                                                           "gemma-7b+gemini-1.5-pro"]},
}
EPISODE_POLICIES = ("quality-rule", "all-edge", "greedy", "icl-prioritized", "icl-latest",
                    "icl-no-explore")
SNAPSHOT_BASE: dict[str, Any] = {"sites": 1, "users": 6, "rbs": 8, "token_mean": 500.0, "quality_share": 0.5,
                 "llm_pair": "llama3-8b+gpt-4o", "families": "none"}
SNAPSHOT_SWEEPS: dict[str, dict[str, list[Any]]] = {
    "families": {"families": ["none", "concurrency", "kv", "min_rate"]},
    "users": {"users": [4, 6, 8]},
}
SNAPSHOT_POLICIES = ("quality-rule", "greedy", "all-edge", "all-cloud", "exact")
STUDY_TEXT = """[study]
name = "report-fixture"
description = "small real study for the report tests (episode and snapshot cells)"
seeds = [0, 1]
steps = 6
"""


class DelayRecorder:
    """Wraps an online policy and records the mean service delay [s] of each step it observes."""

    def __init__(self, policy: Any) -> None:
        self.policy = policy
        self.name = policy.name
        self.delays: list[float] = []
        self.preferred_ok: list[float | None] = []

    def act(self, step: Step) -> StepDecision:
        decision: StepDecision = self.policy.act(step)
        return decision

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        self.delays.append(float(result["t_total"].values.mean()))
        pref = step.scenario["service_class"].values == "preferred"
        ok = result["quality_ok"].values[pref]
        self.preferred_ok.append(float(ok.mean()) if ok.size else None)
        self.policy.observe(step, decision, result)


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]


def expand_cases(base: dict[str, Any], sweeps: dict[str, dict[str, list[Any]]]) -> list[dict[str, Any]]:
    """Cases of a study: every sweep's grid over the base, deduplicated, sweeps joined by ``+``."""
    cases: dict[str, dict[str, Any]] = {}
    for name, grid in sweeps.items():
        keys = list(grid)
        for values in np.array(np.meshgrid(*[np.arange(len(grid[k])) for k in keys])).T.reshape(
                -1, len(keys)):
            case = {**base, **{k: grid[k][int(i)] for k, i in zip(keys, values, strict=True)}}
            cid = _hash({k: case[k] for k in sorted(case)})
            if cid in cases:
                cases[cid]["sweep"] += f"+{name}"
            else:
                cases[cid] = {**case, "case_id": cid, "sweep": name}
    for case in cases.values():
        case["edge_model"], case["cloud_model"] = case["llm_pair"].split("+")
    return list(cases.values())


def scenario_config(case: dict[str, Any], seed: int) -> Any:
    """The case's :class:`~genoffload.scenario.ScenarioConfig` for one seed."""
    extra: dict[str, Any] = {}
    for fam in case["families"].split("+"):
        extra.update(FAMILY_CONFIG.get(fam, {}))
    return make_config({"sites": case["sites"], "users": case["users"], "rbs": case["rbs"],
                        "token_mean": case["token_mean"], "quality_share": case["quality_share"],
                        "edge_model": case["edge_model"], "cloud_model": case["cloud_model"],
                        "seed": seed, **extra})


def _online_policy(label: str) -> Any:
    if not label.startswith("icl-"):
        return RulePolicy(label)
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from genoffload.policies.icl import ICLPolicy, ICLSettings

    replay = "latest" if label == "icl-latest" else "prioritized"
    epsilon = "constant:0" if label == "icl-no-explore" else "constant:0.3"
    model = FakeListChatModel(responses=["edge", "cloud", "cloud"])
    return ICLPolicy(model, ICLSettings(replay=replay, epsilon=epsilon))


def _row(study: str, case: dict[str, Any], label: str, name: str, seed: int, mode: str) -> dict[str, Any]:
    row: dict[str, Any] = {"study": study, "cell_id": _hash(case["case_id"], label, seed),
                           "case_id": case["case_id"], "sweep": case["sweep"], "seed": seed,
                           "policy": label, "policy_name": name, "mode": mode,
                           **{k: case[k] for k in GRID}, "status": "ok", "error": None}
    row.update(dict.fromkeys(METRICS))
    return row


def episode_cells(study: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run every episode cell; return the summary rows and the per-step curve rows."""
    rows, curves = [], []
    for case in expand_cases(EPISODE_BASE, EPISODE_SWEEPS):
        for label in EPISODE_POLICIES:
            for seed in SEEDS:
                name = "icl" if label.startswith("icl-") else label
                row = _row(study, case, label, name, seed, "episode")
                recorder = DelayRecorder(_online_policy(label))
                t0 = time.perf_counter()
                ds = run_certified_episode(scenario_config(case, 0), recorder,
                                 EpisodeConfig(steps=EPISODE_STEPS, seed=seed, arrival_prob=0.5))
                wall = time.perf_counter() - t0
                stats = summary(ds)
                n = int(ds.sizes["decision"])
                row.update({k: stats[k] for k in ("mean_reward", "optimal_reward", "regret",
                                                  "success_rate", "tail_reward_ratio",
                                                  "tail_success_rate", "fallbacks", "explorations")})
                pref = [v for v in recorder.preferred_ok if v is not None]
                row.update(mean_delay_s=float(np.mean(recorder.delays)), decisions=n,
                           decisions_per_s=n / wall, wall_s=wall,
                           preferred_success_rate=float(np.mean(pref)) if pref else None)
                rows.append(row)
                for t in range(int(ds.sizes["step_index"])):
                    curves.append({
                        "cell_id": row["cell_id"], "case_id": case["case_id"], "seed": seed,
                        "policy": label, "step": t,
                        "reward": float(ds["step_reward"].values[t]),
                        "optimal_reward": float(ds["step_optimal_reward"].values[t]),
                        "regret": float(ds["step_regret"].values[t]),
                        "quality_ok": float(ds["step_quality_ok"].values[t]),
                        "delay_s": recorder.delays[t], "preferred_ok": recorder.preferred_ok[t]})
    return rows, curves


def snapshot_cells(study: str) -> list[dict[str, Any]]:
    """Run every snapshot cell (heuristics and the exact solve); fill the gaps per (case, seed)."""
    rows = []
    for case in expand_cases(SNAPSHOT_BASE, SNAPSHOT_SWEEPS):
        for seed in SEEDS:
            ds = generate(scenario_config(case, seed))
            group = []
            for label in SNAPSHOT_POLICIES:
                row = _row(study, case, label, label, seed, "snapshot")
                t0 = time.perf_counter()
                try:
                    if label == "exact":
                        sol = solve(ds, gap=1e-4)
                        res, exact_gap = sol.dataset, sol.summary.gap
                        row["exact_gap"] = exact_gap
                    else:
                        _, res = run_policy(ds, "pf", label)
                except Exception as err:  # a failed cell records its error, the study goes on
                    row.update(status="failed", error=f"{type(err).__name__}: {err}")
                    group.append(row)
                    continue
                wall = time.perf_counter() - t0
                n = int(res.sizes["task"])
                row.update(mean_reward=res.attrs["mean_reward"], success_rate=res.attrs["quality_success"],
                           mean_delay_s=res.attrs["mean_delay"], objective_s=res.attrs["objective"],
                           radio_part_s=res.attrs["radio_part"], decisions=n, fallbacks=0,
                           explorations=0, decisions_per_s=n / wall, wall_s=wall,
                           preferred_success_rate=res.attrs["preferred_success"],
                           feasible=float(res.attrs["feasible"]))
                group.append(row)
            exact = next((r for r in group if r["policy"] == "exact" and r["status"] == "ok"), None)
            for row in group:
                if exact is None or row["status"] != "ok":
                    continue
                row.update(exact_objective_s=exact["objective_s"],
                           exact_radio_part_s=exact["radio_part_s"], exact_gap=exact["exact_gap"],
                           optimal_reward=exact["mean_reward"],
                           regret=exact["mean_reward"] - row["mean_reward"])
                row["gap_total"] = (row["objective_s"] - exact["objective_s"]) / exact["objective_s"]
                row["gap_radio"] = ((row["radio_part_s"] - exact["radio_part_s"])
                                    / exact["radio_part_s"])
            rows += group
    return rows


def summary_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The summary table with the runner's column types (metrics Float64, counts Int64)."""
    schema: dict[str, Any] = {
        "study": pl.String, "cell_id": pl.String, "case_id": pl.String, "sweep": pl.String,
        "seed": pl.Int64, "policy": pl.String, "policy_name": pl.String, "mode": pl.String,
        "sites": pl.Int64, "users": pl.Int64, "rbs": pl.Int64, "token_mean": pl.Float64,
        "quality_share": pl.Float64, "llm_pair": pl.String, "edge_model": pl.String,
        "cloud_model": pl.String, "families": pl.String, "status": pl.String, "error": pl.String,
        **{m: (pl.Int64 if m in INT_METRICS else pl.Float64) for m in METRICS}}
    return pl.DataFrame(rows, schema=schema)


def results_dataset(frame: pl.DataFrame) -> xr.Dataset:
    """The NetCDF view: dims = the grid keys that vary + policy + seed, one variable per metric."""
    ok = frame.filter(pl.col("status") == "ok")
    varying = [k for k in GRID if k not in ("edge_model", "cloud_model") and ok[k].n_unique() > 1]
    pdf = ok.select([*varying, "policy", "seed", *METRICS]).to_pandas()
    ds = xr.Dataset.from_dataframe(pdf.set_index([*varying, "policy", "seed"]))
    for m in METRICS:
        ds[m] = ds[m].astype(float)
        ds[m].attrs["units"] = "s" if m.endswith("_s") or m in ("mean_reward", "optimal_reward",
                                                                "regret") else "1"
    return ds


def write_study(folder: Path, rows: list[dict[str, Any]], curves: list[dict[str, Any]],
                started: float, wall: float) -> Path:
    """Write the four files of a study folder atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = summary_frame(rows)
    write_atomic(folder / "summary.parquet", lambda p: frame.write_parquet(p))
    if curves:
        cf = pl.DataFrame(curves, schema={"cell_id": pl.String, "case_id": pl.String, "seed": pl.Int64,
                                          "policy": pl.String, "step": pl.Int64, "reward": pl.Float64,
                                          "optimal_reward": pl.Float64, "regret": pl.Float64,
                                          "quality_ok": pl.Float64, "delay_s": pl.Float64,
                                          "preferred_ok": pl.Float64})
        write_atomic(folder / "curves.parquet", lambda p: cf.write_parquet(p))
    ds = results_dataset(frame)
    write_atomic(folder / "results.nc", lambda p: ds.to_netcdf(p, engine="h5netcdf"))
    failed = frame.filter(pl.col("status") == "failed")
    meta = {
        "study": "report-fixture", "study_file": STUDY_TEXT, "spec_hash": _hash(STUDY_TEXT),
        "versions": {m: __import__(m).__version__ for m in ("numpy", "xarray", "polars")},
        "seeds": list(SEEDS),
        "machine": {"platform": platform.platform(), "cpu_count": __import__("os").cpu_count()},
        "workers": 1,
        "started": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "finished": datetime.fromtimestamp(started + wall, UTC).isoformat(timespec="seconds"),
        "wall_s": wall,
        "cells": {"total": frame.height, "done": frame.height - failed.height,
                  "failed": failed.height},
        "failures": failed.select("cell_id", "error").to_dicts(),
    }
    write_atomic(folder / "metadata.json", lambda p: p.write_text(json.dumps(meta, indent=2)))
    return folder


_BUILT: dict[str, Path] = {}


def fixture_study() -> Path:
    """The full fixture folder (episode and snapshot cells), built once per process."""
    if "both" not in _BUILT:
        root = Path(tempfile.mkdtemp(prefix="genoffload-report-study-"))
        t0 = time.time()
        ep_rows, curves = episode_cells("report-fixture")
        snap_rows = snapshot_cells("report-fixture")
        _BUILT["both"] = write_study(root / "both", ep_rows + snap_rows, curves, t0, time.time() - t0)
    return _BUILT["both"]


def subset_study(dest: Path, modes: Iterable[str]) -> Path:
    """A copy of the fixture study with only the cells of ``modes`` (files rewritten)."""
    src = fixture_study()
    modes = list(modes)
    frame = pl.read_parquet(src / "summary.parquet").filter(pl.col("mode").is_in(modes))
    curves = pl.read_parquet(src / "curves.parquet").filter(
        pl.col("cell_id").is_in(frame["cell_id"].implode()))
    meta = json.loads((src / "metadata.json").read_text())
    wall = float(meta["wall_s"])
    write_study(dest, frame.to_dicts(), curves.to_dicts(), time.time() - wall, wall)
    if "episode" not in modes:
        (dest / "curves.parquet").unlink(missing_ok=True)
    return dest


def copy_study(dest: Path) -> Path:
    """A plain copy of the full fixture study (for tests that damage it)."""
    shutil.copytree(fixture_study(), dest)
    return dest
