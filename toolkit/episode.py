"""The online episode runner: tasks arrive step by step, a policy decides, the evaluator scores.

At each step a fresh snapshot of the scenario is drawn (users, channel and tasks from the step's
seed), users request a task with probability ``arrival_prob`` (at least one task per step), the
scheduler allocates RBs, the policy decides each task's offloading, and the evaluator scores the
decisions. The policy then observes the outcome (that is where ICL and RL policies learn). The
per-task optimum given the step's allocation (exact where decisions do not interact: no coupling
constraint family) gives the optimal reward and the regret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field

from genoffload.evaluate import evaluate
from genoffload.policies import Policy, get_policy
from genoffload.scenario import ScenarioConfig, generate
from genoffload.schedulers import get_scheduler


class EpisodeConfig(BaseModel):
    """Settings of an online episode."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: int = Field(300, ge=1, description="number of steps")
    arrival_prob: float = Field(0.05, gt=0, le=1, description="task request probability per user and step")
    token_noise: float = Field(0.0, ge=0, description="relative std of the output size the policy sees")
    scheduler: str = "pf"
    seed: int = Field(0, ge=0)


@dataclass
class Step:
    """What a policy sees at one step."""

    index: int
    scenario: xr.Dataset
    z: np.ndarray
    est_units: np.ndarray  # estimated output size of each task [token or item]
    rng: np.random.Generator


@dataclass
class StepDecision:
    """A policy's decisions for the tasks of a step, with where each came from."""

    alpha: np.ndarray
    source: list[str]  # per task: "llm", "explore", "mask", "fallback", "rule", "rl"
    latency_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prompt_tokens: np.ndarray = field(default_factory=lambda: np.zeros(0))


class OnlinePolicy(Protocol):
    """A policy that decides step by step and may learn from each outcome."""

    name: ClassVar[str]

    def act(self, step: Step) -> StepDecision: ...

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None: ...


class RulePolicy:
    """Adapter: an offline :class:`~genoffload.policies.Policy` as an online one (no learning)."""

    name: ClassVar[str] = "rule"

    def __init__(self, policy: Policy | str) -> None:
        self.policy = get_policy(policy) if isinstance(policy, str) else policy
        self.name = self.policy.name  # type: ignore[misc]

    def act(self, step: Step) -> StepDecision:
        plan = self.policy.decide(step.scenario, step.z)
        n = plan.alpha.size
        return StepDecision(plan.alpha, ["rule"] * n, np.zeros(n), np.zeros(n))

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        return None


def step_scenario(base: ScenarioConfig, rng: np.random.Generator, arrival_prob: float) -> xr.Dataset:
    """Draw one step's scenario: a fresh snapshot, keeping the tasks of the users who arrive."""
    cfg = base.model_copy(update={"seed": int(rng.integers(2**31)), "tasks_per_user": 1})
    ds = generate(cfg)
    arrived = rng.random(ds.sizes["user"]) < arrival_prob
    if not arrived.any():
        arrived[rng.integers(ds.sizes["user"])] = True
    keep = np.flatnonzero(arrived[ds["task_user"].values])
    return ds.isel(task=keep).assign_coords(task=np.arange(keep.size))


