"""CLI start-up: ``--help`` and ``--version`` import no heavy library; lazy commands stay in sync."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from genoffload.cli.app import LAZY_COMMANDS, load_command

PROBE = r"""
import sys
from pathlib import Path
sys.argv = ["genoffload", ARG]
from genoffload.cli.app import main
try:
    main()
except SystemExit:
    pass
heavy = sorted(m for m in ("xarray", "pandas", "polars", "pyomo", "numpy", "scipy", "langchain_core")
               if m in sys.modules)
print("HEAVY", ",".join(heavy))
"""


@pytest.mark.parametrize("arg", ["--help", "--version"])
def test_root_help_and_version_import_nothing_heavy(arg: str) -> None:
    out = subprocess.run([sys.executable, "-c", PROBE.replace("ARG", repr(arg))],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY", out.stdout
    if arg == "--help":
        for name in LAZY_COMMANDS:
            assert name in out.stdout


@pytest.mark.parametrize("name", sorted(LAZY_COMMANDS))
def test_lazy_help_is_the_commands_own(name: str) -> None:
    command = load_command(name)
    assert command.name == name
    own = " ".join((command.help or "").split("\n\n")[0].split())
    assert own == LAZY_COMMANDS[name].help


def test_a_lazy_command_runs_and_reports_bad_input(tmp_path) -> None:  # type: ignore[no-untyped-def]
    nc = tmp_path / "s.nc"
    nc.write_bytes(b"\x89HDF\r\n")
    out = subprocess.run([str(Path(sys.executable).parent / "genoffload"), "icl", "run", str(nc)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("error: scenario: ") and "NetCDF" in out.stderr
    assert "TOML or JSON" in out.stderr and "Traceback" not in out.stderr
