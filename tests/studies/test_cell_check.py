"""Issue 12, item 6: a cell file that fails its check (truncated, or another cell's file copied in)
is listed by ``study show`` (and neither crashes it) and recomputed by the next run."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from genoffload.cli.app import app
from genoffload.studies import parse_study, run_study
from genoffload.studies.cells import cell_file, check_cell
from genoffload.studies.run import dask_client

SPEC = """
[study]
name = "cellcheck"
mode = "snapshot"
seeds = [0, 1]

[base]
users = 3
rbs = 6

[[policy]]
name = "quality-rule"

[[policy]]
name = "all-edge"
"""
TIMING = ("wall_s", "decisions_per_s")


def test_corrupt_and_foreign_cells_are_listed_and_recomputed(tmp_path: Path) -> None:
    study = parse_study(SPEC)
    out = tmp_path / "run"
    with dask_client(1, None) as client:
        first = run_study(study, out, client=client)
        assert first.computed == 4 and first.failed == 0
        a, b, c = (cell_file(out, cell.cell_id) for cell in study.cells[:3])
        a.write_bytes(a.read_bytes()[: a.stat().st_size // 2])  # truncated (a crash, a full disk)
        shutil.copyfile(b, c)  # another cell's valid file
        assert check_cell(out, study.cells[0].cell_id).startswith("corrupt cell file")
        assert "cell file of another cell" in check_cell(out, study.cells[2].cell_id)
        assert check_cell(out, study.cells[1].cell_id) is None

        res = CliRunner().invoke(app, ["study", "show", str(out)])
        text = " ".join(res.output.split())
        assert res.exit_code == 0, res.output
        assert "2 cell file(s) failed their check" in text and "Traceback" not in text
        assert f"{study.cells[0].cell_id} " in text and f"{study.cells[2].cell_id} " in text
        assert "2 cell(s) pending" in text

        second = run_study(study, out, client=client)
    assert (second.computed, second.reused, second.failed) == (2, 2, 0)
    assert all(check_cell(out, cell.cell_id) is None for cell in study.cells)
    keep = [col for col in first.table.columns if col not in TIMING]
    assert second.table.select(keep).equals(first.table.select(keep))
    assert pl.read_parquet(out / "summary.parquet")["status"].to_list() == ["ok"] * 4
