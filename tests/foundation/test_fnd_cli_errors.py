"""Bad input through the CLI: exit code 2, one line on stderr naming the field and the value,
no traceback, and no output file (nothing half-written).

The bad files are tests/data/f_*.json / f_*.toml; a few are written to tmp_path.
"""

from __future__ import annotations

import json
import signal
import subprocess
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from genoffload.cli.app import app
from genoffload.errors import InputError
from genoffload.scenario import from_document, generate, make_config

runner = CliRunner()

# (id, argv with {data} and {out} placeholders, substrings the one error line must contain)
CASES: list[tuple[str, list[str], list[str]]] = [
    ("missing-field", ["evaluate", "{data}/f_missing_tasks.json", "-o", "{out}/r.parquet"],
     ["tasks", "required"]),
    ("missing-task-field", ["evaluate", "{data}/f_missing_output_tokens.json", "-o", "{out}/r.parquet"],
     ["output_tokens", "required"]),
    ("negative-tokens", ["evaluate", "{data}/f_negative_tokens.json", "-o", "{out}/r.parquet"],
     ["tasks[1].output_tokens", "-7"]),
    ("fractional-tokens", ["scenario", "show", "{data}/f_fractional_tokens.json", "-o", "{out}/s.nc"],
     ["tasks[0].output_tokens", "12.5"]),
    ("text-tokens", ["evaluate", "{data}/f_text_tokens.json", "-o", "{out}/r.parquet"],
     ["output_tokens", "'lots'"]),
    ("nan-rate", ["evaluate", "{data}/f_nan_rate.json", "-o", "{out}/r.parquet"],
     ["rate[user=1, rb=1]", "nan"]),
    ("negative-rate", ["scenario", "show", "{data}/f_negative_rate.json", "-o", "{out}/s.nc"],
     ["rate[user=0, rb=1]", "-2500000"]),
    ("unknown-llm", ["evaluate", "{data}/f_unknown_llm.json", "-o", "{out}/r.parquet"],
     ["cloud_model", "gpt-9000", "unknown model"]),
    ("unmet-quality", ["evaluate", "{data}/f_unmet_quality.json", "-o", "{out}/r.parquet"],
     ["tasks[1].quality_requirement", "0.95"]),
    ("fewer-rbs-than-users", ["evaluate", "{data}/f_few_rbs.json", "-o", "{out}/r.parquet"],
     ["cell[0].users_with_tasks", "(got 3)", "RBs (2)"]),
    ("not-json-nor-netcdf", ["evaluate", "{data}/f_not_a_scenario.json", "-o", "{out}/r.parquet"],
     ["scenario", "f_not_a_scenario.json", "neither NetCDF nor valid JSON"]),
    ("missing-file", ["scenario", "show", "{data}/f_nonexistent.json", "-o", "{out}/s.nc"],
     ["scenario", "f_nonexistent.json", "no such file"]),
    ("config-unknown-key", ["scenario", "generate", "--config", "{data}/f_unknown_key.toml",
                            "-o", "{out}/g.nc"],
     ["config.t_bak_s", "unknown key", "0.1"]),
    ("config-sites-5", ["scenario", "generate", "--config", "{data}/f_sites5.toml", "-o", "{out}/g.nc"],
     ["config.sites", "(got 5)"]),
    ("option-sites-5", ["scenario", "generate", "--sites", "5", "-o", "{out}/g.nc"],
     ["config.sites", "(got 5)"]),
    ("set-out-of-range", ["scenario", "generate", "--set", "load_factor=1.5", "-o", "{out}/g.nc"],
     ["config.load_factor", "1.5"]),
    ("set-without-value", ["scenario", "generate", "--set", "users", "-o", "{out}/g.nc"],
     ["--set", "'users'"]),
    ("generate-fewer-rbs", ["scenario", "generate", "--users", "5", "--rbs", "3", "-o", "{out}/g.nc"],
     ["users_with_tasks", "(got 5)"]),
    ("unknown-policy", ["evaluate", "{data}/f_valid.json", "--policy", "nonesuch", "-o", "{out}/r.parquet"],
     ["policy", "'nonesuch'", "unknown policy"]),
    ("unknown-policy-after-a-good-one",
     ["evaluate", "{data}/f_valid.json", "--policy", "quality-rule", "--policy", "nonesuch",
      "-o", "{out}/r.parquet"],
     ["policy", "'nonesuch'"]),
    ("unknown-scheduler", ["evaluate", "{data}/f_valid.json", "--scheduler", "fifo", "-o", "{out}/r.parquet"],
     ["scheduler", "'fifo'", "unknown scheduler"]),
]


