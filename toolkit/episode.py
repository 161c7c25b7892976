"""The online episode runner: tasks arrive step by step, a policy decides, the evaluator scores.

At each step a fresh snapshot of the scenario is drawn (users, channel and tasks from the step's
seed), users request a task with probability ``arrival_prob`` (at least one task per step), the
scheduler allocates RBs, the policy decides each task's offloading, and the evaluator scores the
decisions. The policy then observes the outcome (that is where ICL and RL policies learn).

Every step is measured against its certified reference (:mod:`genoffload.models.reference`,
passed in by the caller: the core imports no solver): (a) the
offloading optimum given the scheduler's allocation (``optimal_*``, the regret of the
offloading decisions) and (b) the joint optimum of allocation and offloading (``joint_*``, the
radio-allocation regret is (b) - (a)), each with its certified gap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from genoffload.evaluate import evaluate
from genoffload.policy import OnlinePolicy, Step
from genoffload.scenario import ScenarioConfig, generate
from genoffload.schedulers import get_scheduler

if TYPE_CHECKING:
    from genoffload.models.reference import StepReference


class StepReferencer(Protocol):
    """The certified reference of one step (:class:`genoffload.models.reference.Reference`)."""

    def __call__(self, scenario: xr.Dataset, z: np.ndarray,
                 evaluated: xr.Dataset | None = None) -> StepReference | None: ...


class EpisodeConfig(BaseModel):
    """Settings of an online episode."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: int = Field(300, ge=1, description="number of steps")
    arrival_prob: float = Field(0.05, gt=0, le=1, description="task request probability per user and step")
    token_noise: float = Field(0.0, ge=0, description="relative std of the output size the policy sees")
    scheduler: str = "pf"
    seed: int = Field(0, ge=0)
    reference: Literal["joint", "offload", "none"] = Field(
        "joint", description="per-step reference: both optima, (a) alpha*|z only, or none")
    reference_gap: float = Field(1e-4, gt=0, lt=1, description="target gap of the joint solve")
    reference_tol_s: float = Field(5e-3, ge=0, description="certified gap per task [s] accepted "
                                   "from the relaxation bound of the joint optimum")


def step_scenario(base: ScenarioConfig, rng: np.random.Generator, arrival_prob: float) -> xr.Dataset:
    """Draw one step's scenario: a fresh snapshot, keeping the tasks of the users who arrive."""
    cfg = base.model_copy(update={"seed": int(rng.integers(2**31)), "tasks_per_user": 1})
    ds = generate(cfg)
    arrived = rng.random(ds.sizes["user"]) < arrival_prob
    if not arrived.any():
        arrived[rng.integers(ds.sizes["user"])] = True
    keep = np.flatnonzero(arrived[ds["task_user"].values])
    return ds.isel(task=keep).assign_coords(task=np.arange(keep.size))


DECISION_FIELDS = ("step", "service", "est_units", "units", "alpha", "optimal_alpha", "reward",
                   "optimal_reward", "joint_alpha", "joint_reward", "coupled", "quality_ok",
                   "source", "latency_s", "prompt_tokens")
STEP_FIELDS = ("tasks", "offload_gap", "joint_gap", "offload_status", "joint_status",
               "joint_method", "reference_s")
REFERENCE_DOC = (
    "optimal_*: certified offloading optimum given the scheduler's allocation (alpha*|z, with "
    "the step's coupling families and penalties); joint_*: certified joint optimum (z*, alpha*); "
    "per-task optimal_reward/joint_reward are the task's reward in that optimum (they sum to the "
    "step's optimum); regret per decision only where the task's cell is uncoupled (NaN where "
    "coupled), step_regret (offloading decisions) and step_radio_regret (allocation) always; "
    "gaps [s] are certified bounds minus the optimum's reward, per step (sum over its tasks)")


