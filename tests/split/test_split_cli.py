"""``genoffload split``: bad input is one line naming the field and the value, exit 2, no output
file; the happy paths of profile and evaluate (no torch needed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

GENOFFLOAD = Path(sys.executable).with_name("genoffload")

# (id, argv with {tmp}, substrings of the one error line)
CASES = [
    ("split-above-L", ["evaluate", "--split", "19"], ["split", "0..18", "19"]),
    ("split-negative", ["evaluate", "--split", "-1"], ["split", "-1"]),
    (
        "bits-unsupported",
        ["evaluate", "--split", "4", "--bits", "3"],
        ["bits", "not a supported precision", "3"],
    ),
    (
        "config-missing-field",
        ["profile", "--model", "{tmp}/config.json"],
        ["config.hidden_size", "missing field"],
    ),
    ("rate-zero", ["evaluate", "--split", "4", "--rate", "0"], ["rate", "> 0", "0.0"]),
    ("rate-negative", ["evaluate", "--split", "4", "--rate", "-5e6"], ["rate", "-5000000.0"]),
    ("rate-nan", ["evaluate", "--split", "4", "--rate", "nan"], ["rate", "nan"]),
    ("sinr-nan", ["evaluate", "--split", "4", "--sinr-db", "nan"], ["channel.sinr_db", "nan"]),
    ("erasure-one", ["evaluate", "--split", "4", "--erasure", "1.0"], ["channel.erasure", "1.0"]),
    (
        "unknown-ue",
        ["evaluate", "--split", "4", "--ue", "pocket-calculator"],
        ["ue", "unknown device", "pocket-calculator"],
    ),
    ("unknown-edge", ["profile", "--edge", "h100"], ["edge", "unknown device", "h100"]),
    ("unknown-model", ["profile", "--model", "gpt-9000"], ["model", "unknown model", "gpt-9000"]),
    ("unknown-policy", ["train", "--policy", "oracle"], ["policy", "oracle"]),
    ("study-bad-key", ["bound", "--study", "{tmp}/bad.toml"], ["base.windoww", "extra"]),
]


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GENOFFLOAD), "split", *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("case", "argv", "expected"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_exit_2_nothing_written(
    tmp_path: Path, case: str, argv: list[str], expected: list[str]
) -> None:
    (tmp_path / "config.json").write_text(
        json.dumps(
            {"num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 8, "vocab_size": 10}
        )
    )
    (tmp_path / "bad.toml").write_text('[study]\nname = "x"\n[base]\nwindoww = 64\n')
    out = tmp_path / "out.parquet"
    args = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if case != "unknown-policy" and case != "study-bad-key":
        args += ["-o", str(out)]
    res = run(args)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    for part in expected:
        assert part in lines[0], lines[0]
    assert not out.exists()


def test_profile_and_evaluate_happy_paths(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    res = run(["profile", "--model", "llama3-8b", "--tokens", "64", "-o", str(out)])
    assert res.returncode == 0, res.stderr
    frame = pl.read_parquet(out)
    assert frame.height == 33 and frame["payload_16bit"][5] == 64 * 4096 * 16
    res = run(["evaluate", "--split", "4", "--bits", "8", "--rate", "2e7", "--json"])
    assert res.returncode == 0, res.stderr
    row = json.loads(res.stdout)
    assert row["rate_up"] == 2e7 and row["request_delay"] > row["ttft"] > 0 and row["ppl"] is None