def _argv(template: list[str], data: Path, out: Path) -> list[str]:
    return [a.format(data=data, out=out) for a in template]


def check_one_line_error(code: int, stdout: str, stderr: str, needles: list[str], out: Path,
                         exc: BaseException | None = None) -> None:
    lines = stderr.strip("\n").splitlines()
    assert code == 2, f"exit code {code} ({exc!r}); stderr:\n{stderr}"
    assert len(lines) == 1, f"expected one line on stderr, got:\n{stderr}"
    assert lines[0].startswith("error: ")
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    assert "Traceback" not in stderr and "Traceback" not in stdout
    assert stdout.strip() == ""
    # nothing written, not even a temporary file
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


def check_result(res: Result, needles: list[str], out: Path) -> None:
    """check_one_line_error for an in-process CliRunner result."""
    check_one_line_error(res.exit_code, res.stdout, res.stderr, needles, out, res.exception)


@pytest.mark.parametrize(("argv", "needles"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_cli(argv: list[str], needles: list[str], data_dir: Path, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    # run from tests/data with relative input paths: the error shows at most 80 characters of
    # the value, so a short path keeps the file name visible (see test_long_path_...)
    monkeypatch.chdir(data_dir)
    out = tmp_path / "out"
    res = runner.invoke(app, _argv(argv, Path("."), out))
    assert isinstance(res.exception, SystemExit), repr(res.exception)
    check_result(res, needles, out)


def test_binary_file_is_neither_json_nor_netcdf(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("junk.nc").write_bytes(bytes(range(256)) * 4)
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", "junk.nc", "-o", str(out / "r.parquet")])
    check_result(res, ["scenario", "junk.nc"], out)


@pytest.mark.parametrize("signature", [b"\x89HDF\r\n\x1a\n", b"CDF\x01"], ids=["hdf5", "netcdf3"])
def test_truncated_netcdf_header(tmp_path: Path, signature: bytes) -> None:
    fake = tmp_path / "fake.nc"
    fake.write_bytes(signature + b"\xff" * 64)  # a NetCDF-4 / NetCDF-3 signature, no content
    out = tmp_path / "out"
    res = runner.invoke(app, ["scenario", "show", str(fake), "-o", str(out / "s.nc")])
    check_result(res, ["scenario", "not a readable NetCDF file"], out)


def test_existing_output_is_not_clobbered_on_error(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = out / "r.parquet"
    target.write_bytes(b"previous results")
    res = runner.invoke(app, ["evaluate", str(data_dir / "f_nan_rate.json"), "-o", str(target)])
    assert res.exit_code == 2
    assert target.read_bytes() == b"previous results"
    assert [p.name for p in out.iterdir()] == ["r.parquet"]


@pytest.mark.parametrize(
    ("argv", "needles"),
    [(["evaluate", "{data}/f_negative_tokens.json", "-o", "{out}/r.parquet"],
      ["tasks[1].output_tokens", "-7"]),
     (["scenario", "generate", "--sites", "5", "-o", "{out}/g.nc"], ["config.sites", "(got 5)"])],
    ids=["negative-tokens", "sites-5"])
def test_bad_input_subprocess(argv: list[str], needles: list[str], data_dir: Path, tmp_path: Path,
                              genoffload_exe: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([str(genoffload_exe), *_argv(argv, Path("."), out)], capture_output=True,
                          text=True, timeout=60, cwd=data_dir)
    check_one_line_error(proc.returncode, proc.stdout, proc.stderr, needles, out)


# ------------------------------------------------------------------------------------------
# Regressions: bugs found by this suite and fixed in commit 2b4172e (they used to give a
# traceback and exit code 1, a warning on stderr, a hang, or silently accept the value).


def test_ragged_rate_table_is_a_one_line_error(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", str(data_dir / "f_ragged_rates.json"),
                              "-o", str(out / "r.parquet")])
    check_result(res, ["rate_bps[1]", "(got 1)"], out)


def test_wrong_length_rb_bandwidth_is_a_one_line_error(make_doc, tmp_path: Path) -> None:
    path = tmp_path / "bw.json"
    path.write_text(json.dumps(make_doc(rb_bandwidth_hz=[180e3, 180e3, 180e3])))
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", str(path), "-o", str(out / "r.parquet")])
    check_result(res, ["rb_bandwidth_hz", "(got 3)"], out)


def test_wrong_length_tx_power_is_a_one_line_error(tmp_path: Path) -> None:
    doc = {"user_cell": [0, 0], "gain": [[1e-9, 2e-9], [3e-9, 1e-9]], "tx_power_w": [1.0, 2.0, 3.0],
           "noise_w": 1e-12, "tasks": [{"user": 0, "service": "chat", "output_tokens": 100}]}
    path = tmp_path / "txp.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", str(path), "-o", str(out / "r.parquet")])
    check_result(res, ["tx_power_w", "(got 3)"], out)


def test_long_path_keeps_the_file_name_in_the_error(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / "my_scenario.json"
    res = runner.invoke(app, ["scenario", "show", str(deep)])
    check_result(res, ["my_scenario.json", "no such file"], tmp_path / "o")


@pytest.mark.parametrize(("setting", "field"), [("isd_m=Infinity", "config.isd_m"),
                                                ("noise_psd_dbm_hz=NaN", "config.noise_psd_dbm_hz"),
                                                ("t_target_s=NaN", "config.t_target_s")])
def test_non_finite_config_value_is_a_one_line_error(setting: str, field: str,
                                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["scenario", "generate", "--set", setting, "--users", "2",
                              "--rbs", "2", "-o", str(out / "g.nc")])
    check_result(res, [field], out)


def test_nan_target_delay_is_rejected(make_doc, tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    # json.dumps writes the NaN literal that Python's json (and the loader) accept
    path.write_text(json.dumps(make_doc(settings={"t_target_s": float("nan")})))
    out = tmp_path / "out"
    res = runner.invoke(app, ["evaluate", str(path), "-o", str(out / "r.parquet")])
    check_result(res, ["t_target_s", "nan"], out)


def test_zero_noise_is_a_one_line_error(tmp_path: Path, genoffload_exe: Path) -> None:
    # subprocess: numpy RuntimeWarnings reach stderr here (pytest would swallow them in-process)
    doc = {"user_cell": [0], "gain": [[1e-9, 2e-9]], "tx_power_w": 1.0, "noise_w": 0.0,
           "tasks": [{"user": 0, "service": "chat", "output_tokens": 100}]}
    path = tmp_path / "n.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "out"
    proc = subprocess.run([str(genoffload_exe), "evaluate", str(path), "-o", str(out / "r.parquet")],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    check_one_line_error(proc.returncode, proc.stdout, proc.stderr, ["noise_w"], out)


def test_unreachable_min_distance_is_rejected_not_a_hang() -> None:
    def _alarm(signum: int, frame: object) -> None:
        raise TimeoutError("generate() still running after 2 s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, 2.0)
    try:
        # ISD 500 m: the farthest point of a cell is 500 / sqrt(3) = 288.7 m from its site
        with pytest.raises(InputError, match="min_distance_m"):
            generate(make_config({"users": 2, "rbs": 2, "min_distance_m": 300.0}))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------------------------------
# Formerly open bugs, fixed: regression tests.


def test_scenario_without_users_is_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text(json.dumps({"user_cell": [], "rate_bps": [], "tasks": []}))
    res = runner.invoke(app, ["scenario", "show", str(path), "--json"])
    assert res.exit_code in (0, 2), f"{res.exception!r}"
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 1


def test_negative_interference_is_rejected_by_name(make_doc) -> None:
    doc = {"user_cell": [0], "gain": [[1e-9, 2e-9]], "tx_power_w": 1.0, "noise_w": 1e-12,
           "interference_w": -2e-12, "tasks": [{"user": 0, "service": "chat", "output_tokens": 10}]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning would be a second line on the CLI's stderr
        with pytest.raises(InputError, match="interference_w"):
            from_document(doc)


def test_negative_content_bytes_named_as_written(make_doc) -> None:
    doc = make_doc(tasks=[{"user": 0, "service": "chat", "output_tokens": 100, "content_bytes": -5}])
    with pytest.raises(InputError, match=r"tasks\[0\]\.content_bytes.*-5"):
        from_document(doc)


def test_negative_deadline_is_rejected(make_doc) -> None:
    doc = make_doc(tasks=[{"user": 0, "service": "chat", "output_tokens": 100, "deadline_s": -5.0}],
                   settings={"slo": "hard"})
    with pytest.raises(InputError, match="deadline"):
        from_document(doc)
