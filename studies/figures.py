"""Figures of the study report, part 1: shared helpers and the per-step panels Fig. 5a-c.

Matplotlib with the Agg backend only (figures are built with :class:`matplotlib.figure.Figure`
and rendered by :class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`; no pyplot state).
Each panel is a :class:`Panel`: the PNG bytes, or a note saying why it is omitted.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from genoffload.errors import InputError
from genoffload.policy import policy_entry
from genoffload.studies.report_load import GRID_COLUMNS, StudyData

DPI = 110
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")


@dataclass
class Panel:
    """One figure of the report.

    Attributes
    ----------
    key : str
        Anchor and file stem, e.g. ``fig5a``.
    title : str
        Heading, e.g. ``Fig. 5a: reward convergence``.
    caption : str
        What is drawn (data, averaging, bands).
    png : bytes or None
        The rendered figure; None when the panel is omitted.
    note : str or None
        Why the panel is omitted (``no data for Fig. 5d: ...``).
    """

    key: str
    title: str
    caption: str = ""
    png: bytes | None = None
    note: str | None = None


def omitted(key: str, title: str, reason: str) -> Panel:
    """A panel without data: the note names the figure and the reason."""
    label = title.split(":")[0]
    return Panel(key, title, note=f"no data for {label}: {reason}")


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.4, height: float = 3.8,
               sharey: bool = False) -> tuple[Figure, np.ndarray]:
    """A figure with an Agg canvas and a 2-D array of axes (``width``, ``height`` per axes [in])."""
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, sharey=sharey, squeeze=False)
    return fig, axes


def to_png(fig: Figure) -> bytes:
    """Render a figure to PNG bytes (Agg, fixed metadata so equal data give equal bytes)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def policy_order(summary: pl.DataFrame) -> list[str]:
    """Policy labels in the order of their first cell (the study file's order)."""
    return list(dict.fromkeys(summary["policy"].to_list()))


def policy_colors(labels: list[str]) -> dict[str, Any]:
    """A fixed colour per policy label, the same in every figure."""
    from matplotlib import colormaps

    cmap = colormaps["tab10" if len(labels) <= 10 else "tab20"]
    return {label: cmap(i % cmap.N) for i, label in enumerate(labels)}


def moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the last axis, ignoring NaN (a step without data).

    The first steps average the steps so far; a window without any value gives NaN.
    """
    valid = np.isfinite(values)
    csum = np.cumsum(np.where(valid, values, 0.0), axis=-1)
    cnt = np.cumsum(valid, axis=-1).astype(float)
    csum[..., window:] = csum[..., window:] - csum[..., :-window].copy()
    cnt[..., window:] = cnt[..., window:] - cnt[..., :-window].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, csum / np.maximum(cnt, 1.0), np.nan)


def ma_window(steps: int) -> int:
    """Moving-average window [steps]: a tenth of the episode, between 1 and 25."""
    return int(min(25, max(1, steps // 10)))


def describe_case(row: dict[str, Any], keys: list[str] | tuple[str, ...] = GRID_COLUMNS) -> str:
    """The grid values of a case, e.g. ``users=20, token_mean=1000, llm_pair=llama3-8b+gpt-4o``."""
    parts = []
    for key in keys:
        if key in ("edge_model", "cloud_model"):
            continue
        value = row.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def convergence_case(data: StudyData) -> str | None:
    """The case of Fig. 5a-c: the base case, else the episode case with the most policies.

    Ties go to the longest episodes, then to the case in the most sweeps, then to the first
    case id in sort order.
    """
    if data.curves is None:
        return None
    ep = data.ok.filter(pl.col("mode") == "episode")
    ep = ep.filter(pl.col("case_id").is_in(data.curves["case_id"].unique().implode()))
    if ep.height == 0:
        return None
    steps = dict(data.curves.group_by("case_id").agg(pl.col("step").max()).iter_rows())
    ranked = []
    for (case_id,), group in ep.group_by("case_id"):
        sweeps = str(group["sweep"][0]).split("+")
        ranked.append(("base" not in sweeps, -group["policy"].n_unique(), -(steps.get(case_id) or 0),
                       -len(sweeps), str(case_id)))
    return min(ranked)[-1]


def curve_matrix(curves: pl.DataFrame, column: str) -> np.ndarray:
    """Per-step values as a (cell, step) matrix, cut to the shortest cell's steps."""
    rows = [g.sort("step")[column].to_numpy() for _, g in curves.group_by("cell_id", maintain_order=True)]
    n = min(r.size for r in rows)
    return np.vstack([r[:n] for r in rows]).astype(float)


