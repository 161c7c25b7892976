"""Run a scheduler and a policy on a scenario and evaluate the result."""

from __future__ import annotations

import time

import xarray as xr

from genoffload.evaluate import evaluate
from genoffload.policy import Plan, Policy, get_policy
from genoffload.schedulers import get_scheduler

CERTIFICATION = ("certified", "status", "reason", "gap", "requested_gap", "bound")
"""Keys of an exact solve's summary that ``run_policy`` copies into the result's attrs."""


def run_policy(scenario: xr.Dataset, scheduler: str, policy: str | Policy) -> tuple[Plan, xr.Dataset]:
    """Allocate RBs with ``scheduler``, decide offloading with ``policy``, evaluate.

    Returns the plan and the evaluator's result; ``result.attrs`` gain ``policy``,
    ``scheduler`` and ``decide_s`` [s] (wall time of scheduling and deciding), and for the
    exact solver its certification (:data:`CERTIFICATION`: ``certified``, ``status``,
    ``reason``, ``gap`` [1], ``requested_gap`` [1], ``bound`` [s]).
    """
    pol = get_policy(policy) if isinstance(policy, str) else policy
    t0 = time.perf_counter()
    z = get_scheduler(scheduler)(scenario)
    plan = pol.decide(scenario, z)
    elapsed = time.perf_counter() - t0
    result = evaluate(scenario, plan.z, plan.alpha)
    result.attrs.update(policy=pol.name, scheduler="joint" if pol.joint else scheduler,
                        decide_s=elapsed)
    if "certified" in plan.info:  # the exact solver: is the answer a certified optimum?
        result.attrs.update({k: plan.info[k] for k in CERTIFICATION})
    return plan, result
