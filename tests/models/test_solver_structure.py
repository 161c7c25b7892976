"""The exact solver's structure: no import-time side effects, no policy imported by the models,
every Pyomo private attribute behind one adapter, MILP endings from the status table."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
from pyomo.contrib.solver.common.results import TerminationCondition as TC

from genoffload.models import highs_adapter as hx
from genoffload.models import status as st
from genoffload.policies.heuristics import QualityRule
from genoffload.rules import quality_rule
from genoffload.scenario import generate, make_config

ROOT = Path(__file__).resolve().parents[2]


def test_importing_the_models_installs_no_filter_and_loads_no_policy() -> None:
    code = ("import logging, sys; import genoffload.models.solve, genoffload.models.diagnose; "
            f"print(len(logging.getLogger({hx.HIGHS_LOGGER!r}).filters)); "
            "print(sorted(m for m in sys.modules if m.startswith('genoffload.policies')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "0" and out[1] == "[]"


def test_interrupt_filter_only_inside_the_block() -> None:
    log = logging.getLogger(hx.HIGHS_LOGGER)
    n = len(log.filters)
    with hx.own_interrupts_quiet():
        assert len(log.filters) == n + 1
        (flt,) = log.filters[n:]
        drop = logging.LogRecord(hx.HIGHS_LOGGER, logging.WARNING, "", 0, "status kInterrupt",
                                 None, None)
        keep = logging.LogRecord(hx.HIGHS_LOGGER, logging.WARNING, "", 0, "other", None, None)
        assert not flt.filter(drop) and flt.filter(keep)
    assert len(log.filters) == n


def test_private_pyomo_attributes_only_in_the_adapter() -> None:
    hits = [p.relative_to(ROOT).as_posix()
            for folder in ("toolkit", "models", "studies", "benchmarks")
            for p in (ROOT / folder).rglob("*.py")
            if "_solver_model" in p.read_text() or "._pyomo_" in p.read_text()]
    assert hits == ["models/highs_adapter.py"]


def test_milp_endings_come_from_the_table() -> None:
    assert st.milp_ending(st.map_status(TC.maxTimeLimit)) == "highs_time"
    assert st.milp_ending(st.map_status(TC.iterationLimit)) == "highs_iterations"
    assert st.milp_ending(st.map_status(TC.minStepLength)) == "highs_numerical"
    assert st.milp_ending(st.map_status(TC.interrupted)) == "highs_error"
    for name in (*st.MILP_ENDINGS.values(), "highs_error"):
        assert name in st.OUTCOMES


def test_quality_rule_is_the_policys_offloading() -> None:
    ds = generate(make_config({"users": 8, "rbs": 20, "seed": 4, "tasks_per_user": (1, 3)}))
    z = np.zeros((ds.sizes["user"], ds.sizes["rb"]), dtype=bool)
    alpha = quality_rule(ds)
    assert alpha.dtype == bool and alpha.shape == (ds.sizes["task"],)
    np.testing.assert_array_equal(QualityRule().decide(ds, z).alpha, alpha)
