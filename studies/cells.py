"""One cell of an offloading study (case, policy, seed), computed in a worker and written atomically.

``run_cell`` is what Dask runs. It never raises for a failing cell: the error goes to
``DIR/cells/<cell_id>.error.json`` and the study goes on. A finished cell is
``DIR/cells/<cell_id>.npz`` (:mod:`genoffload.studies.cellfiles`): the episode records (episode
mode) or the per-task results (snapshot mode), with the cell's metrics as a JSON attribute
``metrics``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from genoffload.episode import EpisodeConfig, summary
from genoffload.evaluate import evaluate
from genoffload.llm import loaded_models
from genoffload.models.offload_given_z import offload_optimum
from genoffload.models.reference import run_certified_episode
from genoffload.pipeline import run_policy
from genoffload.policy import Step, StepDecision
from genoffload.scenario import generate, make_config
from genoffload.schedulers import get_scheduler
from genoffload.studies.cellfiles import (
    THREAD_ENV,
    cell_file,
    check_cell,
    configure_worker,
    error_file,
    execute_cell,
    open_cell,
    read_cell_meta,
    record_failure,
    write_cell,
)
from genoffload.studies.policies import PolicySpec, online_policy

__all__ = ["THREAD_ENV", "CellTask", "cell_file", "check_cell", "configure_worker", "episode_cell",
           "error_file", "execute_cell", "open_cell", "read_cell_meta", "record_failure", "run_cell",
           "snapshot_cell", "write_cell"]

@dataclass(frozen=True)
class CellTask:
    """Everything a worker needs to compute a cell (plain data: pickled to the worker)."""

    cell_id: str
    case_id: str
    mode: str
    steps: int
    params: dict[str, Any]
    policy: dict[str, Any]
    seed: int
    arrival_prob: float
    token_noise: float
    out_dir: str

    @property
    def label(self) -> str:
        return str(self.policy.get("label") or self.policy["name"])


class _Recorder:
    """Forwards an online policy and records each task's delay and class (for the curves)."""

    def __init__(self, inner: Any, label: str) -> None:
        self.inner, self.name = inner, label
        self.delay: list[float] = []
        self.preferred: list[bool] = []

    def act(self, step: Step) -> StepDecision:
        return self.inner.act(step)

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        self.delay += result["t_total"].values.astype(float).tolist()
        self.preferred += (step.scenario["service_class"].values == "preferred").tolist()
        self.inner.observe(step, decision, result)


def _episode_config(task: CellTask, pol: PolicySpec) -> EpisodeConfig:
    return EpisodeConfig(steps=task.steps, seed=task.seed, scheduler=pol.scheduler,
                         arrival_prob=task.arrival_prob, token_noise=task.token_noise)


def _preferred_rate(ok: np.ndarray, preferred: np.ndarray) -> float:
    return float(ok[preferred].mean()) if preferred.any() else math.nan


def episode_cell(task: CellTask) -> tuple[xr.Dataset, dict[str, Any]]:
    """Run the cell's online episode; return the records and the metrics."""
    pol = PolicySpec.model_validate(task.policy)
    base = make_config(task.params)
    recorder = _Recorder(online_policy(pol, base, task.seed), pol.key)
    t0 = time.perf_counter()
    ds = run_certified_episode(base, recorder, _episode_config(task, pol))
    elapsed = time.perf_counter() - t0
    ds["delay_s"] = ("decision", np.asarray(recorder.delay), {"units": "s", "description": "task delay"})
    ds["preferred"] = ("decision", np.asarray(recorder.preferred, dtype=bool))
    per_step = ds["delay_s"].groupby(ds["step"]).mean().rename({"step": "step_index"})
    ds["step_delay_s"] = per_step.assign_attrs(units="s")
    stats = summary(ds)
    n = int(ds.sizes["decision"])
    metrics = {k: stats[k] for k in ("mean_reward", "optimal_reward", "regret", "success_rate",
                                     "tail_reward_ratio", "tail_success_rate", "fallbacks", "explorations",
                                     "joint_reward", "radio_regret", "tail_joint_ratio")}
    metrics["reference_gap_s"] = stats["max_gap"]
    metrics.update(mean_delay_s=float(np.mean(recorder.delay)), decisions=n,
                   decisions_per_s=n / elapsed if elapsed > 0 else math.nan,
                   preferred_success_rate=_preferred_rate(ds["quality_ok"].values.astype(bool),
                                                          ds["preferred"].values))
    return ds, metrics


