"""The evaluator: the single source of truth for delay, quality and reward.

``evaluate(scenario, z, alpha)`` applies eqs. (1)-(4), (4e) and (10) (via :mod:`genoffload.delay`)
and every active optional constraint family (:mod:`genoffload.families`, each family's
``check``) to an RB allocation and offloading decisions, and returns per-task and per-user
results as an ``xarray.Dataset``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import xarray as xr

from genoffload import constraints as cons
from genoffload import delay
from genoffload.errors import InputError
from genoffload.families import EvalContext, Families


def _as_array(x: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    arr = np.asarray(x.values if isinstance(x, xr.DataArray) else x)
    if arr.shape != shape:
        raise InputError(name, list(arr.shape), f"must have shape {list(shape)}")
    return arr.astype(bool)


def check_allocation(scenario: xr.Dataset, z: np.ndarray) -> None:
    """Each RB goes to at most one user per cell (eq. 4b with OFDMA)."""
    cells = scenario["user_cell"].values
    for j in range(scenario.sizes["cell"]):
        per_rb = z[cells == j].sum(axis=0)
        if (per_rb > 1).any():
            q = int(np.flatnonzero(per_rb > 1)[0])
            raise InputError(f"z[cell={j}, rb={q}]", int(per_rb[q]), "an RB is given to several users")


def evaluate_arrays(scenario: xr.Dataset, z: Any, alpha: Any) -> dict[str, Any]:
    """The evaluator's numbers as numpy arrays (no Dataset): what :func:`evaluate` packages.

    Returns a dict with the per-task arrays ``alpha``, ``t_radio``, ``t_backhaul``, ``t_gen``,
    ``t_total`` [s], ``quality_ok``, ``constraints_ok``, ``slo_excess`` [s], ``reward`` [s],
    the per-user ``capacity`` [bit/s] and ``n_rb``, ``z``, and ``attrs`` (the totals). Building
    the Dataset costs about four times the arithmetic, so callers that need only numbers (the
    online reference, :mod:`genoffload.models.reference`) use this.
    """
    n_user, n_rb, n_task = scenario.sizes["user"], scenario.sizes["rb"], scenario.sizes["task"]
    z_arr = _as_array(z, (n_user, n_rb), "z")
    a = _as_array(alpha, (n_task,), "alpha")
    check_allocation(scenario, z_arr)
    fam = Families.from_attrs(scenario.attrs)
    members = fam.members()
    var = scenario.variables
    owner = var["task_user"].values
    t_back = float(scenario.attrs["t_back_s"])

    capacity = delay.link_capacity(var["rate"].values, z_arr)  # eq. (2)
    t_radio = delay.radio_delay(var["content_bits"].values, capacity[owner])  # eq. (1)
    units = var["units"].values
    factor = np.ones(n_task)
    for f in members:
        if f.edge_tpot_factor is not None:
            factor = factor * f.edge_tpot_factor(scenario, fam, a)
    tpot_edge = var["tpot_edge"].values * factor
    t_edge = delay.generation_delay(units, var["ttft_edge"].values, tpot_edge)  # (4c)
    t_cloud = delay.generation_delay(units, var["ttft_cloud"].values,
                                     var["tpot_cloud"].values)  # (4d)
    delivery = scenario.attrs["delivery"]
    t_total = delay.task_delay(a, t_radio, t_edge, t_cloud, t_back, delivery)  # (4)
    t_gen = np.where(a, t_cloud, t_edge)
    quality_ok = delay.quality_met(a, var["quality_req"].values,
                                   var["quality_edge"].values,
                                   var["quality_cloud"].values)  # (4e)

    ctx = EvalContext(scenario, fam, a, t_total, capacity, owner, cons.cell_of_task(scenario))
    ok = quality_ok.copy()
    excess, slo_pen = np.zeros(n_task), np.zeros(n_task)
    for f in members:
        verdict = f.check(ctx)
        if verdict.ok is not None:
            ok &= verdict.ok
        if verdict.penalty is not None:
            slo_pen = slo_pen + verdict.penalty
        if verdict.excess is not None:
            excess = verdict.excess

    rew = delay.reward(t_total, ok, float(scenario.attrs["t_target_s"]),
                       float(scenario.attrs["penalty_s"])) - slo_pen  # (10), soft families as penalty
    gen_only = np.where(a, t_cloud + t_back, t_edge)
    radio_part = (t_total - gen_only) + slo_pen
    objective = float(t_total.sum() + slo_pen.sum())
    preferred = var["service_class"].values == "preferred"
    attrs = {
        "objective": objective,
        "radio_part": float(radio_part.sum()),
        "total_delay": float(t_total.sum()),
        "mean_delay": float(t_total.mean()) if n_task else 0.0,
        "mean_reward": float(rew.mean()) if n_task else 0.0,
        "quality_success": float(quality_ok.mean()) if n_task else 1.0,
        "preferred_success": float(quality_ok[preferred].mean()) if preferred.any() else 1.0,
        "constraints_ok": float(ok.mean()) if n_task else 1.0,
        "offloaded_share": float(a.mean()) if n_task else 0.0,
        "feasible": int(bool(ok.all()) and np.isfinite(objective)),
    }
    return {"alpha": a, "t_radio": t_radio, "t_backhaul": delay.backhaul_delay(a, t_back),
            "t_gen": t_gen, "t_total": t_total, "quality_ok": quality_ok, "constraints_ok": ok,
            "slo_excess": excess, "reward": rew, "z": z_arr, "capacity": capacity,
            "n_rb": z_arr.sum(axis=1), "attrs": attrs}


TASK_VARIABLES = {
    "alpha": ("1", "offloading decision (1 = cloud)"),
    "t_radio": ("s", "radio delay n s / C (eq. 1)"),
    "t_backhaul": ("s", "backhaul delay alpha t_back (eq. 1)"),
    "t_gen": ("s", "generation delay (eqs. 3, 4c, 4d)"),
    "t_total": ("s", "total delay (summand of eq. 4)"),
    "quality_ok": ("1", "quality constraint met (eq. 4e)"),
    "constraints_ok": ("1", "every hard constraint of the task met"),
    "slo_excess": ("s", "lateness beyond the deadline"),
    "reward": ("s", "reward (eq. 10)"),
}


def evaluate(scenario: xr.Dataset, z: Any, alpha: Any) -> xr.Dataset:
    """Evaluate an allocation and offloading decisions on a scenario.

    Parameters
    ----------
    scenario : xarray.Dataset
        A validated scenario.
    z : array_like of bool, shape (user, rb)
        RB allocation.
    alpha : array_like of bool, shape (task,)
        Offloading decisions (True = cloud).

    Returns
    -------
    result : xarray.Dataset
        Per task: ``t_radio``, ``t_backhaul``, ``t_gen``, ``t_total`` [s], ``quality_ok``,
        ``constraints_ok``, ``slo_excess`` [s], ``reward`` [s]; per user ``capacity`` [bit/s] and
        ``n_rb``; ``attrs`` hold the totals (``objective`` [s] = the objective of eq. (4) plus
        any soft-SLO penalty, ``radio_part`` [s], ``mean_reward``, ``quality_success``...).
        The numbers are those of :func:`evaluate_arrays`.
    """
    r = evaluate_arrays(scenario, z, alpha)
    data = {k: xr.Variable(("task",), r[k], {"units": u, "description": d})
            for k, (u, d) in TASK_VARIABLES.items()}
    data["z"] = xr.Variable(("user", "rb"), r["z"], {"units": "1", "description": "RB allocation"})
    data["capacity"] = xr.Variable(("user",), r["capacity"], {"units": "bit/s",
                                                              "description": "link capacity (eq. 2)"})
    data["n_rb"] = xr.Variable(("user",), r["n_rb"], {"units": "1", "description": "RBs per user"})
    return xr.Dataset(data, coords={"task": scenario["task"], "user": scenario["user"],
                                    "rb": scenario["rb"]}, attrs=r["attrs"])


def to_table(result: xr.Dataset, scenario: xr.Dataset) -> pl.DataFrame:
    """Per-task results as a polars table (one row per task)."""
    return pl.DataFrame({
        "task": result["task"].values,
        "user": scenario["task_user"].values,
        "service": scenario["service"].values,
        "service_class": scenario["service_class"].values,
        "units": scenario["units"].values,
        **{k: result[k].values for k in ("alpha", "t_radio", "t_backhaul", "t_gen", "t_total",
                                         "quality_ok", "constraints_ok", "reward")},
    })
