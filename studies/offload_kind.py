"""The ``offload`` study kind: the edge-cloud offloading studies (``paper``, ``gap``, ``state``,
``demo``) registered like every other kind.

Its cells carry a policy and a mode (episode / snapshot) besides the scenario grid, its summary
the gaps to the certified exact cell of the same case, its report the paper's Fig. 5; so it brings
its own pipeline (:class:`OffloadPipeline`, the methods of
:class:`~genoffload.studies.kinds.Pipeline`) over :mod:`~genoffload.studies.spec`,
:mod:`~genoffload.studies.cells`, :mod:`~genoffload.studies.results` and
:mod:`~genoffload.studies.report`. Runner, cell files, result files, report shell and CLI are the
shared ones.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import xarray as xr

from genoffload.scenario import ScenarioConfig
from genoffload.studies.cells import CellTask, run_cell
from genoffload.studies.kind_generic import failed_cells, status_counts
from genoffload.studies.kinds import StudyKind, register_kind
from genoffload.studies.spec import Cell, Study, parse_offload_study


def cell_task(study: Study, cell: Cell, out_dir: Path) -> CellTask:
    """The plain-data task of a cell."""
    s = study.spec.study
    return CellTask(cell.cell_id, cell.case.case_id, cell.case.mode, cell.case.steps, cell.case.params,
                    cell.policy.model_dump(mode="json", exclude_none=True), cell.seed, s.arrival_prob,
                    s.token_noise, str(out_dir.resolve()))


def priority(cell: Cell, study: Study) -> int:
    """Rough relative cost of a cell: the longest start first (a shorter tail of the run)."""
    case, kind = cell.case, cell.policy.kind
    users = case.params["users"] * case.grid["sites"]
    if kind == "icl":  # one LLM decision per arriving task and step
        return int(10 * case.steps * max(1.0, users * study.spec.study.arrival_prob)) + 1000
    if kind == "rl":
        return case.steps + 500
    if kind == "joint":
        return users * (10 if case.grid["families"] != "none" else 1)
    return 0


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.3g}"
    return str(value)


def policy_table(table: pl.DataFrame, title: str) -> Any:
    """Per policy: cells ok / failed / pending and mean metrics over its finished cells."""
    from rich.table import Table

    out = Table(title=title)
    for col in ("policy", "mode", "ok", "failed", "pending", "mean reward \\[s]", "mean delay \\[s]",
                "success", "gap total", "gap radio"):
        out.add_column(col, justify="left" if col in ("policy", "mode") else "right")
    grouped = table.group_by(["policy", "mode"], maintain_order=True).agg(
        *status_counts(), pl.col("mean_reward").mean(), pl.col("mean_delay_s").mean(),
        pl.col("success_rate").mean(), pl.col("gap_total").mean(), pl.col("gap_radio").mean())
    for r in grouped.iter_rows(named=True):
        out.add_row(r["policy"], r["mode"], str(r["ok"]), str(r["failed"]), str(r["pending"]),
                    _fmt(r["mean_reward"]), _fmt(r["mean_delay_s"]), _fmt(r["success_rate"]),
                    _fmt(r["gap_total"], 4), _fmt(r["gap_radio"], 4))
    return out


class OffloadPipeline:
    """The offloading kind's pipeline (see the module docstring)."""

    def parse(self, kind: StudyKind, raw: dict[str, Any], text: str, source: str) -> Study:
        return parse_offload_study(raw, text, source)

    def task(self, study: Study, cell: Cell, out_dir: Path) -> CellTask:
        return cell_task(study, cell, out_dir)

    def worker(self) -> Callable[[CellTask], dict[str, Any]]:
        return run_cell

    def priority(self, study: Study, cell: Cell) -> int:
        return priority(cell, study)

    def tables(self, study: Study, out_dir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
        from genoffload.studies.results import summary_table

        return summary_table(study, out_dir)

    def dataset(self, study: Study, summary: pl.DataFrame) -> xr.Dataset:
        from genoffload.studies.results import results_dataset

        return results_dataset(study, summary)

    def report(self, kind: StudyKind, folder: Path, progress: Callable[[str], None]) -> Any:
        from genoffload.studies.report import build_offload_report

        return build_offload_report(folder, progress)

    def headline(self, study: Study) -> str:
        return (f"study [bold]{study.name}[/]: {len(study.cases)} cases x policies x "
                f"{len(study.seeds)} seeds = {len(study.cells)} cells")

    def check_rows(self, study: Study) -> tuple[list[str], list[list[str]]]:
        rows = []
        for c in study.cases:
            grid = ", ".join(f"{k}={v}" for k, v in c.grid.items() if k not in ("edge_model", "cloud_model"))
            rows.append([c.case_id, "+".join(c.sweeps), c.mode, str(c.steps), grid, ", ".join(c.policies)])
        return ["case", "sweep", "mode", "steps", "grid", "policies"], rows

    def status_table(self, summary: pl.DataFrame, title: str) -> Any:
        return policy_table(summary, title)

    def failures(self, summary: pl.DataFrame) -> list[dict[str, Any]]:
        return failed_cells(summary, "policy")


OFFLOAD = register_kind(StudyKind(
    "offload", ScenarioConfig, pipeline=OffloadPipeline(),
    description="edge-cloud LLM offloading: scenario grid x policies x seeds, episode or snapshot cells"))
