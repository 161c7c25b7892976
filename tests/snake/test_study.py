"""The Snake study kind: the shipped TOML, cell expansion, a tiny cell, tables and panels."""

from __future__ import annotations

from importlib import resources

import pytest

from genoffload.errors import InputError
from genoffload.io import load_toml
from genoffload.studies import snake_study as ss


def test_shipped_study_expands() -> None:
    text = (resources.files("genoffload.studies") / "snake.toml").read_text(encoding="utf-8")
    study = ss.parse_study(load_toml(text, "study", "snake"))
    cells = ss.expand(study)
    assert len(cells) == 4 * 2 * 2 + 1 and study.seeds == [0, 1, 2]
    assert {c["method"] for c in cells} == {"fedavg", "split", "snake", "snake-kd"}


def test_bad_study_fields_are_one_line() -> None:
    with pytest.raises(InputError, match=r"^study.base.alpha"):
        ss.parse_study({"base": {"alpha": 0}})
    with pytest.raises(InputError, match=r"^sweep\[0\].nodes"):
        ss.expand(ss.parse_study({"sweep": [{"nodes": [0]}]}))
    with pytest.raises(InputError, match=r"^study.base.model"):
        ss.parse_study({"base": {"model": "vgg"}})


def test_cell_tables_and_panels() -> None:
    pytest.importorskip("torch")
    results = [(c, 0, ss.run_cell(c, 0)) for c in ss.expand(ss.parse_study(
        {"base": {"nodes": 3, "rounds": 2}, "sweep": [{"method": ["fedavg", "snake"]}]}))]
    het = {**results[1][0], "heterogeneity": 0.5, "memory_gib": 0.003}
    results.append((het, 0, ss.run_cell(het, 0)))  # the planner's segments
    summary, curves = ss.tables(results)
    assert summary.height == 3
    assert {"final_accuracy", "bytes_per_round", "peak_memory"} <= set(summary.columns)
    assert set(curves["var"].unique()) >= {"accuracy", "memory_measured", "memory_predicted"}
    titles = [t for t, _ in ss.panels(summary, curves)]
    assert titles == ["Accuracy vs round", "Measured peak memory per node", "Bytes per round",
                      "Predicted vs measured"]
