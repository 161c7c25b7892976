"""Issue 12: the bad inputs that gave tracebacks, destroyed inputs or exhausted the machine, tried
again through the CLI, one table row each (docs/robustness.md counts them).

Every row must end with exit code 2 and one line on stderr, ``error: FIELD: reason (got VALUE)``,
containing the row's needles; no traceback; the output folder holds nothing afterwards; the
command's input files are unchanged.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

from genoffload.cli.app import app
from genoffload.scenario import generate, make_config, save

runner = CliRunner()
DEEP = 100_000
BIG = 2**64

DOC: dict[str, Any] = {
    "user_cell": [0, 0], "rate_bps": [[1e6, 2e6], [3e6, 1e6]],
    "tasks": [{"user": 0, "service": "chat", "output_tokens": 100}],
}
STUDY = '[study]\nname = "s"\nsteps = 2\n{extra}\n[[policy]]\nname = "quality-rule"\n'


def _doc(**task: Any) -> str:
    doc = json.loads(json.dumps(DOC))
    doc["tasks"][0].update(task)
    return json.dumps(doc)


def _netcdf(folder: Path, name: str, change: Any, minimal: bool = False) -> None:
    ds = generate(make_config({"users": 3, "rbs": 6, "seed": 2}))
    if minimal:
        ds = ds[["rate", "user_cell", "task_user", "service", "units"]]
    ds = change(ds.copy())
    ds.to_netcdf(folder / name, engine="h5netcdf")


def _set(ds: xr.Dataset, name: str, values: Any) -> xr.Dataset:
    ds[name] = (ds[name].dims, np.asarray(values))
    return ds


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    (d / "deep.json").write_text("[" * DEEP + "]" * DEEP)
    (d / "deep_obj.json").write_text('{"a": ' * DEEP + "1" + "}" * DEEP)
    (d / "deep.toml").write_text("sites = " + "[" * DEEP + "]" * DEEP + "\n")
    (d / "deep_study.toml").write_text("[study]\nname = 'x'\nseeds = " + "[" * DEEP + "]" * DEEP + "\n")
    (d / "good.json").write_text(json.dumps(DOC))
    doc = json.loads(json.dumps(DOC))
    doc["rate_bps"][0][0] = 1.7e308
    (d / "huge_rate.json").write_text(json.dumps(doc))
    (d / "dup.json").write_text(json.dumps(DOC)[:-1] + ', "cells": 1, "cells": 3}')
    (d / "nan_quality.json").write_text(_doc(quality_requirement=float("nan")))
    (d / "neg_quality.json").write_text(_doc(quality_requirement=-0.5))
    (d / "bool_tokens.json").write_text(_doc(output_tokens=True))
    (d / "str_tokens.json").write_text(_doc(output_tokens="800"))
    (d / "garbage.gguf").write_bytes(bytes(range(256)) * 8)
    (d / "seeds.toml").write_text(STUDY.format(extra=f"seeds = [{BIG}]"))
    seeds = ",".join(map(str, range(10**6)))
    (d / "many_seeds.toml").write_text(STUDY.format(extra=f"seeds = [{seeds}]"))
    (d / "long.toml").write_text(STUDY.format(extra="").replace("steps = 2", "steps = 1000000000000"))
    (d / "big_case.toml").write_text(STUDY.format(extra="[base]\nusers = 1000\nrbs = 1000\n"
                                                  "tasks_per_user = [1, 1000000]"))
    _netcdf(d, "float_user_cell.nc", lambda ds: _set(ds, "user_cell", ds["user_cell"].values + 0.5))
    _netcdf(d, "string_rate.nc", lambda ds: _set(ds, "rate", ds["rate"].values.astype(str)))
    _netcdf(d, "renamed_dim.nc", lambda ds: ds.rename_dims({"rb": "prb"}))
    _netcdf(d, "string_t_back.nc", lambda ds: ds.assign_attrs(t_back_s="fast"))
    _netcdf(d, "class.nc", lambda ds: _set(ds, "service_class", ["gold"] * ds.sizes["task"]))
    _netcdf(d, "modality.nc", lambda ds: _set(ds, "modality", ["smell"] * ds.sizes["task"]))
    _netcdf(d, "quality.nc", lambda ds: _set(ds, "quality_edge", np.full(ds.sizes["task"], 2.0)))
    _netcdf(d, "min_float_user_cell.nc", lambda ds: _set(ds, "user_cell", ds["user_cell"].values + 0.5),
            minimal=True)
    _netcdf(d, "min_string_rate.nc", lambda ds: _set(ds, "rate", ds["rate"].values.astype(str)), minimal=True)
    _netcdf(d, "min_renamed_dim.nc", lambda ds: ds.rename_dims({"task": "job"}), minimal=True)
    _netcdf(d, "min_string_units.nc", lambda ds: _set(ds, "units", ds["units"].values.astype(str)),
            minimal=True)
    sf = d / "studyfolder"
    sf.mkdir()
    (sf / "study.toml").write_text(STUDY.format(extra=""))
    (sf / "study.json").write_text("{}")
    (sf / "summary.parquet").write_bytes(b"PAR1 results")
    (d / "subdir").mkdir()
    return d


NON_UTF8 = os.fsdecode(b"r\xff.parquet")
# (id, argv with {d} = the files folder and {o} = an empty output folder, needles of the error line)
CASES: list[tuple[str, list[str], list[str]]] = [
    # item 4: nesting 100,000 deep, every command that reads JSON or TOML
    ("deep-show", ["scenario", "show", "{d}/deep.json"], ["scenario", "nested deeper than 64"]),
    ("deep-obj-show", ["scenario", "show", "{d}/deep_obj.json"], ["scenario", "nested deeper than 64"]),
    ("deep-evaluate", ["evaluate", "{d}/deep.json", "-o", "{o}/r.parquet"], ["nested deeper"]),
    ("deep-solve", ["solve", "{d}/deep.json"], ["nested deeper"]),
    ("deep-config-json", ["scenario", "generate", "--config", "{d}/deep.json", "-o", "{o}/g.nc"],
     ["config", "nested deeper"]),
    ("deep-config-toml", ["scenario", "generate", "--config", "{d}/deep.toml", "-o", "{o}/g.nc"],
     ["config", "nested deeper"]),
    ("deep-set", ["scenario", "generate", "--set", "sites=" + "[" * DEEP + "]" * DEEP, "-o", "{o}/g.nc"],
     ["--set sites", "nested deeper"]),
    ("deep-study-check", ["study", "check", "{d}/deep_study.toml"], ["study", "nested deeper"]),
    ("deep-study-run", ["study", "run", "{d}/deep_study.toml", "-o", "{o}/st"], ["study", "nested deeper"]),
    ("deep-rl-train", ["rl", "train", "{d}/deep.toml", "-o", "{o}/q.npz"], ["config", "nested deeper"]),
    # item 4: overflow, seeds, model files, addresses, NetCDF types, paths
    ("rate-1.7e308", ["evaluate", "{d}/huge_rate.json"], ["rate[user=0, rb=0]", "1e+15"]),
    ("seed-2^64-generate", ["scenario", "generate", "--seed", str(BIG), "-o", "{o}/g.nc"], ["config.seed"]),
    ("seed-2^64-study", ["study", "check", "{d}/seeds.toml"], ["study.seeds", "2**63 - 1"]),
    ("seed-2^64-rl-train", ["rl", "train", "--seed", str(BIG), "-o", "{o}/q.npz"], ["seed", "2**63 - 1"]),
    ("seed-2^64-icl", ["icl", "run", "--seed", str(BIG), "--llm", "fake:edge", "-o", "{o}/i"], ["seed"]),
    ("garbage-gguf", ["icl", "run", "--llm", "embedded:{d}/garbage.gguf", "--steps", "1", "-o", "{o}/i"],
     ["llm", "not a GGUF model file"]),
    ("missing-gguf", ["icl", "run", "--llm", "embedded:/missing.gguf", "--steps", "1", "-o", "{o}/i"],
     ["llm", "not found"]),
    ("scheduler-notaurl", ["study", "run", "demo", "-o", "{o}/st", "--scheduler", "notaurl"],
     ["scheduler", "'notaurl'", "tcp://HOST:PORT"]),
    ("nc-float-user-cell", ["evaluate", "{d}/float_user_cell.nc"], ["user_cell", "whole numbers"]),
    ("nc-string-rate", ["evaluate", "{d}/string_rate.nc"], ["rate", "must be numbers"]),
    ("nc-renamed-dim", ["evaluate", "{d}/renamed_dim.nc"], ["rate", "must have dimensions"]),
    ("nc-string-t-back", ["evaluate", "{d}/string_t_back.nc"], ["t_back_s", "'fast'", "must be a number"]),
    ("nc-min-float-user-cell", ["scenario", "show", "{d}/min_float_user_cell.nc"], ["user_cell"]),
    ("nc-min-string-rate", ["scenario", "show", "{d}/min_string_rate.nc"], ["rate", "must be numbers"]),
    ("nc-min-renamed-dim", ["scenario", "show", "{d}/min_renamed_dim.nc"], ["must have dimensions"]),
    ("nc-min-string-units", ["solve", "{d}/min_string_units.nc"], ["units", "must be numbers"]),
    ("non-utf8-evaluate", ["evaluate", "{d}/good.json", "-o", "{o}/" + NON_UTF8], ["output", "UTF-8"]),
    ("non-utf8-study-run", ["study", "run", "demo", "-o", "{o}/" + NON_UTF8], ["output", "UTF-8"]),
    # item 5: invalid values accepted silently before
    ("nan-quality", ["evaluate", "{d}/nan_quality.json"], ["tasks[0].quality_requirement"]),
    ("negative-quality", ["evaluate", "{d}/neg_quality.json"], ["tasks[0].quality_requirement", "-0.5"]),
    ("duplicate-key", ["scenario", "show", "{d}/dup.json"], ["duplicate key 'cells'"]),
    ("bool-tokens", ["evaluate", "{d}/bool_tokens.json"], ["tasks[0].output_tokens", "True"]),
    ("string-tokens", ["evaluate", "{d}/str_tokens.json"], ["tasks[0].output_tokens", "'800'"]),
    ("nc-unknown-class", ["evaluate", "{d}/class.nc"], ["tasks[0].service_class", "'gold'"]),
    ("nc-unknown-modality", ["evaluate", "{d}/modality.nc"], ["tasks[0].modality", "'smell'"]),
    ("nc-quality-2", ["evaluate", "{d}/quality.nc"], ["tasks[0].quality_edge", "2.0", "[0, 1]"]),
    # item 2: outputs that would replace what they must not
    ("output-is-input", ["scenario", "show", "{d}/good.json", "-o", "{d}/good.json"],
     ["output", "is an input of this command"]),
    ("output-is-study-file", ["report", "{d}/studyfolder", "-o", "{d}/studyfolder/summary.parquet"],
     ["output", "is a file of a study folder"]),
    ("output-in-proc", ["scenario", "show", "{d}/good.json", "-o", "/proc/x.nc"], ["output", "'/proc/x.nc'"]),
    ("output-is-folder", ["evaluate", "{d}/good.json", "-o", "{d}/subdir"], ["output", "is a folder"]),
    # item 3: sizes
    ("size-tasks", ["scenario", "generate", "--users", "1000", "--rbs", "1000", "--set",
                    "tasks_per_user=[1, 1000000]", "-o", "{o}/g.nc"], ["config.tasks_per_user", "too large"]),
    ("size-rbs", ["scenario", "generate", "--rbs", "10000000", "-o", "{o}/g.nc"],
     ["config.rbs", "too large"]),
    ("size-users", ["scenario", "generate", "--users", "1000000000", "-o", "{o}/g.nc"],
     ["config.users", "too large"]),
    ("size-study-seeds", ["study", "check", "{d}/many_seeds.toml"], ["study.seeds", "1000000 seeds"]),
    ("size-study-case", ["study", "check", "{d}/big_case.toml"], ["base.tasks_per_user", "too large"]),
    ("size-study-steps", ["study", "check", "{d}/long.toml"], ["study.steps", "episode too large"]),
    ("size-icl-steps", ["icl", "run", "--llm", "fake:edge", "--steps", "1000000000000", "-o", "{o}/i"],
     ["steps", "episode too large"]),
    ("size-rl-eval-steps", ["rl", "eval", "--agent", "{d}/good.json", "--steps", "1000000000000"],
     ["steps", "episode too large"]),
    # item 7
    ("rl-train-unwritable", ["rl", "train", "-o", "/proc/q.npz"], ["output", "/proc/q.npz", "not writable"]),
    ("scenario-is-folder", ["scenario", "show", "{d}/subdir"], ["scenario", "is a folder"]),
    ("config-is-folder", ["scenario", "generate", "--config", "{d}/subdir", "-o", "{o}/g.nc"],
     ["config", "is a folder"]),
    ("study-is-folder", ["study", "check", "{d}/subdir"], ["spec", "is a folder"]),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("argv", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_issue12_case(argv: list[str], needles: list[str], files: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    before = _snapshot(files)
    res = runner.invoke(app, [a.format(d=files, o=out) for a in argv])
    lines = res.stderr.strip("\n").splitlines()
    assert res.exit_code == 2, (res.exit_code, res.stderr[-2000:], res.exception)
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr[-2000:]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert ".tmp" not in lines[0] and "Traceback" not in res.output
    assert list(out.iterdir()) == []
    assert _snapshot(files) == before  # no input touched


def test_devices_fifos_and_symlinks_are_written_through(files: Path, tmp_path: Path) -> None:
    """``-o /dev/null`` stays a device, a FIFO gets the bytes, a symlink stays a symlink."""
    import stat
    import threading

    res = runner.invoke(app, ["scenario", "show", str(files / "good.json"), "-o", "/dev/null"])
    assert res.exit_code == 0, res.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    res = runner.invoke(app, ["scenario", "show", str(files / "good.json"), "-o", str(fifo)])
    reader.join(30)
    assert res.exit_code == 0, res.output
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and got[0].startswith(b"\x89HDF")
    target = tmp_path / "real.nc"
    link = tmp_path / "link.nc"
    link.symlink_to(target)
    res = runner.invoke(app, ["scenario", "show", str(files / "good.json"), "-o", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.read_bytes().startswith(b"\x89HDF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.nc", "pipe", "real.nc"]


def test_garbage_gguf_with_a_gguf_header(tmp_path: Path) -> None:
    """A file with the GGUF magic but garbage after it: llama.cpp's ValueError becomes one line."""
    pytest.importorskip("llama_cpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    res = runner.invoke(app, ["icl", "run", "--llm", f"embedded:{bad}", "--steps", "1",
                              "-o", str(tmp_path / "i")])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "cannot load the GGUF model" in lines[0], res.stderr
    assert not (tmp_path / "i").exists()


