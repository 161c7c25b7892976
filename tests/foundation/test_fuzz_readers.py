"""Issue 12: a hypothesis fuzz test of every JSON and TOML reader.

Random structures (any JSON value, documents shaped like scenarios, configs and study files with
random types, sizes and nesting, and raw text) go through the CLI (``scenario show``, ``scenario
generate --config``, ``study check``) and the readers themselves. Each must end in a valid load
(exit 0) or in exit code 2 with one line ``error: ...`` — never a traceback, never a hang (a
deadline per example). The memory limit is lowered so that a valid but large random config stays
fast (``GENOFFLOAD_MAX_MEMORY_GB``).

Deterministic in CI (``derandomize``); ``GENOFFLOAD_FUZZ_EXAMPLES=N`` runs N examples per target
(docs/robustness.md records such a run).
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from genoffload.cli.app import app
from genoffload.errors import InputError
from genoffload.io import MAX_DEPTH, load_json, load_toml
from genoffload.scenario import ScenarioConfig

EXAMPLES = int(os.environ.get("GENOFFLOAD_FUZZ_EXAMPLES", "50"))
FUZZ = settings(max_examples=EXAMPLES, deadline=timedelta(seconds=20), derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large])
runner = CliRunner()
TALLY: Counter[str] = Counter()

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.integers(-3, 30)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=12)
           | st.sampled_from(["chat", "math", "image", "UMa", "pf", "quality-rule", "exact", "none"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=5), max_leaves=30)
deep = st.integers(1, 3 * MAX_DEPTH).map(lambda n: [[]] if n < 2 else json.loads("[" * n + "]" * n))
CONFIG_KEYS = sorted(ScenarioConfig.model_fields)
config_value = st.one_of(values, st.integers(0, 60), st.floats(0, 5), st.lists(st.integers(0, 4), max_size=3))
configs = st.dictionaries(st.sampled_from(CONFIG_KEYS), config_value, max_size=6)
small_num = st.one_of(st.integers(-2, 5e6), st.floats(allow_nan=True, allow_infinity=True), values)
tasks = st.lists(st.fixed_dictionaries(
    {"user": st.one_of(st.integers(-1, 3), values),
     "service": st.sampled_from(["chat", "math", "image", "x"]),
     "output_tokens": st.one_of(st.integers(-5, 3000), st.floats(), values)},
    optional={"quality_requirement": small_num, "content_bytes": small_num, "deadline_s": small_num}),
    max_size=4)
scenario_docs = st.fixed_dictionaries(
    {"user_cell": st.one_of(st.lists(st.integers(-1, 2), max_size=4), values),
     "rate_bps": st.one_of(st.lists(st.lists(small_num, min_size=1, max_size=4), max_size=4), values),
     "tasks": st.one_of(tasks, values)},
    optional={"cells": st.one_of(st.integers(-1, 3), values), "settings": st.one_of(configs, values),
              "rb_bandwidth_hz": small_num, "gain": values, "noise_w": small_num, "tx_power_w": small_num,
              "format": st.sampled_from(["genoffload-scenario", "x"]), "version": st.integers(0, 2)})


VALID_DOC: dict[str, Any] = {"user_cell": [0, 0], "rate_bps": [[1e6, 2e6], [3e6, 1e6]],
                             "tasks": [{"user": 0, "service": "chat", "output_tokens": 100},
                                       {"user": 1, "service": "math", "output_tokens": 40}]}


@st.composite
def mutated_docs(draw: Any) -> Any:
    """The valid document with one to three random changes (a key dropped, added or replaced,
    at any depth): most paths through the validation, many valid loads."""
    doc = json.loads(json.dumps(VALID_DOC))
    for _ in range(draw(st.integers(0, 3))):
        node: Any = doc
        while isinstance(node, dict | list) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
            if not isinstance(node[key], dict | list):
                break
            node = node[key]
        if isinstance(node, dict):
            key = draw(st.one_of(st.sampled_from(sorted(node) or ["x"]), st.text(max_size=6)))
            if draw(st.integers(0, 4)) == 0:
                node.pop(key, None)
            else:
                node[key] = draw(st.one_of(st.integers(0, 3), st.floats(0, 1e7), values, small_num))
        elif isinstance(node, list) and node:
            node[draw(st.integers(0, len(node) - 1))] = draw(st.one_of(st.integers(0, 3), values, small_num))
    return doc


VALID_STUDY = {"study": {"name": "fz", "seeds": [0, 1], "steps": 3, "mode": "snapshot"},
               "base": {"users": 3, "rbs": 6}, "sweep": [{"name": "u", "users": [2, 3]}],
               "policy": [{"name": "quality-rule"}, {"name": "exact", "gap": 1e-3}]}


@st.composite
def mutated_studies(draw: Any) -> str:
    raw = json.loads(json.dumps(VALID_STUDY))
    for _ in range(draw(st.integers(0, 2))):
        part = draw(st.sampled_from(["study", "base", "sweep", "policy"]))
        holder = raw[part]
        table = holder if isinstance(holder, dict) else holder[draw(st.integers(0, len(holder) - 1))]
        pool = {"study": ["name", "seeds", "steps", "mode", "metrics", "arrival_prob", "bogus"],
                "base": [*CONFIG_KEYS[:40], "llm_pair", "families", "seed"],
                "sweep": ["name", "users", "rbs", "families", "policies", "mode", "steps", "bogus"],
                "policy": ["name", "label", "scheduler", "gap", "llm", "agent", "time_limit_s"]}[part]
        table[draw(st.sampled_from(pool))] = draw(st.one_of(config_value, st.lists(config_value, max_size=3)))
    parts = [toml_table("study", raw["study"]), toml_table("base", raw["base"])]
    parts += [toml_table("[sweep]", t) for t in raw["sweep"]]
    parts += [toml_table("[policy]", t) for t in raw["policy"]]
    return "\n".join(parts)


def toml_value(value: Any) -> str:
    """A JSON-like value as TOML text (inline tables and arrays; None becomes a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) \
            else repr(value)
    if isinstance(value, str) or value is None:
        return json.dumps(value or "", ensure_ascii=True)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    items = (f"{json.dumps(k, ensure_ascii=True)} = {toml_value(v)}" for k, v in value.items())
    return "{" + ", ".join(items) + "}"


