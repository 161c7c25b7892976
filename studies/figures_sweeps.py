"""Figures of the study report, part 2: delay against a swept key (Fig. 5d-f) and the
optimality-gap distribution per policy (what the paper could not show)."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from genoffload.studies.figures import MARKERS, Panel, new_figure, omitted, policy_order, to_png
from genoffload.studies.report_load import StudyData

# (panel key, swept column, axis label, scale of the axis values, title)
SWEEP_PANELS = (
    ("fig5d", "users", "users per cell", 1.0, "Fig. 5d: mean delay against users"),
    ("fig5e", "token_mean", "mean output size [token]", 1.0, "Fig. 5e: mean delay against output tokens"),
    ("fig5f", "quality_share", "quality-preferred tasks [%]", 100.0,
     "Fig. 5f: mean delay against the quality-preferred share"),
)
PAIR_KEYS = ("llm_pair", "edge_model", "cloud_model")
LINESTYLES = ("-", "--", ":", "-.")


def sweep_names(column: pl.Series) -> list[list[str]]:
    """The sweeps of each row (``sweep`` joins several names with ``+``)."""
    return [str(s).split("+") for s in column.to_list()]


def sweep_rows(ok: pl.DataFrame, key: str) -> tuple[pl.DataFrame, list[str]]:
    """Finished cells of the sweeps that vary ``key`` (with a delay), and those sweep names.

    Episode cells are used when an episode sweep varies ``key`` (the paper's figures are
    online episodes); otherwise snapshot cells. The returned rows are of one mode.
    """
    for mode in ("episode", "snapshot"):
        rows = ok.filter((pl.col("mode") == mode) & pl.col("mean_delay_s").is_not_null()
                         & pl.col("mean_delay_s").is_finite())
        names = sweep_names(rows["sweep"])
        chosen = []
        for name in dict.fromkeys(n for ns in names for n in ns):
            mask = pl.Series([name in ns for ns in names], dtype=pl.Boolean)
            if rows.filter(mask)[key].n_unique() > 1:
                chosen.append(name)
        if chosen:
            mask = pl.Series([any(n in chosen for n in ns) for ns in names], dtype=pl.Boolean)
            return rows.filter(mask), chosen
    return ok.clear(), []


def _fmt(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def sweep_panel(data: StudyData, colors: dict[str, Any], spec: tuple[str, str, str, float, str]) -> Panel:
    """One of Fig. 5d-f: mean delay [s] against ``key``, a line per policy, a facet per LLM pair."""
    pkey, key, xlabel, scale, title = spec
    rows, chosen = sweep_rows(data.ok, key)
    if rows.height == 0:
        return omitted(pkey, title, f"the study has no {key} sweep")
    extra = [k for k in data.grid if k not in (key, *PAIR_KEYS) and rows[k].n_unique() > 1]
    pairs = sorted(rows["llm_pair"].unique().to_list())
    ncols = min(3, len(pairs))
    nrows = -(-len(pairs) // ncols)
    fig, axes = new_figure(ncols, nrows, width=4.6, height=3.6, sharey=True)
    labels = policy_order(data.summary)
    combos = rows.select(extra).unique(maintain_order=True).rows() if extra else [()]
    for i, pair in enumerate(pairs):
        ax = axes[i // ncols, i % ncols]
        sub = rows.filter(pl.col("llm_pair") == pair)
        for label in [p for p in labels if p in set(sub["policy"].to_list())]:
            for j, combo in enumerate(combos):
                cond = pl.col("policy") == label
                for k, v in zip(extra, combo, strict=True):
                    cond &= pl.col(k) == v
                pts = (sub.filter(cond).group_by(key)
                       .agg(pl.col("mean_delay_s").mean().alias("m"),
                            pl.col("mean_delay_s").std(ddof=0).alias("s"))
                       .sort(key))
                if pts.height == 0:
                    continue
                name = label + (f" ({', '.join(f'{k}={_fmt(v)}' for k, v in zip(extra, combo, strict=True))})"
                                if extra else "")
                ax.errorbar(pts[key].to_numpy() * scale, pts["m"].to_numpy(),
                            yerr=pts["s"].fill_null(0.0).to_numpy(), color=colors[label],
                            ls=LINESTYLES[j % len(LINESTYLES)],
                            marker=MARKERS[labels.index(label) % len(MARKERS)],
                            ms=4, lw=1.4, capsize=3, label=name)
        ax.set_title(f"edge + cloud LLM: {pair}", fontsize=9)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("mean service delay [s]")
        ax.grid(alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside right center", fontsize=8)
    for i in range(len(pairs), nrows * ncols):
        axes[i // ncols, i % ncols].set_visible(False)
    seeds = rows["seed"].n_unique()
    also = f"; lines also split by {', '.join(extra)}" if extra else ""
    mode = str(rows["mode"][0])
    caption = (f"Mean service delay per task (transmission + backhaul + generation, eq. 4) of the "
               f"{mode} sweep(s) {', '.join(chosen)}: a line per policy, a facet per edge/cloud LLM "
               f"pair{also}; point = mean over {seeds} seed(s), bar = ±1 std over seeds; "
               f"{rows.height} cells.")
    return Panel(pkey, title, caption, to_png(fig))


def sweep_panels(data: StudyData, colors: dict[str, Any]) -> list[Panel]:
    """Fig. 5d, 5e and 5f."""
    return [sweep_panel(data, colors, spec) for spec in SWEEP_PANELS]


def _boxes(ax: Any, groups: list[tuple[str, np.ndarray]], colors: dict[str, Any],
           hollow: list[np.ndarray] | None = None) -> None:
    """Box per group with the individual cells drawn over it (small studies have few points);
    points where ``hollow`` is True are drawn as rings."""
    values = [v for _, v in groups]
    box = ax.boxplot(values, tick_labels=[g for g, _ in groups], patch_artist=True, widths=0.55,
                     showfliers=False, medianprops={"color": "black"})
    rng = np.random.default_rng(0)  # fixed jitter: the same data give the same figure
    for i, ((label, v), patch) in enumerate(zip(groups, box["boxes"], strict=True)):
        color = colors.get(label, (0.5, 0.5, 0.5, 1.0))
        patch.set_facecolor((*color[:3], 0.35))
        x = i + 1 + rng.uniform(-0.15, 0.15, v.size)
        ring = hollow[i] if hollow is not None else np.zeros(v.size, dtype=bool)
        ax.scatter(x[~ring], v[~ring], s=10, color=color, zorder=3, edgecolor="none")
        ax.scatter(x[ring], v[ring], s=14, facecolor="none", edgecolor=color, lw=0.9, zorder=3)
    ax.tick_params(axis="x", labelrotation=30, labelsize=8)
    ax.axhline(0.0, color="black", lw=0.8)
    ax.grid(axis="y", alpha=0.3)


def _scale(ax: Any, values: np.ndarray) -> str:
    """Symmetric-log y axis when the gaps span several decades; returns a caption remark."""
    nz = np.abs(values[values != 0])
    if nz.size and nz.max() > 100 * np.median(nz):
        ax.set_yscale("symlog", linthresh=float(max(np.percentile(nz, 10), 1e-6)))
        return " (symmetric-log axis)"
    return ""


def gap_panel(data: StudyData, colors: dict[str, Any]) -> Panel:
    """Optimality gap per policy against the certified exact optimum, total and radio part."""
    title = "Optimality gap per policy"
    rows = data.ok.filter(pl.col("gap_total").is_not_null() & (pl.col("policy_name") != "exact"))
    if rows.height == 0:
        return omitted("gap", title, "the study has no finished snapshot cells with an exact solve")
    labels = [p for p in policy_order(data.summary) if p in set(rows["policy"].to_list())]
    fig, axes = new_figure(3, 1, width=4.2, height=4.0)
    feasible = "feasible" in rows.columns and rows["feasible"].is_not_null().any()
    remarks = []
    for ax, column, ylabel in ((axes[0, 0], "gap_total", "gap on the total objective [%]"),
                               (axes[0, 1], "gap_radio", "gap on the radio (z) part [%]")):
        groups, rings = [], []
        for p in labels:
            sel = rows.filter((pl.col("policy") == p) & pl.col(column).is_not_null()
                              & pl.col(column).is_finite())
            if sel.height:
                groups.append((p, 100.0 * sel[column].to_numpy()))
                rings.append(sel["feasible"].fill_null(1.0).to_numpy() < 0.5 if feasible
                             else np.zeros(sel.height, dtype=bool))
        if groups:
            _boxes(ax, groups, colors, rings)
            remarks.append(_scale(ax, np.concatenate([v for _, v in groups])))
        ax.set_ylabel(ylabel)
        ax.set_xlabel("policy")
    exact = data.ok.filter(pl.col("exact_gap").is_not_null()).unique(["case_id", "seed"], maintain_order=True)
    cert = 100.0 * exact["exact_gap"].to_numpy()
    uncertified = (int((exact["exact_certified"] < 0.5).sum()) if "exact_certified" in exact.columns
                   else 0)
    cert = cert[np.isfinite(cert)]  # an uncertified solve may have no finite bound
    ax = axes[0, 2]
    if cert.size:
        _boxes(ax, [("exact solve", cert)], {})
        ax.set_title(f"max {cert.max():.2g} %", fontsize=9)
    ax.set_ylabel("certified gap of the exact solve [%]")
    ax.set_xlabel("solver")
    fig.suptitle("gap = (policy objective − exact objective) / exact objective", fontsize=9)
    caption = (f"{rows.height} finished policy cells in {rows.select('case_id', 'seed').n_unique()} "
               f"(case, seed) snapshots, against the certified optimum of problem (4) from the "
               f"exact solver. Left: total objective (delay sum, eq. 4){remarks[0] if remarks else ''};"
               f" middle: the radio part that depends on the RB allocation z, which the generation "
               f"delay hides in the total{remarks[1] if len(remarks) > 1 else ''}; right: the exact "
               f"solve's own certified relative gap ({cert.size} solves). A negative gap is only "
               f"possible for a policy that breaks a constraint the exact solve keeps (quality "
               f"(4e) or an active constraint family)"
               + ("; rings: infeasible plans." if feasible else ".")
               + (f" WARNING: {uncertified} of {cert.size} exact solves are NOT certified "
                  f"optimal; the gaps against them are not optimality gaps (marked † in the "
                  f"tables)." if uncertified else ""))
    return Panel("gap", title, caption, to_png(fig))