def _reference_rows(ref: StepReference | None, n: int) -> dict[str, Any]:
    """Per-decision and per-step reference values of one step (NaN without a reference)."""
    nan = [np.nan] * n
    if ref is None:
        return {"optimal_alpha": [False] * n, "optimal_reward": nan, "joint_alpha": [False] * n,
                "joint_reward": nan, "coupled": [False] * n, "offload_gap": np.nan,
                "joint_gap": np.nan, "offload_status": "none", "joint_status": "none",
                "joint_method": "none", "reference_s": 0.0}
    a, b = ref.offload, ref.joint
    return {"optimal_alpha": a.alpha.tolist(), "optimal_reward": a.reward.tolist(),
            "joint_alpha": b.alpha.tolist() if b else [False] * n,
            "joint_reward": b.reward.tolist() if b else nan, "coupled": a.coupled.tolist(),
            "offload_gap": a.gap, "joint_gap": b.gap if b else np.nan, "offload_status": a.status,
            "joint_status": b.status if b else "none", "joint_method": b.method if b else "none",
            "reference_s": ref.time_s}


def run_episode(
    base: ScenarioConfig,
    policy: OnlinePolicy,
    config: EpisodeConfig,
    progress: Callable[[int, dict[str, float]], None] | None = None,
    reference: StepReferencer | None = None,
) -> xr.Dataset:
    """Run an online episode and return one record per decision and per step.

    ``reference`` computes each step's certified reference; it is needed unless
    ``config.reference`` is ``"none"``. :func:`genoffload.models.reference.run_certified_episode`
    builds it from the config (that is what the CLI, the studies and the RL code call).

    Returns
    -------
    xarray.Dataset
        Dimension ``decision``: ``step``, ``service``, ``est_units``, ``units``, ``alpha``,
        ``optimal_alpha``, ``reward`` [s], ``optimal_reward`` [s] (the task's reward in the
        certified optimum given the allocation), ``joint_alpha``, ``joint_reward`` [s] (in the
        joint optimum), ``coupled``, ``regret`` [s] (NaN for tasks of coupled cells),
        ``quality_ok``, ``source``, ``latency_s`` [s], ``prompt_tokens``. Dimension
        ``step_index``: per-task means ``step_reward``, ``step_optimal_reward``,
        ``step_joint_reward``, ``step_regret`` (offloading decisions), ``step_radio_regret``,
        ``step_quality_ok``; and ``step_tasks``, ``step_offload_gap`` / ``step_joint_gap`` [s]
        (certified gaps of the step's total), ``step_offload_status``, ``step_joint_status``,
        ``step_joint_method``, ``step_reference_s`` [s]. The ``reference`` attribute explains.
    """
    rng = np.random.default_rng(config.seed)
    scheduler = get_scheduler(config.scheduler)
    if reference is None and config.reference != "none":
        raise TypeError("run_episode needs reference= (genoffload.models.reference.Reference) unless "
                        "config.reference is 'none'; run_certified_episode builds it")
    rows: dict[str, list[Any]] = {k: [] for k in DECISION_FIELDS}
    steps: dict[str, list[Any]] = {k: [] for k in STEP_FIELDS}
    for t in range(config.steps):
        ds = step_scenario(base, rng, config.arrival_prob)
        z = scheduler(ds)
        units = ds["units"].values
        noise = rng.normal(0.0, config.token_noise, units.size) if config.token_noise else 0.0
        est = np.maximum(np.rint(units * (1.0 + noise)), 1.0)
        step = Step(t, ds, z, est, rng)
        decision = policy.act(step)
        result = evaluate(ds, z, decision.alpha)
        ref = reference(ds, z, result) if reference is not None else None
        if ref is not None:  # learners may log the certified reference of their decisions [s]
            result.attrs["optimal_reward"] = ref.offload.reward
        policy.observe(step, decision, result)
        n = units.size
        refrows = _reference_rows(ref, n)
        rows["step"] += [t] * n
        rows["service"] += ds["service"].values.tolist()
        rows["est_units"] += est.tolist()
        rows["units"] += units.tolist()
        rows["alpha"] += np.asarray(decision.alpha, dtype=bool).tolist()
        rows["reward"] += result["reward"].values.tolist()
        for k in ("optimal_alpha", "optimal_reward", "joint_alpha", "joint_reward", "coupled"):
            rows[k] += refrows[k]
        rows["quality_ok"] += result["quality_ok"].values.tolist()
        rows["source"] += list(decision.source)
        rows["latency_s"] += (decision.latency_s.tolist() if decision.latency_s.size else [0.0] * n)
        rows["prompt_tokens"] += (decision.prompt_tokens.tolist() if decision.prompt_tokens.size
                                  else [0] * n)
        steps["tasks"].append(n)
        for k in STEP_FIELDS[1:]:
            steps[k].append(refrows[k])
        if progress is not None:
            progress(t, {"reward": float(result["reward"].values.mean())})
    return _episode_dataset(rows, steps, policy.name, config)


