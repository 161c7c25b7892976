"""Bad input of the online commands: one line, exit 2, nothing written; families that cannot bind warn."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genoffload.binding import unbindable
from genoffload.scenario import make_config

GENOFFLOAD = Path(sys.executable).with_name("genoffload")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GENOFFLOAD), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize(("args", "needle"), [
    (["icl", "run", "--keywords", "weather"], "keywords: unknown extra keyword"),
    (["icl", "run", "--arrival-prob", "1.5"], "arrival-prob: Input should be less than or equal to 1"),
    (["icl", "run", "--arrival-prob", "-0.1"], "arrival-prob: Input should be greater than 0"),
    (["icl", "run", "--steps", "0"], "steps: must be >= 1"),
    (["rl", "train", "--observe", "weather"], "observe: unknown observation component"),
    (["rl", "train", "--arrival-prob", "2"], "arrival-prob: Input should be less than or equal to 1"),
])
def test_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    out = tmp_path / "out"
    extra = ["--llm", "fake:edge,cloud"] if args[0] == "icl" else []
    res = _run(*args, *extra, "-o", str(out), cwd=tmp_path)
    assert res.returncode == 2
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


@pytest.mark.parametrize(("body", "needle"), [
    ('[study]\nname="x"\narrival_prob=1.5\n', "study.arrival_prob"),
    ('[study]\nname="x"\nsteps=0\n', "study.steps"),
    ('[study]\nname="x"\n[[policy]]\nname="icl"\nllm="fake:edge,cloud"\nextras=["weather"]\n',
     "policy[0].extras: unknown extra keyword"),
])
def test_study_file_errors(tmp_path: Path, body: str, needle: str) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(body + ('[[policy]]\nname="quality-rule"\n' if "[[policy]]" not in body else ""))
    res = _run("study", "check", str(spec), cwd=tmp_path)
    assert res.returncode == 2 and needle in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_family_that_cannot_bind_warns_and_runs(tmp_path: Path) -> None:
    cfg = tmp_path / "kv.toml"
    cfg.write_text("kv_bytes_per_token = 131072\nedge_kv_capacity_gb = 16\n")
    res = _run("icl", "run", str(cfg), "--llm", "fake:edge,cloud", "--steps", "2", "-o", str(tmp_path / "o"),
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "warning: config.edge_kv_capacity_gb: the kv family cannot bind" in res.stderr
    assert (tmp_path / "o" / "summary.json").is_file()


def test_unbindable_names_the_families() -> None:
    assert unbindable(make_config({})) == []
    assert unbindable(make_config({"kv_bytes_per_token": 131072, "edge_kv_capacity_gb": 0.3})) == []
    lines = unbindable(make_config({"users": 1, "edge_tpot_slope": 0.3}))
    assert len(lines) == 1 and lines[0].startswith("config.edge_tpot_slope")