def _draw_curves(ax: Any, curves: pl.DataFrame, labels: list[str], colors: dict[str, Any],
                 column: str, scale: float, window: int, dashed: tuple[str, ...] = ()) -> None:
    for label in labels:
        sub = curves.filter(pl.col("policy") == label)
        if sub.height == 0:
            continue
        ma = moving_average(curve_matrix(sub, column) * scale, window)
        with warnings.catch_warnings():  # steps where no seed has data stay NaN (a gap in the line)
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, std = np.nanmean(ma, axis=0), np.nanstd(ma, axis=0)
        steps = np.arange(mean.size)
        style = "--" if label in dashed else "-"
        marker = MARKERS[labels.index(label) % len(MARKERS)]  # tells overlapping lines apart
        ax.plot(steps, mean, style, color=colors[label], lw=1.6, label=label, marker=marker, ms=4,
                markevery=max(1, mean.size // 12))
        ax.fill_between(steps, mean - std, mean + std, color=colors[label], alpha=0.18, lw=0)


def convergence_panels(data: StudyData, colors: dict[str, Any]) -> list[Panel]:
    """Fig. 5a (reward convergence), 5b (quality success rate), 5c (replay and exploration)."""
    titles = {"fig5a": "Fig. 5a: reward convergence",
              "fig5b": "Fig. 5b: quality success rate",
              "fig5c": "Fig. 5c: replay and exploration"}
    if not data.ok.filter(pl.col("mode") == "episode").height:
        why = "the study has no finished episode cells"
        return [omitted(k, t, why) for k, t in titles.items()]
    case = convergence_case(data)
    if case is None or data.curves is None:
        why = "curves.parquet is missing" if data.curves is None else \
            "curves.parquet has no rows for the finished episode cells"
        return [omitted(k, t, why) for k, t in titles.items()]
    cells = data.ok.filter(pl.col("case_id") == case)
    curves = data.curves.filter(pl.col("cell_id").is_in(cells["cell_id"].implode()))
    labels = [p for p in policy_order(data.summary) if p in set(cells["policy"].to_list())]
    steps = int(curves.group_by("cell_id").len()["len"].min() or 1)
    window = ma_window(steps)
    seeds = cells["seed"].n_unique()
    where = (f"Case {describe_case(cells.row(0, named=True), data.grid)}; {seeds} seed(s); "
             f"{steps} steps; moving average "
             f"over {window} step(s); line = mean over seeds, band = ±1 std over seeds.")
    panels = [_reward_panel(curves, labels, colors, window, where),
              _quality_panel(curves, labels, colors, window, where)]
    category = {p: _category(cells.filter(pl.col("policy") == p)["policy_name"][0]) for p in labels}
    icl = [p for p in labels if category[p] == "icl"]
    if not icl:
        panels.append(omitted("fig5c", titles["fig5c"], "the study has no ICL policy"))
    else:
        rl = [p for p in labels if category[p] == "rl"]
        panels.append(_replay_panel(curves, icl, rl, colors, window, where))
    return panels


def _optimal_line(ax: Any, curves: pl.DataFrame, window: int) -> None:
    opt = np.nanmean(moving_average(curve_matrix(curves, "optimal_reward"), window), axis=0)
    ax.plot(np.arange(opt.size), opt, "--", color="black", lw=1.2, label="optimal (per task)")


def _finish(ax: Any, ylabel: str) -> None:
    ax.set_xlabel("step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.figure.legend(loc="outside right center", fontsize=8)


def _reward_panel(curves: pl.DataFrame, labels: list[str], colors: dict[str, Any], window: int,
                  where: str) -> Panel:
    fig, axes = new_figure()
    ax = axes[0, 0]
    _draw_curves(ax, curves, labels, colors, "reward", 1.0, window)
    _optimal_line(ax, curves, window)
    _finish(ax, "reward per task, eq. (10) [s]")
    return Panel("fig5a", "Fig. 5a: reward convergence",
                 "Per-step mean reward of eq. (10) per policy; dashed: the per-task optimum given "
                 "the step's RB allocation (mean over all cells of the case). " + where, to_png(fig))


def _quality_panel(curves: pl.DataFrame, labels: list[str], colors: dict[str, Any], window: int,
                   where: str) -> Panel:
    preferred = "preferred_ok" in curves.columns and curves["preferred_ok"].is_not_null().any()
    column = "preferred_ok" if preferred else "quality_ok"
    fig, axes = new_figure()
    ax = axes[0, 0]
    _draw_curves(ax, curves, labels, colors, column, 100.0, window)
    ax.set_ylim(-5, 105)
    _finish(ax, ("quality-preferred tasks served with quality [%]" if preferred
                 else "tasks served with quality [%]"))
    what = ("Share of the step's quality-preferred tasks whose model meets their quality "
            "requirement (4e), the paper's service success rate (steps without such a task are "
            "skipped). " if preferred else
            "Share of the step's tasks whose model meets the quality requirement (4e) (the study "
            "has no per-class curve, so all tasks count). ")
    return Panel("fig5b", "Fig. 5b: quality success rate", what + where, to_png(fig))


def _replay_panel(curves: pl.DataFrame, icl: list[str], rl: list[str], colors: dict[str, Any],
                  window: int, where: str) -> Panel:
    fig, axes = new_figure()
    ax = axes[0, 0]
    _draw_curves(ax, curves, icl + rl, colors, "reward", 1.0, window, dashed=tuple(rl))
    _optimal_line(ax, curves, window)
    _finish(ax, "reward per task, eq. (10) [s]")
    ref = f" Dashed coloured: the RL baseline(s) {', '.join(rl)}." if rl else ""
    return Panel("fig5c", "Fig. 5c: replay and exploration",
                 "The ICL variants of the study by policy label (the paper's prioritized replay "
                 "with epsilon-greedy exploration, latest-experience replay = baseline 1, no "
                 "exploration = baseline 2, as configured in the study file); dashed black: the "
                 f"per-task optimum.{ref} " + where, to_png(fig))


def _category(name: str) -> str | None:
    """The registry category of a policy name (None for a name this process does not know)."""
    try:
        return policy_entry(name).category
    except InputError:
        return None