def toml_table(name: str, table: dict[str, Any]) -> str:
    body = "".join(f"{json.dumps(k, ensure_ascii=True)} = {toml_value(v)}\n" for k, v in table.items())
    return f"[{name}]\n{body}"


study_section = st.fixed_dictionaries({"name": st.one_of(st.just("fz"), st.text(max_size=6))},
                                      optional={"seeds": st.one_of(st.lists(st.integers(-1, 9), max_size=4),
                                                                   values),
                                                "steps": st.one_of(st.integers(-1, 5), values),
                                                "mode": st.sampled_from(["episode", "snapshot", "x"]),
                                                "description": st.text(max_size=20)})
policy = st.fixed_dictionaries({"name": st.sampled_from(["quality-rule", "exact", "icl", "dqn", "nope"])},
                               optional={"label": st.text(max_size=5), "scheduler": values,
                                         "llm": st.sampled_from(["fake:edge", "embedded:/x.gguf", "nope:"]),
                                         "gap": small_num, "agent": values})
sweep = st.dictionaries(st.sampled_from(["name", "users", "rbs", "sites", "mode", "policies", "families",
                                         "llm_pair", "bogus"]),
                        st.one_of(st.lists(st.one_of(st.integers(0, 8), values), max_size=3), values),
                        max_size=4)


@st.composite
def study_texts(draw: Any) -> str:
    parts = [toml_table("study", draw(study_section))]
    if draw(st.booleans()):
        parts.append(toml_table("base", draw(configs)))
    for s in draw(st.lists(sweep, max_size=2)):
        parts.append(toml_table("[sweep]", s))
    for p in draw(st.lists(policy, min_size=0, max_size=3)):
        parts.append(toml_table("[policy]", p))
    return "\n".join(parts)


def clean(res: Any, target: str) -> None:
    """Exit 0 (a valid load) or exit 2 with one ``error:`` line; nothing else."""
    TALLY[f"{target} tried"] += 1
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    if res.exit_code == 0:
        TALLY[f"{target} valid"] += 1
        return
    lines = res.stderr.strip("\n").splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-1500:]
    TALLY[f"{target} refused"] += 1


@pytest.fixture(autouse=True)
def small_memory_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENOFFLOAD_MAX_MEMORY_GB", "0.05")


@FUZZ
@given(doc=st.one_of(mutated_docs(), mutated_docs(), mutated_docs(), scenario_docs, values, deep))
def test_scenario_json(doc: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fz") / "s.json"
    path.write_text(json.dumps(doc))
    clean(runner.invoke(app, ["scenario", "show", str(path), "--json"]), "scenario show (JSON)")


@FUZZ
@given(cfg=st.one_of(configs, values, deep), suffix=st.sampled_from([".json", ".toml"]))
def test_config_files(cfg: Any, suffix: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("fz")
    path = folder / f"c{suffix}"
    text = json.dumps(cfg) if suffix == ".json" else (
        toml_table("x", cfg)[4:] if isinstance(cfg, dict) else f"v = {toml_value(cfg)}\n")
    path.write_text(text)
    clean(runner.invoke(app, ["scenario", "generate", "--config", str(path), "-o", str(folder / "o.nc")]),
          f"scenario generate --config ({suffix[1:].upper()})")


@FUZZ
@given(text=st.one_of(mutated_studies(), mutated_studies(), study_texts()))
def test_study_files(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("fz") / "st.toml"
    path.write_text(text)
    clean(runner.invoke(app, ["study", "check", str(path)]), "study check (TOML)")


@settings(max_examples=5 * EXAMPLES, deadline=timedelta(seconds=5), derandomize=True, database=None)
@given(text=st.one_of(st.text(max_size=200), st.builds(json.dumps, values), st.builds(toml_value, values),
                      st.integers(1, 5000).map(lambda n: "a = " + "[" * n + "]" * n)))
def test_readers_raise_only_input_error(text: str) -> None:
    for reader, name in ((load_json, "load_json"), (load_toml, "load_toml")):
        TALLY[f"{name} tried"] += 1
        try:
            reader(text, "f", "<fuzz>")
        except InputError as err:
            assert "\n" not in str(err)
            TALLY[f"{name} refused"] += 1
        else:
            TALLY[f"{name} valid"] += 1


def test_zz_report_tally(tmp_path: Path) -> None:
    """Prints the figures of this run (``pytest -s``); docs/robustness.md records a long one."""
    for key in sorted(TALLY):
        print(f"{key}: {TALLY[key]}")
    for k in [k for k in TALLY if k.endswith("tried")]:
        assert TALLY[k] == TALLY[k.replace("tried", "valid")] + TALLY[k.replace("tried", "refused")]