def per_task_optimum(scenario: xr.Dataset, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best decision and reward of each task given the allocation (reward eq. 10)."""
    n = scenario.sizes["task"]
    r_edge = evaluate(scenario, z, np.zeros(n, dtype=bool))["reward"].values
    r_cloud = evaluate(scenario, z, np.ones(n, dtype=bool))["reward"].values
    return r_cloud > r_edge, np.maximum(r_edge, r_cloud)


def run_episode(
    base: ScenarioConfig,
    policy: OnlinePolicy,
    config: EpisodeConfig,
    progress: Callable[[int, dict[str, float]], None] | None = None,
) -> xr.Dataset:
    """Run an online episode and return one record per decision and per step.

    Returns
    -------
    xarray.Dataset
        Dimension ``decision``: ``step``, ``service``, ``est_units``, ``units``, ``alpha``,
        ``optimal_alpha``, ``reward`` [s], ``optimal_reward`` [s], ``regret`` [s], ``quality_ok``,
        ``source``, ``latency_s`` [s], ``prompt_tokens``. Dimension ``step``: the means per step.
    """
    rng = np.random.default_rng(config.seed)
    scheduler = get_scheduler(config.scheduler)
    rows: dict[str, list[Any]] = {k: [] for k in (
        "step", "service", "est_units", "units", "alpha", "optimal_alpha", "reward",
        "optimal_reward", "quality_ok", "source", "latency_s", "prompt_tokens")}
    for t in range(config.steps):
        ds = step_scenario(base, rng, config.arrival_prob)
        z = scheduler(ds)
        units = ds["units"].values
        noise = rng.normal(0.0, config.token_noise, units.size) if config.token_noise else 0.0
        est = np.maximum(np.rint(units * (1.0 + noise)), 1.0)
        step = Step(t, ds, z, est, rng)
        decision = policy.act(step)
        result = evaluate(ds, z, decision.alpha)
        best_alpha, best_reward = per_task_optimum(ds, z)
        policy.observe(step, decision, result)
        n = units.size
        rows["step"] += [t] * n
        rows["service"] += ds["service"].values.tolist()
        rows["est_units"] += est.tolist()
        rows["units"] += units.tolist()
        rows["alpha"] += np.asarray(decision.alpha, dtype=bool).tolist()
        rows["optimal_alpha"] += best_alpha.tolist()
        rows["reward"] += result["reward"].values.tolist()
        rows["optimal_reward"] += best_reward.tolist()
        rows["quality_ok"] += result["quality_ok"].values.tolist()
        rows["source"] += list(decision.source)
        rows["latency_s"] += (decision.latency_s.tolist() if decision.latency_s.size else [0.0] * n)
        rows["prompt_tokens"] += (decision.prompt_tokens.tolist() if decision.prompt_tokens.size
                                  else [0] * n)
        if progress is not None:
            progress(t, {"reward": float(result["reward"].values.mean())})
    return _episode_dataset(rows, policy.name, config)


def _episode_dataset(rows: dict[str, list[Any]], name: str, config: EpisodeConfig) -> xr.Dataset:
    units = {"reward": "s", "optimal_reward": "s", "regret": "s", "latency_s": "s",
             "est_units": "token", "units": "token"}
    data = {k: np.asarray(v) for k, v in rows.items()}
    data["regret"] = data["optimal_reward"] - data["reward"]
    ds = xr.Dataset({k: ("decision", v, {"units": units.get(k, "")}) for k, v in data.items()},
                    coords={"decision": np.arange(data["step"].size)})
    per_step = ds[["reward", "optimal_reward", "regret", "quality_ok"]].astype(float).groupby(
        ds["step"]).mean()
    for k in per_step.data_vars:
        ds[f"step_{k}"] = per_step[k].rename({"step": "step_index"})
    ds.attrs = {"policy": name, **{f"episode_{k}": v for k, v in config.model_dump().items()}}
    return ds


def summary(ds: xr.Dataset, tail: float = 0.2) -> dict[str, float]:
    """Closing summary: means over the whole episode and over its last ``tail`` share of steps."""
    steps = int(ds["step"].max()) + 1
    last = ds.where(ds["step"] >= steps * (1 - tail), drop=True)
    sources = ds["source"].values
    lat = ds["latency_s"].values.astype(float)
    return {
        "mean_reward": float(ds["reward"].mean()),
        "optimal_reward": float(ds["optimal_reward"].mean()),
        "regret": float(ds["regret"].mean()),
        "success_rate": float(ds["quality_ok"].astype(float).mean()),
        "tail_reward_ratio": float(last["reward"].sum() / last["optimal_reward"].sum()),
        "tail_success_rate": float(last["quality_ok"].astype(float).mean()),
        "fallbacks": int((sources == "fallback").sum()),
        "explorations": int((sources == "explore").sum()),
        "masked": int((sources == "mask").sum()),
        "median_latency_s": float(np.median(lat)) if lat.size else 0.0,
    }
