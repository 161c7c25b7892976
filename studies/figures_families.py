"""Report parts per constraint family (issue 11): reward per step against the certified optimum.

For studies whose episode cases differ in their constraint families (e.g. the shipped
``state`` study), one panel per family: each policy's per-step mean reward (moving average,
mean over seeds, band ±1 std) and, dashed, the certified per-step offloading optimum given the
allocation (``optimal_reward``, reference (a) of :mod:`genoffload.models.reference`); and a table per
family and policy with the tail reward ratio, tail quality success and mean reward, mean ± std
over seeds.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from genoffload.studies.figures import (
    Panel,
    _draw_curves,
    curve_matrix,
    ma_window,
    moving_average,
    new_figure,
    policy_order,
    to_png,
)
from genoffload.studies.report_load import StudyData
from genoffload.studies.report_tables import Table, mean_std

TABLE_METRICS = (
    ("tail_reward_ratio", "tail reward / certified optimum [%]", 100.0),
    ("tail_success_rate", "tail quality success [%]", 100.0),
    ("mean_reward", "mean reward [s]", 1.0),
    ("optimal_reward", "certified optimum (a) [s]", 1.0),
)


def _family_cases(data: StudyData) -> dict[str, list[str]]:
    """Episode case ids per ``families`` value, when the episode cases have several."""
    ep = data.ok.filter(pl.col("mode") == "episode")
    if ep.height == 0 or "families" not in ep.columns or data.curves is None:
        return {}
    groups: dict[str, list[str]] = {}
    for fam, case in ep.select("families", "case_id").unique().sort("families", "case_id").iter_rows():
        groups.setdefault(str(fam), []).append(str(case))
    return groups if len(groups) > 1 else {}


def family_panels(data: StudyData, colors: dict[str, Any]) -> list[Panel]:
    """One panel per family: reward per step of each policy and the certified optimum."""
    panels = []
    assert data.curves is not None or not _family_cases(data)
    for fam, cases in _family_cases(data).items():
        cells = data.ok.filter(pl.col("case_id").is_in(cases) & (pl.col("mode") == "episode"))
        curves = data.curves.filter(pl.col("cell_id").is_in(cells["cell_id"].implode()))
        if curves.height == 0:
            continue
        labels = [p for p in policy_order(data.summary) if p in set(cells["policy"].to_list())]
        steps = int(curves.group_by("cell_id").len()["len"].min() or 1)
        window = ma_window(steps)
        fig, axes = new_figure()
        ax = axes[0, 0]
        _draw_curves(ax, curves, labels, colors, "reward", 1.0, window)
        opt = np.nanmean(moving_average(curve_matrix(curves, "optimal_reward"), window), axis=0)
        ax.plot(np.arange(opt.size), opt, "--", color="black", lw=1.2, label="certified optimum (a)")
        ax.set_xlabel("step")
        ax.set_ylabel("reward per task, eq. (10) [s]")
        ax.grid(alpha=0.3)
        ax.figure.legend(loc="outside right center", fontsize=8)
        seeds = cells["seed"].n_unique()
        panels.append(Panel(
            f"family-{fam}", f"Reward per step against the certified optimum: {fam}",
            f"Family {fam}: per-step mean reward of eq. (10) per policy (moving average over "
            f"{window} step(s), mean over {seeds} seed(s), band ±1 std); dashed: the certified "
            "offloading optimum of each step given its RB allocation (alpha* | z, with the "
            "step's coupling families; mean over the cells).", to_png(fig)))
    return panels


def family_table(data: StudyData) -> Table | None:
    """Per family and policy: tail ratio, tail success, mean reward; mean ± std over seeds."""
    groups = _family_cases(data)
    if not groups:
        return None
    ok = data.ok.filter(pl.col("mode") == "episode")
    metrics = [m for m in TABLE_METRICS if m[0] in ok.columns]
    out: dict[str, list[str]] = {"family": [], "policy": [], "seeds": []}
    for _, header, _ in metrics:
        out[header] = []
    for fam in groups:
        sub = ok.filter(pl.col("families") == fam)
        for label in [p for p in policy_order(sub) if p in set(sub["policy"].to_list())]:
            rows = sub.filter(pl.col("policy") == label)
            out["family"].append(fam)
            out["policy"].append(label)
            out["seeds"].append(str(rows["seed"].n_unique()))
            for col, header, scale in metrics:
                vals = rows[col].cast(pl.Float64).to_numpy()
                vals = vals[np.isfinite(vals)]
                std = float(np.std(vals, ddof=1)) if vals.size > 1 else 0.0
                out[header].append(mean_std(float(vals.mean()) if vals.size else None, std,
                                            int(vals.size), scale))
    frame = pl.DataFrame(out)
    return Table("tbl-families", "Per family and policy: against the certified per-step optimum",
                 "Tail = the last 20 % of each episode's steps; ratio = reward / the certified "
                 "offloading optimum given the allocation (reference (a)); mean over seeds ± the "
                 "standard deviation over seeds.", frame, tuple(frame.columns[2:]))


__all__ = ["family_panels", "family_table"]
