"""The split study on a tiny random Gemma 3 (real measurement path, seconds): cell, spec, runner."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

from genoffload.errors import InputError
from genoffload.studies.split_runner import load_split_study, run_split_study, train_policy
from genoffload.studies.split_study import SplitParams, split_cell

TINY = {
    "source": "tiny",
    "window": 24,
    "splits": [0, 1, 2, 3, 4],
    "n_train": 3,
    "n_test": 2,
    "budgets": [3, 6],
    "budget": 6,
    "policies": ["ue-only", "edge-only", "fixed", "best-static", "myopic-rate", "mbrl-argmax", "mbrl-verify"],
    "sinr_db": (6.0, 14.0),
    "erasure": (0.0, 0.2),
}


def test_cell_metrics_and_curves(tmp_path: Path) -> None:
    ds = split_cell({**TINY, "cache": str(tmp_path / "c.jsonl")}, seed=0)
    assert ds["exhaustive_evaluations"].item() == 2 * (1 + 3 * 3)  # split 0, splits 1-3 x 3 bits
    for name in TINY["policies"]:
        assert ds[f"regret[{name}]"].item() >= -1e-12  # nothing beats the exhaustive bound
    assert ds["evaluations[mbrl-argmax]"].item() <= 6
    assert ds["evaluations[best-static]"].item() == 0  # hindsight reads the bound's table
    assert ds["regret_vs_evaluations"].dims == ("budget",)
    assert ds["ppl_vs_split[8]"].sizes["split"] == 5
    again = split_cell({**TINY, "cache": str(tmp_path / "c.jsonl")}, seed=0)  # from the cache
    assert again["regret[mbrl-argmax]"].item() == ds["regret[mbrl-argmax]"].item()


def test_shipped_study_spec_and_bad_keys(tmp_path: Path) -> None:
    study = load_split_study("split")
    assert study.base.source == "embedded" and len(study.cases) == 2
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nname = "x"\n[[sweep]]\nname = "a"\nwindow = [4]\n')
    with pytest.raises(InputError, match=r"^sweep\[0\]\.window"):
        load_split_study(str(bad))
    bad.write_text('[study]\nkind = "episode"\n')
    with pytest.raises(InputError, match=r"^study\.kind"):
        load_split_study(str(bad))


def test_runner_writes_tables_and_report_and_resumes(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text(
        '[study]\nname = "t"\nseeds = [0]\n[base]\nsource = "tiny"\nwindow = 16\n'
        "splits = [0, 2, 4]\nn_train = 2\nn_test = 2\nbudgets = [2, 4]\nbudget = 4\n"
        f'cache = "{tmp_path / "c.jsonl"}"\npolicies = ["ue-only", "mbrl-argmax"]\n'
    )
    out = tmp_path / "run"
    summary = run_split_study(load_split_study(str(toml)), out, progress=False)
    assert summary.height == 1 and (out / "report.html").stat().st_size > 1000
    before = (out / "cells").iterdir().__next__().stat().st_mtime_ns
    run_split_study(load_split_study(str(toml)), out, progress=False)
    assert (out / "cells").iterdir().__next__().stat().st_mtime_ns == before
    result = train_policy(SplitParams(**{**TINY, "cache": str(tmp_path / "c.jsonl")}), "mbrl-argmax", 4, 0)
    assert result["evaluations"] <= 4 and len(result["decisions"]) == 2
