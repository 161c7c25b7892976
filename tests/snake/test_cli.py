"""``genoffload snake``: bad input is one line naming the field, exit 2, nothing written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BAD = [
    (["plan", "--memory-gib", "0"], "nodes.memory_gib: must be positive"),
    (["plan", "--nodes", "3", "--memory-gib", "1,-2,1"], "nodes[1].memory_gib: must be positive"),
    (["plan", "--memory-gib", "0.0001"], "infeasible: memory: node 0"),
    (["plan", "--nodes", "11"], "nodes.count: more nodes than trainable layers"),
    (["plan", "--model", "vgg11"], "model: unknown model"),
    (["train", "--alpha", "0"], "data.alpha: must be a positive number"),
    (["train", "--alpha", "-1"], "data.alpha: must be a positive number"),
    (["train", "--nodes", "5000"], "nodes.count: more nodes than training samples"),
    (["train", "--model", "resnet"], "model: unknown model"),
    (["train", "--dataset", "cifar10"], "dataset: unknown data set"),
    (["compare", "--alpha", "0"], "data.alpha: must be a positive number"),
]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    exe = str(Path(sys.executable).parent / "genoffload")
    return subprocess.run([exe, "snake", *args], capture_output=True,
                          text=True, check=False)


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input_one_line_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / ("out" if args[0] == "compare" else "out.json")
    res = _run([*args, "-o", str(out)])
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in res.stderr
    assert not out.exists() or (out.is_dir() and not any(out.iterdir()))


def test_plan_json(tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    res = _run(["plan", "--nodes", "4", "--memory-gib", "0.003", "--heterogeneity", "0.3", "--json",
                "-o", str(out)])
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["status"] == "optimal" and doc["certified"] and len(doc["segments"]) == 4
    assert json.loads(out.read_text())["segments"] == doc["segments"]
