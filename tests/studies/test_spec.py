"""Study specification: cases, cells, ids and hashes; every bad input is one InputError line
naming the field path, and the CLI exits with code 2 writing nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genoffload.errors import InputError
from genoffload.studies import SHIPPED, load_study, parse_study
from genoffload.studies.run import prepare_folder

GENOFFLOAD = Path(sys.executable).with_name("genoffload")

VALID = """
[study]
name = "t"
mode = "snapshot"
seeds = [0, 1]
steps = 5

[base]
sites = 1
users = 5
rbs = 25

[[sweep]]
name = "users"
users = [5, 8]

[[sweep]]
name = "fam"
families = ["none", "slo+kv"]

[[sweep]]
name = "pairs"
mode = "episode"
steps = 10
llm_pair = ["llama3-8b+gpt-4o", "gemma-7b+gemini-1.5-pro"]
policies = ["quality-rule"]

[[policy]]
name = "quality-rule"

[[policy]]
name = "exact"

[[policy]]
name = "icl"
label = "icl-fake"
llm = "fake:edge,cloud"
replay = "latest"
"""


def test_cases_are_the_deduplicated_union_of_the_sweeps() -> None:
    study = parse_study(VALID)
    sweeps = sorted("+".join(c.sweeps) for c in study.cases)
    # users=5 (sweep users) is the base case, which the fam sweep's "none" also produces
    assert sweeps == ["fam", "pairs", "pairs", "users", "users+fam"]
    snap = [c for c in study.cases if c.mode == "snapshot"]
    assert all(c.policies == ("quality-rule", "exact", "icl-fake") for c in snap)
    episode = [c for c in study.cases if c.mode == "episode"]
    assert [c.policies for c in episode] == [("quality-rule",)] * 2
    assert {c.grid["llm_pair"] for c in episode} == {"llama3-8b+gpt-4o", "gemma-7b+gemini-1.5-pro"}
    assert {c.grid["families"] for c in snap} == {"none", "slo_soft+kv"}
    fam = next(c for c in snap if c.grid["families"] != "none")
    assert fam.params["slo"] == "soft" and fam.params["kv_bytes_per_token"] > 0
    assert len(study.cells) == (3 * 3 + 2) * 2
    assert len({c.cell_id for c in study.cells}) == len(study.cells)


def test_ids_and_hash_are_deterministic_and_ignore_formatting() -> None:
    a = parse_study(VALID)
    b = parse_study("# a comment\n" + VALID.replace("seeds = [0, 1]", "seeds = [ 0,1 ]"))
    assert a.spec_hash == b.spec_hash
    assert [c.cell_id for c in a.cells] == [c.cell_id for c in b.cells]
    c = parse_study(VALID.replace("steps = 5", "steps = 6"))
    assert c.spec_hash != a.spec_hash
    # the snapshot cells of heuristics change with the warm-up length too (it is part of the cell)
    assert {x.cell_id for x in a.cells}.isdisjoint({x.cell_id for x in c.cells if x.case.mode == "snapshot"})


def test_a_study_without_sweeps_has_the_base_case() -> None:
    text = '[study]\nname = "one"\nsteps = 3\n[base]\nusers = 4\n[[policy]]\nname = "greedy"\n'
    study = parse_study(text)
    assert [c.sweeps for c in study.cases] == [("base",)]
    assert study.cases[0].grid["users"] == 4 and len(study.cells) == 1


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_studies_load(name: str) -> None:
    study = load_study(name)
    assert study.cells and study.name == name


def test_paper_study_has_the_three_llm_pairs_and_the_fig5_sweeps() -> None:
    study = load_study("paper")
    pairs = {c.grid["llm_pair"] for c in study.cases}
    assert pairs == {"llama3-8b+gpt-4o", "gemma-7b+gemini-1.5-pro", "llama2-7b+llama2-70b"}
    sweeps = {s for c in study.cases for s in c.sweeps}
    assert {"convergence", "users", "tokens", "quality"} <= sweeps
    icl = {label for label, p in study.policies.items() if p.name == "icl"}
    assert {"icl", "icl-latest", "icl-no-explore"} <= icl


def test_demo_has_both_modes_and_gap_has_the_exact_bound() -> None:
    assert {c.mode for c in load_study("demo").cases} == {"episode", "snapshot"}
    gap = load_study("gap")
    assert {c.mode for c in gap.cases} == {"snapshot"}
    assert all("exact" in c.policies for c in gap.cases)
    assert any("+" in c.grid["families"] for c in gap.cases)


def _edit(old: str, new: str) -> str:
    assert old in VALID
    return VALID.replace(old, new, 1)


BAD: list[tuple[str, str, list[str]]] = [
    ("unknown-section", VALID + "\n[extra]\nx = 1\n", ["extra", "unknown key"]),
    ("unknown-study-key", _edit('name = "t"', 'name = "t"\nsteeps = 3'), ["study.steeps", "unknown key"]),
    ("bad-mode", _edit('mode = "snapshot"', 'mode = "offline"'), ["study.mode", "'offline'"]),
    ("negative-seed", _edit("seeds = [0, 1]", "seeds = [0, -1]"), ["study.seeds", ">= 0"]),
    ("duplicate-seed", _edit("seeds = [0, 1]", "seeds = [1, 1]"), ["study.seeds", "unique"]),
    ("zero-steps", _edit("steps = 5", "steps = 0"), ["study.steps", "(got 0)"]),
    ("unknown-metric", _edit("steps = 5", 'steps = 5\nmetrics = ["reward"]'), ["study.metrics", "'reward'"]),
    ("unknown-base-key", _edit("rbs = 25", "rbs = 25\nuserz = 3"), ["base.userz", "unknown key"]),
    ("bad-base-value", _edit("users = 5\n", "users = 0\n"), ["base.users", "(got 0)"]),
    ("base-seed", _edit("rbs = 25", "rbs = 25\nseed = 3"), ["base.seed", "[study] seeds"]),
    ("unknown-sweep-key", _edit("users = [5, 8]", "userz = [5, 8]"), ["sweep[0].userz", "unknown key"]),
    ("sweep-not-a-list", _edit("users = [5, 8]", "users = 5"), ["sweep[0].users", "list"]),
    ("bad-sweep-element", _edit("users = [5, 8]", "users = [5, 8, -2]"), ["sweep[0].users[2]", "-2"]),
    ("sweep-without-name", _edit('name = "users"\n', ""), ["sweep[0].name", "None"]),
    ("duplicate-sweep", _edit('name = "fam"', 'name = "users"'), ["sweep[1].name", "duplicate"]),
    ("bad-pair-format", _edit('"gemma-7b+gemini-1.5-pro"', '"gemma-7b"'),
     ["sweep[2].llm_pair[1]", "EDGE+CLOUD"]),
    ("unknown-llm", _edit('"gemma-7b+gemini-1.5-pro"', '"gemma-7b+gpt-9"'),
     ["sweep[2].llm_pair[1]", "'gpt-9'", "unknown model"]),
    ("unknown-family", _edit('"slo+kv"', '"slo+memory"'), ["sweep[1].families[1]", "'memory'", "unknown"]),
    ("unknown-policy", _edit('name = "exact"', 'name = "oracle"'),
     ["policy[1].name", "'oracle'", "unknown policy"]),
    ("foreign-option", _edit('name = "exact"', 'name = "exact"\nreplay = "latest"'),
     ["policy[1].replay", "not an option of exact"]),
    ("unknown-policy-key", _edit('name = "exact"', 'name = "exact"\nbudget = 3'),
     ["policy[1].budget", "unknown key"]),
    ("bad-llm-spec", _edit('llm = "fake:edge,cloud"', 'llm = "gpt4:mini"'),
     ["policy[2].llm", "unknown provider"]),
    ("bad-epsilon", _edit('replay = "latest"', 'replay = "latest"\nepsilon = "exp:0.3"'),
     ["policy[2].epsilon"]),
    ("bad-replay", _edit('replay = "latest"', 'replay = "oldest"'), ["policy[2].replay", "'oldest'"]),
    ("bad-scheduler", _edit('name = "quality-rule"\n', 'name = "quality-rule"\nscheduler = "fifo"\n'),
     ["policy[0].scheduler", "'fifo'"]),
    ("missing-agent", VALID + '\n[[policy]]\nname = "q-learning"\nagent = "/nonexistent/agent.npz"\n',
     ["policy[3].agent", "no such file"]),
    ("rl-option-on-icl", _edit('replay = "latest"', 'replay = "latest"\ntrain_steps = 10'),
     ["policy[2].train_steps", "not an option of icl"]),
    ("duplicate-label", _edit('label = "icl-fake"', 'label = "exact"'), ["policy[2].label", "duplicate"]),
    ("unknown-label-in-sweep", _edit('policies = ["quality-rule"]', 'policies = ["qr"]'),
     ["sweep[2].policies[0]", "'qr'"]),
    ("exact-in-episode", _edit('policies = ["quality-rule"]', 'policies = ["exact"]'),
     ["sweep[2].policies", "snapshot mode only"]),
    ("not-toml", VALID.replace("[study]", "[study"), ["study", "not valid TOML"]),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD], ids=[i for i, _, _ in BAD])
def test_bad_input_is_one_line_naming_the_field(text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as info:
        parse_study(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(expected[0]), message
    for part in expected[1:]:
        assert part in message, message


def test_missing_spec_names_the_shipped_studies(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^spec: no such file, nor a shipped study "
                                         r"\(paper, gap, demo, snake, split, state\)"):
        load_study(str(tmp_path / "nope.toml"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GENOFFLOAD), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize("case", ["bad-sweep-element", "unknown-llm", "duplicate-label"])
def test_cli_bad_spec_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, case: str) -> None:
    text, expected = next((t, e) for i, t, e in BAD if i == case)
    spec = tmp_path / "bad.toml"
    spec.write_text(text)
    out = tmp_path / "out"
    res = _cli("study", "run", str(spec), "-o", str(out))
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected[0]}"), res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()


def test_cli_other_spec_in_existing_folder_exits_2(tmp_path: Path) -> None:
    out = tmp_path / "run"
    prepare_folder(parse_study(VALID), out)
    before = sorted(p.name for p in out.rglob("*"))
    spec = tmp_path / "other.toml"
    spec.write_text(VALID.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    res = _cli("study", "run", str(spec), "-o", str(out))
    assert res.returncode == 2
    assert res.stderr.count("\n") == 1 and "another spec" in res.stderr and "output:" in res.stderr
    assert sorted(p.name for p in out.rglob("*")) == before


def test_cli_bad_options_and_folders_exit_2(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(VALID)
    res = _cli("study", "run", str(spec), "-o", str(tmp_path / "o"), "--workers", "0")
    assert res.returncode == 2 and "workers" in res.stderr and not (tmp_path / "o").exists()
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    res = _cli("study", "run", str(spec), "-o", str(tmp_path / "busy"))
    assert res.returncode == 2 and "holds no study" in res.stderr
    res = _cli("study", "show", str(tmp_path / "busy"))
    assert res.returncode == 2 and res.stderr.startswith("error: dir:") and "not a study folder" in res.stderr


def test_cli_check_lists_cases_without_computing(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(VALID)
    res = _cli("study", "check", str(spec))
    assert res.returncode == 0, res.stderr
    assert "22 cells" in res.stdout and "users+fam" in res.stdout
