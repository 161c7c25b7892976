"""Gaps measured against an exact solve that is not certified are marked as such (issue 10)."""

from __future__ import annotations

from types import SimpleNamespace

import polars as pl

from genoffload.studies.report_tables import UNCERTIFIED_MARK, mark_uncertified
from genoffload.studies.results import _fill_gaps


def _row(policy: str, seed: int, objective: float, **extra: object) -> dict[str, object]:
    return {"case_id": "c0", "seed": seed, "policy": policy, "mode": "snapshot", "status": "ok",
            "objective_s": objective, "radio_part_s": objective / 10, **extra}


def test_fill_gaps_carries_the_certification() -> None:
    study = SimpleNamespace(policies={"exact": SimpleNamespace(kind="joint", name="exact"),
                                      "greedy": SimpleNamespace(kind="rule", name="greedy")})
    rows = [_row("exact", 0, 100.0, exact_gap=1e-5, exact_certified=1.0),
            _row("greedy", 0, 110.0),
            _row("exact", 1, 100.0, exact_gap=0.2, exact_certified=0.0),
            _row("greedy", 1, 105.0)]
    _fill_gaps(rows, study)  # type: ignore[arg-type]
    assert [r["exact_certified"] for r in rows] == [1.0, 1.0, 0.0, 0.0]
    assert rows[1]["gap_total"] == 0.1 and rows[3]["gap_total"] == 0.05


def test_report_marks_gaps_against_uncertified_references() -> None:
    ok = pl.DataFrame({"policy": ["greedy", "greedy", "all-edge"],
                       "gap_total": [0.1, 0.05, 0.3], "exact_certified": [1.0, 0.0, 1.0]})
    frame = pl.DataFrame({"policy": ["greedy", "all-edge"], "gap total [%]": ["7.5", "30"],
                          "gap radio part [%]": ["75", "300"]})
    out, note = mark_uncertified(ok, frame)
    assert out["gap total [%]"].to_list() == ["7.5" + UNCERTIFIED_MARK, "30"]
    assert out["uncertified reference"].to_list() == ["1 of 2", "0 of 1"]
    assert "NOT certified" in note
    certified, note = mark_uncertified(ok.with_columns(pl.lit(1.0).alias("exact_certified")),
                                       frame)
    assert certified.equals(frame) and "Every exact reference is certified" in note