def snapshot_cell(task: CellTask) -> tuple[xr.Dataset, dict[str, Any]]:
    """Decide on the case's snapshot for the seed (ICL after a warm-up episode, RL agents as
    trained by :func:`genoffload.rl.online_policy`)."""
    pol = PolicySpec.model_validate(task.policy)
    scen = generate(make_config({**task.params, "seed": task.seed}))
    n = int(scen.sizes["task"])
    extra: dict[str, Any] = {}
    sources = ["rule"] * n
    entry = pol.entry
    if entry.offline is not None and not entry.learned:  # a snapshot decision (a joint one chooses z)
        plan, result = run_policy(scen, pol.scheduler, entry.build_offline(**pol.options()))
        z, decide_s = plan.z, float(result.attrs["decide_s"])
        if "certified" in plan.info:  # the exact solver: its certificate
            sources = [pol.name] * n
            extra = {"exact_gap": float(plan.info["gap"]), "solver_status": plan.info["status"],
                     "exact_certified": float(plan.info["certified"])}
    else:
        base = make_config(task.params)
        policy = online_policy(pol, base, task.seed)
        if entry.warm_up is not None and entry.warm_up(pol.options()):  # it learns in an episode first
            run_certified_episode(base, policy, _episode_config(task, pol))
        z = get_scheduler(pol.scheduler)(scen)
        step = Step(task.steps, scen, z, scen["units"].values.astype(float),
                    np.random.default_rng([task.seed, task.steps]))
        t0 = time.perf_counter()
        decision = policy.act(step)
        decide_s = time.perf_counter() - t0
        result, sources = evaluate(scen, z, decision.alpha), list(decision.source)
    reference = offload_optimum(scen, z, evaluated=None if entry.joint else result)
    best = reference.reward
    extra.setdefault("reference_gap_s", reference.gap)
    attrs = result.attrs
    ok = result["quality_ok"].values.astype(bool)
    metrics: dict[str, Any] = {
        "mean_reward": float(attrs["mean_reward"]), "optimal_reward": float(best.mean()),
        "regret": float(best.mean() - attrs["mean_reward"]), "success_rate": float(attrs["quality_success"]),
        "mean_delay_s": float(attrs["mean_delay"]), "objective_s": float(attrs["objective"]),
        "radio_part_s": float(attrs["radio_part"]), "decisions": n,
        "fallbacks": sources.count("fallback"), "explorations": sources.count("explore"),
        "decisions_per_s": n / decide_s if decide_s > 0 else math.nan,
        "preferred_success_rate": _preferred_rate(ok, scen["service_class"].values == "preferred"),
        "feasible": float(attrs["feasible"]), **extra}
    out = xr.Dataset({k: result[k] for k in ("alpha", "reward", "t_total", "quality_ok", "constraints_ok")})
    out["optimal_reward"] = ("task", best, {"units": "s"})
    out["service"] = scen["service"]
    out["service_class"] = scen["service_class"]
    out["source"] = ("task", np.asarray(sources, dtype=str))
    out["z"] = (("user", "rb"), np.asarray(z, dtype=bool))
    out = out.drop_vars([c for c in out.coords if c not in ("task", "user", "rb")])
    return out, metrics


def run_cell(task: CellTask) -> dict[str, Any]:
    """Compute an offloading cell and write it (or its error); never raises for a failing cell
    (see :func:`execute_cell`)."""
    def compute(t: CellTask) -> tuple[xr.Dataset, dict[str, Any], dict[str, Any]]:
        ds, metrics = (episode_cell if t.mode == "episode" else snapshot_cell)(t)
        return ds, metrics, {"policy": t.label, "policy_name": t.policy["name"], "seed": t.seed,
                             "mode": t.mode}

    return execute_cell(task, compute, lambda: {"llm_models_loaded": loaded_models()})


