"""A tiny study through the study runner (``genoffload.studies.run_study``, one Dask worker),
then its report: the folder the runner writes is what the report reads."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from genoffload.studies.report import build_report, write_report

SPEC = """
[study]
name = "report-runner"
description = "tiny study for the report test"
mode = "episode"
seeds = [0, 1]
steps = 4
arrival_prob = 0.5

[base]
sites = 1
users = 3
rbs = 6
token_mean = 300
llm_pair = "llama3-8b+gpt-4o"

[[sweep]]
name = "users"
users = [2, 3]
policies = ["quality-rule", "all-edge"]

[[sweep]]
name = "gap"
mode = "snapshot"
families = ["none", "concurrency"]
policies = ["exact", "quality-rule", "all-edge"]

[[policy]]
name = "quality-rule"

[[policy]]
name = "all-edge"

[[policy]]
name = "exact"
"""


@pytest.fixture(scope="module")
def runner_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    studies = pytest.importorskip("genoffload.studies")
    if not hasattr(studies, "run_study"):
        pytest.skip("genoffload.studies has no runner (run_study)")
    folder = tmp_path_factory.mktemp("runner") / "study"
    studies.run_study(studies.parse_study(SPEC, "report-runner.toml"), folder, workers=1)
    return folder


def test_report_of_a_study_run(runner_study: Path) -> None:
    summary = pl.read_parquet(runner_study / "summary.parquet")
    assert summary.height == 2 * 2 * 2 + 2 * 3 * 2  # episode: 2 cases x 2 policies x 2 seeds
    report = build_report(runner_study)
    drawn = {p.key for p in report.panels if p.png is not None}
    notes = {p.key: p.note for p in report.panels if p.png is None}
    assert drawn == {"fig5a", "fig5b", "fig5d", "gap"}, notes
    assert notes["fig5c"] == "no data for Fig. 5c: the study has no ICL policy"
    assert notes["fig5e"] == "no data for Fig. 5e: the study has no token_mean sweep"
    tables = {t.key: t.frame for t in report.tables}
    assert set(tables) == {"tbl-episode", "tbl-snapshot", "tbl-failures", "tbl-cases"}
    assert tables["tbl-snapshot"]["policy"].to_list() == ["quality-rule", "all-edge", "exact"]
    assert tables["tbl-cases"].height == summary["case_id"].n_unique()
    assert report.name == "report-runner" and report.description.startswith("tiny study")
    assert any("[study]" in text for _, text in report.texts)
    out = write_report(runner_study, runner_study / "report.html")
    assert out == [runner_study / "report.html"]
    assert out[0].stat().st_size > 50_000