def test_markdown_report_escapes_raw_html() -> None:
    from genoffload.studies.report import Report, Section, render_markdown

    fields = {name: () for name in Report.__dataclass_fields__}
    gap = Section("gap-section", "Optimality gap", [_no_panel()], ("gap", "Optimality gap"))
    report = Report(**{**fields, "name": "x", "description": "<script>alert(1)</script> & more",
                       "sections": [gap], "metadata": _empty_table(), "notes": ["<b>n</b>"]})
    text = render_markdown(report, {})
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in text
    assert "&lt;b&gt;n&lt;/b&gt;" in text


def _no_panel() -> Any:
    from genoffload.studies.figures import Panel

    return Panel(key="gap", title="gap", caption="", png=None, note="no exact cells")


def _empty_table() -> Any:
    import polars as pl

    from genoffload.studies.report_tables import Table

    return Table(key="meta", title="Metadata", caption="", frame=pl.DataFrame())


def test_workers_capped_at_a_multiple_of_the_cores() -> None:
    from genoffload.sizes import WORKERS_PER_CORE, cap_workers

    cores = os.cpu_count() or 1
    n, warning = cap_workers(1000)
    assert 1 <= n <= WORKERS_PER_CORE * cores and warning is not None
    assert "--workers 1000 capped at" in warning
    assert cap_workers(1) == (1, None)


