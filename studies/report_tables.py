"""Tables of the study report (polars), and their HTML and Markdown renderings."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import polars as pl

from genoffload.studies.figures import describe_case, policy_order
from genoffload.studies.report_load import StudyData

# (column, header with unit, scale) per mode; means over seeds ± std over seeds
EPISODE_METRICS = (
    ("mean_reward", "mean reward [s]", 1.0),
    ("optimal_reward", "optimal reward [s]", 1.0),
    ("regret", "regret [s]", 1.0),
    ("success_rate", "quality success [%]", 100.0),
    ("preferred_success_rate", "quality success, preferred tasks [%]", 100.0),
    ("mean_delay_s", "mean delay [s]", 1.0),
    ("tail_reward_ratio", "tail reward / optimum [%]", 100.0),
    ("explorations", "explorations", 1.0),
    ("fallbacks", "fallbacks", 1.0),
    ("decisions_per_s", "decisions/s [1/s]", 1.0),
    ("wall_s", "wall time [s]", 1.0),
)
SNAPSHOT_METRICS = (
    ("mean_reward", "mean reward [s]", 1.0),
    ("success_rate", "quality success [%]", 100.0),
    ("feasible", "feasible plans [%]", 100.0),
    ("mean_delay_s", "mean delay [s]", 1.0),
    ("objective_s", "objective [s]", 1.0),
    ("gap_total", "gap total [%]", 100.0),
    ("gap_radio", "gap radio part [%]", 100.0),
    ("decisions_per_s", "decisions/s [1/s]", 1.0),
    ("wall_s", "wall time [s]", 1.0),
)
METADATA_LABELS = {"wall_s": "wall time [s]", "spec_hash": "spec hash"}
ERROR_CHARS = 300


@dataclass
class Table:
    """A report table: anchor, title, caption and the data (every cell already a string)."""

    key: str
    title: str
    caption: str
    frame: pl.DataFrame
    numeric: tuple[str, ...] = ()
    """Columns shown right-aligned (numbers)."""


def fmt(value: Any, scale: float = 1.0) -> str:
    """A number with 4 significant digits; missing values as an en dash."""
    if value is None:
        return "–"
    if isinstance(value, float | int) and not isinstance(value, bool):
        x = float(value) * scale
        if math.isnan(x):
            return "–"
        return f"{x:.4g}"
    return str(value)


def mean_std(mean: Any, std: Any, n: int, scale: float) -> str:
    """``mean ± std`` (std only with more than one seed)."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    return fmt(mean, scale) + (f" ± {fmt(std or 0.0, scale)}" if n > 1 else "")


def policy_summary(data: StudyData, mode: str) -> Table | None:
    """Per policy: each metric averaged over the policy's cases per seed, then mean ± std over seeds."""
    ok = data.ok.filter(pl.col("mode") == mode)
    metrics = tuple(m for m in (EPISODE_METRICS if mode == "episode" else SNAPSHOT_METRICS)
                    if m[0] in ok.columns)
    if ok.height == 0:
        return None
    cols = [m for m, _, _ in metrics]
    per_seed = (ok.group_by("policy", "seed")
                .agg(pl.len().alias("cells"), pl.col("case_id").n_unique().alias("cases"),
                     *[pl.col(c).filter(pl.col(c).is_finite()).mean() for c in cols]))
    stats = (per_seed.group_by("policy")
             .agg(pl.col("cells").sum(), pl.col("cases").max(), pl.col("seed").n_unique().alias("seeds"),
                  *[pl.col(c).mean().alias(f"{c}__m") for c in cols],
                  *[pl.col(c).std(ddof=1).alias(f"{c}__s") for c in cols]))
    out: dict[str, list[str]] = {"policy": [], "cells": [], "seeds": []}
    for _, header, _ in metrics:
        out[header] = []
    for label in [p for p in policy_order(ok) if p in set(stats["policy"].to_list())]:
        row = stats.filter(pl.col("policy") == label).row(0, named=True)
        out["policy"].append(label)
        out["cells"].append(str(row["cells"]))
        out["seeds"].append(str(row["seeds"]))
        for col, header, scale in metrics:
            out[header].append(mean_std(row[f"{col}__m"], row[f"{col}__s"], row["seeds"], scale))
    frame = pl.DataFrame(out)
    empty = [h for _, h, _ in metrics if all(v == "–" for v in frame[h].to_list())]
    frame = frame.drop(empty)
    what = ("online episodes" if mode == "episode"
            else "snapshots against the certified exact optimum")
    frame, note = mark_uncertified(ok, frame)
    return Table(f"tbl-{mode}", f"Per-policy summary: {what}",
                 "For each policy and seed the metric is averaged over the policy's finished cells "
                 "(cases); the table shows the mean over seeds ± the standard deviation over seeds "
                 "(non-finite values, e.g. the delay of a task without an RB, are left out). "
                 "Gaps are relative to the exact objective." + note, frame, tuple(frame.columns[1:]))


UNCERTIFIED_MARK = " †"
GAP_HEADERS = ("gap total [%]", "gap radio part [%]")


