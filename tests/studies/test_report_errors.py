"""Bad input to ``genoffload report``: exit code 2, one line on stderr naming the field and the
value, no traceback, and nothing written (no report, no PNG, no temporary file)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from report_fixture import copy_study, fixture_study
from typer.testing import CliRunner

from genoffload.cli.app import app

runner = CliRunner()


def run_bad(argv: list[str], needles: list[str], out: Path) -> None:
    """Run the CLI and check the one-line error and that ``out`` (a folder) holds nothing new."""
    before = sorted(p.name for p in out.iterdir()) if out.exists() else []
    res = runner.invoke(app, argv)
    lines = res.stderr.strip("\n").splitlines()
    assert res.exit_code == 2, (res.exit_code, res.stderr, res.exception)
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert "Traceback" not in res.stderr + res.stdout
    assert res.stdout.strip() == ""
    after = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert after == before


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """A copy of the fixture study that a test may damage."""
    return copy_study(tmp_path / "study")


def test_missing_folder(tmp_path: Path) -> None:
    run_bad(["report", str(tmp_path / "nope"), "-o", str(tmp_path / "r.html")],
            ["dir", "nope", "no such folder"], tmp_path)


def test_not_a_study_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    run_bad(["report", str(tmp_path / "empty"), "-o", str(tmp_path / "r.html")],
            ["dir", "empty", "not a study folder: summary.parquet is missing"], tmp_path)


def test_a_file_is_not_a_study_folder(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("x")
    run_bad(["report", str(tmp_path / "f.txt"), "-o", str(tmp_path / "r.html")],
            ["dir", "f.txt", "not a folder"], tmp_path)


def test_corrupt_summary_parquet(damaged: Path, tmp_path: Path) -> None:
    path = damaged / "summary.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["summary.parquet", "not a readable Parquet file"], tmp_path)


def test_corrupt_curves_parquet(damaged: Path, tmp_path: Path) -> None:
    (damaged / "curves.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["curves.parquet", "not a readable Parquet file"], tmp_path)


def test_summary_without_a_schema_column(damaged: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(damaged / "summary.parquet").drop("gap_radio")
    frame.write_parquet(damaged / "summary.parquet")
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["summary.parquet.columns", "gap_radio", "missing columns"], tmp_path)


def test_summary_with_text_in_a_metric(damaged: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(damaged / "summary.parquet")
    frame.with_columns(pl.col("mean_delay_s").cast(pl.String)).write_parquet(damaged / "summary.parquet")
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["summary.parquet.mean_delay_s", "must be a numeric column"], tmp_path)


def test_summary_with_an_unknown_mode(damaged: Path, tmp_path: Path) -> None:
    frame = pl.read_parquet(damaged / "summary.parquet")
    frame.with_columns(pl.when(pl.col("policy") == "greedy").then(pl.lit("offline"))
                       .otherwise(pl.col("mode")).alias("mode")).write_parquet(damaged / "summary.parquet")
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["summary.parquet.mode", "'offline'", "episode, snapshot"], tmp_path)


def test_metadata_not_json(damaged: Path, tmp_path: Path) -> None:
    (damaged / "metadata.json").write_text('{"study": "x",\n "seeds": [0, 1')
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["metadata.json", "not valid JSON (line 2"], tmp_path)


def test_metadata_not_an_object(damaged: Path, tmp_path: Path) -> None:
    (damaged / "metadata.json").write_text(json.dumps([1, 2]))
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["metadata.json", "'list'", "must be a JSON object"], tmp_path)


def test_corrupt_results_nc(damaged: Path, tmp_path: Path) -> None:
    (damaged / "results.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\xff" * 64)
    run_bad(["report", str(damaged), "-o", str(tmp_path / "r.html")],
            ["results.nc", "not a readable NetCDF file"], tmp_path)


def test_unknown_format(tmp_path: Path) -> None:
    run_bad(["report", str(fixture_study()), "-o", str(tmp_path / "r.html"), "--format", "pdf"],
            ["format", "'pdf'", "must be html or md"], tmp_path)


def test_output_is_a_folder(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    run_bad(["report", str(fixture_study()), "-o", str(tmp_path / "out")],
            ["output", "out", "is a folder"], tmp_path)


def test_output_under_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    run_bad(["report", str(fixture_study()), "-o", str(tmp_path / "plain" / "sub" / "r.html")],
            ["output", "r.html", "is not a folder"], tmp_path)


def test_failed_write_removes_the_png_files(tmp_path: Path) -> None:
    out = tmp_path / "site"
    out.mkdir()
    (out / "r-fig5c.png").mkdir()  # the third PNG cannot replace a folder
    run_bad(["report", str(fixture_study()), "-o", str(out / "r.md")],
            ["output", "r-fig5c.png", "cannot be written"], out)


def test_existing_report_is_kept_on_error(damaged: Path, tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    target.write_text("previous report")
    (damaged / "metadata.json").write_text("{")
    run_bad(["report", str(damaged), "-o", str(target)], ["metadata.json"], tmp_path)
    assert target.read_text() == "previous report"