def _episode_dataset(rows: dict[str, list[Any]], steps: dict[str, list[Any]], name: str,
                     config: EpisodeConfig) -> xr.Dataset:
    units = {"reward": "s", "optimal_reward": "s", "joint_reward": "s", "regret": "s",
             "latency_s": "s", "est_units": "token", "units": "token"}
    data = {k: np.asarray(v) for k, v in rows.items()}
    for k in ("optimal_reward", "joint_reward", "reward", "latency_s"):
        data[k] = data[k].astype(float)
    data["regret"] = np.where(data["coupled"], np.nan, data["optimal_reward"] - data["reward"])
    ds = xr.Dataset({k: ("decision", v, {"units": units.get(k, "")}) for k, v in data.items()},
                    coords={"decision": np.arange(data["step"].size)})
    per_step = ds[["reward", "optimal_reward", "joint_reward", "quality_ok"]].astype(float).groupby(
        ds["step"]).mean()
    for var in per_step.data_vars:
        ds[f"step_{var!s}"] = per_step[var].rename({"step": "step_index"})
    ds["step_regret"] = ds["step_optimal_reward"] - ds["step_reward"]
    ds["step_radio_regret"] = ds["step_joint_reward"] - ds["step_optimal_reward"]
    step_units = {"offload_gap": "s", "joint_gap": "s", "reference_s": "s"}
    for k, v in steps.items():
        ds[f"step_{k}"] = ("step_index", np.asarray(v), {"units": step_units.get(k, "")})
    for k in ("step_reward", "step_optimal_reward", "step_joint_reward", "step_regret",
              "step_radio_regret"):
        ds[k].attrs["units"] = "s"
    ds.attrs = {"policy": name, "reference": REFERENCE_DOC,
                **{f"episode_{k}": v for k, v in config.model_dump().items()}}
    return ds


def summary(ds: xr.Dataset, tail: float = 0.2) -> dict[str, float]:
    """Closing summary: means over the whole episode and over its last ``tail`` share of steps.

    ``optimal_reward`` and ``joint_reward`` are the mean per-task rewards of the certified
    references (a) and (b); ``regret`` = ``optimal_reward - mean_reward`` (offloading
    decisions), ``radio_regret`` = ``joint_reward - optimal_reward`` (allocation);
    ``tail_reward_ratio`` = reward / (a) over the tail, ``tail_joint_ratio`` = reward / (b);
    ``max_gap`` the largest certified gap of a step [s] (NaN without a reference).
    """
    steps = int(ds["step"].max()) + 1
    last = ds.where(ds["step"] >= steps * (1 - tail), drop=True)
    sources = ds["source"].values
    lat = ds["latency_s"].values.astype(float)
    mean_reward = float(ds["reward"].mean())
    opt, joint = float(ds["optimal_reward"].mean()), float(ds["joint_reward"].mean())
    gaps = [ds[k].values.astype(float) for k in ("step_offload_gap", "step_joint_gap") if k in ds]
    gap_all = np.concatenate(gaps) if gaps else np.zeros(0)
    finite = gap_all[np.isfinite(gap_all)]
    return {
        "mean_reward": mean_reward,
        "optimal_reward": opt,
        "joint_reward": joint,
        "regret": opt - mean_reward,
        "radio_regret": joint - opt,
        "success_rate": float(ds["quality_ok"].astype(float).mean()),
        "tail_reward_ratio": float(last["reward"].sum() / last["optimal_reward"].sum()),
        "tail_joint_ratio": float(last["reward"].sum() / last["joint_reward"].sum()),
        "tail_success_rate": float(last["quality_ok"].astype(float).mean()),
        "coupled_share": float(ds["coupled"].astype(float).mean()),
        "max_gap": float(finite.max()) if finite.size else float("nan"),
        "reference_s": float(ds["step_reference_s"].sum()) if "step_reference_s" in ds else 0.0,
        "fallbacks": int((sources == "fallback").sum()),
        "explorations": int((sources == "explore").sum()),
        "masked": int((sources == "mask").sum()),
        "median_latency_s": float(np.median(lat)) if lat.size else 0.0,
    }