def mark_uncertified(ok: pl.DataFrame, frame: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Mark the gap columns of policies whose gaps are (partly) measured against an exact
    solve that is not certified (``exact_certified == 0``); add the column ``uncertified
    reference`` (cells of the policy with such a gap) and return a caption note."""
    if "exact_certified" not in ok.columns or not any(h in frame.columns for h in GAP_HEADERS):
        return frame, ""
    gaps = ok.filter(pl.col("gap_total").is_not_null())
    bad = gaps.filter(pl.col("exact_certified") < 0.5).group_by("policy").len()
    count = dict(zip(bad["policy"].to_list(), bad["len"].to_list(), strict=True))
    if not count:
        return frame, " Every exact reference is certified optimal."
    n_all = dict(gaps.group_by("policy").len().iter_rows())
    col = [f"{count.get(p, 0)} of {n_all.get(p, 0)}" for p in frame["policy"].to_list()]
    marked = [pl.when(pl.Series(col).str.starts_with("0 of").not_())
              .then(pl.col(h) + UNCERTIFIED_MARK).otherwise(pl.col(h)).alias(h)
              for h in GAP_HEADERS if h in frame.columns]
    frame = frame.with_columns(marked).with_columns(pl.Series("uncertified reference", col))
    return frame, (f" {UNCERTIFIED_MARK.strip()}: some of these gaps are measured against an "
                   "exact solve that is NOT certified optimal (time limit, round cap or numerical "
                   "trouble; column 'uncertified reference'), so they are not optimality gaps.")


def cases_table(data: StudyData) -> Table:
    """One row per case: its sweep(s), grid values and cell counts."""
    s = data.summary
    rows = []
    for case_id in dict.fromkeys(s["case_id"].to_list()):
        cells = s.filter(pl.col("case_id") == case_id)
        first = cells.row(0, named=True)
        failed = cells.filter(pl.col("status") == "failed").height
        rows.append({"case": case_id, "mode": first["mode"], "sweep": first["sweep"],
                     "grid values": describe_case(first, data.grid), "cells": str(cells.height),
                     "failed": str(failed)})
    return Table("tbl-cases", "Cases", "Every scenario case of the study with its grid values.",
                 pl.DataFrame(rows), ("cells", "failed"))


def failures_table(data: StudyData) -> Table:
    """The failed cells and their errors (empty frame when none failed)."""
    failed = data.summary.filter(pl.col("status") == "failed")
    frame = failed.select(
        pl.col("cell_id").alias("cell"), pl.col("case_id").alias("case"), "policy",
        pl.col("seed").cast(pl.String),
        pl.col("error").fill_null("(no message)").str.slice(0, ERROR_CHARS).alias("error"))
    n = data.summary.height
    return Table("tbl-failures", "Failed cells",
                 f"{failed.height} of {n} cells failed; a failed cell records its error and the "
                 "study goes on." if failed.height else f"No cell failed ({n} cells).", frame, ("seed",))


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        if prefix.endswith("failures"):
            out.append((prefix, f"{len(value)} (listed in the failed-cells table)"))
            return
        for i, v in enumerate(value):
            _flatten(f"{prefix}[{i}]", v, out)
    elif isinstance(value, list):
        out.append((prefix, ", ".join(fmt(v) for v in value) if value else "none"))
    elif isinstance(value, str) and "\n" in value:
        return  # multi-line text (the study file) is shown as a block of its own
    elif isinstance(value, int | float) and not isinstance(value, bool) and prefix.endswith("_bytes"):
        out.append((prefix.removesuffix("_bytes") + " [GiB]", f"{value / 2**30:.1f}"))
    elif isinstance(value, float):
        out.append((METADATA_LABELS.get(prefix, prefix), fmt(value)))
    else:
        out.append((METADATA_LABELS.get(prefix, prefix), "–" if value is None else str(value)))


def metadata_table(data: StudyData) -> Table:
    """``metadata.json`` as key/value rows (nested keys dotted), plus the ``results.nc`` layout."""
    rows: list[tuple[str, str]] = []
    _flatten("", data.metadata, rows)
    if data.results is not None:
        dims = ", ".join(f"{k}={v}" for k, v in data.results["dims"].items())
        rows.append(("results.nc dimensions", dims))
        rows.append(("results.nc variables", str(len(data.results["variables"]))))
    rows.append(("study folder", str(data.folder)))
    frame = pl.DataFrame({"key": [k for k, _ in rows], "value": [v for _, v in rows]})
    return Table("tbl-metadata", "Run metadata", "From metadata.json and results.nc.", frame)


def study_texts(metadata: dict[str, Any]) -> list[tuple[str, str]]:
    """Multi-line strings of the metadata (the study file's text), as (key, text)."""
    found: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, str) and "\n" in value:
            found.append((prefix, value))

    walk("", metadata)
    return found


def to_html(table: Table) -> str:
    """An HTML table (escaped; numbers right-aligned)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.frame.columns)
    body = []
    numeric = [c in table.numeric for c in table.frame.columns]
    for row in table.frame.iter_rows():
        cells = []
        for v, num in zip(row, numeric, strict=True):
            text = "" if v is None else str(v)
            mean, _, std = text.partition(" ± ")
            shown = (f"{html.escape(mean)} <br><span class=sd>± {html.escape(std)}</span>" if std
                     else html.escape(text))
            cells.append(f"<td{' class=num' if num else ''}>{shown}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="tablewrap"><table id="{table.key}" data-rows="{table.frame.height}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def to_markdown(table: Table) -> str:
    """A GitHub-flavoured Markdown pipe table."""
    def cell(v: Any) -> str:  # raw HTML in a value (an error message, a label) is shown, not run
        text = html.escape("" if v is None else str(v), quote=False)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(c) for c in table.frame.columns) + " |",
             "|" + "|".join("---" for _ in table.frame.columns) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.frame.iter_rows()]
    return "\n".join(lines)