def test_memory_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from genoffload.errors import InputError
    from genoffload.sizes import MEMORY_ENV, memory_limit

    monkeypatch.setenv(MEMORY_ENV, "0.001")
    assert memory_limit(machine=False) == 1_000_000
    with pytest.raises(InputError, match=r"^config\.users: scenario too large"):
        make_config({"users": 400, "rbs": 200})
    monkeypatch.setenv(MEMORY_ENV, "lots")
    with pytest.raises(InputError, match=rf"^{MEMORY_ENV}: must be a number"):
        memory_limit()


def test_solve_refused_before_building_a_model_too_large(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = save(generate(make_config({"users": 40, "rbs": 100, "seed": 1})), tmp_path / "s.nc")
    monkeypatch.setenv("GENOFFLOAD_MAX_MEMORY_GB", "0.01")  # 4000 z variables need ~40 MB
    res = runner.invoke(app, ["solve", str(path)])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "too large to solve exactly" in lines[0], res.stderr


def test_deep_json_in_a_study_folder_and_a_scenario_attribute(tmp_path: Path) -> None:
    """The folder's own JSON files and a NetCDF's ``config`` attribute are read safely too."""
    from genoffload.errors import InputError
    from genoffload.rl import scenario_config

    folder = tmp_path / "st"
    folder.mkdir()
    (folder / "study.toml").write_text(STUDY.format(extra=""))
    (folder / "study.json").write_text("[" * DEEP + "]" * DEEP)
    res = runner.invoke(app, ["study", "run", str(folder / "study.toml"), "-o", str(folder)])
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2 and len(lines) == 1 and "study.json is not valid JSON" in lines[0], res.stderr
    ds = generate(make_config({"users": 2, "rbs": 4})).assign_attrs(config="[" * DEEP + "]" * DEEP)
    with pytest.raises(InputError, match=r"^scenario\.config: nested deeper than 64"):
        scenario_config(ds)
    with pytest.raises(InputError, match=r"^config: must be a table of settings"):
        make_config([1, 2])  # type: ignore[arg-type]
