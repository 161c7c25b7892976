"""The recipe "Adding a policy" of docs/architecture.md, followed step by step.

A tiny policy is defined here and registered with ``register_policy``; with no other edit the
pipeline, the online episode runner, ``genoffload evaluate`` and a study (its spec check and a
run on an in-process Dask cluster) all find it by name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl
import pytest
import xarray as xr
from typer.testing import CliRunner

from genoffload.episode import EpisodeConfig, summary
from genoffload.errors import InputError
from genoffload.models.reference import run_certified_episode
from genoffload.pipeline import run_policy
from genoffload.policy import (
    BoolArray,
    Plan,
    PolicyEntry,
    get_policy,
    policy_entry,
    policy_names,
    register_policy,
    unregister_policy,
)
from genoffload.scenario import generate, make_config, save

NAME = "offload-long"


class OffloadLong:
    """Step 1 of the recipe: a class with ``name``, ``joint`` and ``decide(scenario, z) -> Plan``.

    Offload every task whose output is longer than ``threshold`` tokens.
    """

    name: ClassVar[str] = NAME
    joint: ClassVar[bool] = False

    def __init__(self, threshold: float = 100.0) -> None:
        self.threshold = threshold

    def decide(self, scenario: xr.Dataset, z: BoolArray) -> Plan:
        return Plan(z, np.asarray(scenario["units"].values > self.threshold, dtype=bool))


@pytest.fixture
def registered() -> Iterator[PolicyEntry]:
    """Step 2: its registry entry (a package declares it as an entry point instead)."""
    entry = register_policy(PolicyEntry(NAME, "rule", offline=OffloadLong, description="long ones offloaded"))
    yield entry
    unregister_policy(NAME)


def test_found_by_name_and_run_offline_and_online(registered: PolicyEntry) -> None:
    assert NAME in policy_names() and policy_entry(NAME) is registered
    ds = generate(make_config({"sites": 1, "users": 6, "seed": 2}))
    plan, result = run_policy(ds, "pf", NAME)
    assert result.attrs["policy"] == NAME
    np.testing.assert_array_equal(plan.alpha, ds["units"].values > 100.0)
    assert get_policy(NAME, threshold=0.0).decide(ds, plan.z).alpha.all()
    base = make_config({"sites": 1, "users": 6})
    online = registered.build_online({}, base, 0)
    ep = run_certified_episode(base, online, EpisodeConfig(steps=3, seed=1, arrival_prob=0.5))
    assert ep.attrs["policy"] == NAME and set(ep["source"].values) == {"rule"}
    assert summary(ep)["regret"] >= -1e-6  # the certified reference bounds it like any other


def test_the_cli_evaluates_it(registered: PolicyEntry, tmp_path: Path) -> None:
    from genoffload.cli.app import app

    path = save(generate(make_config({"sites": 1, "users": 4, "seed": 1})), tmp_path / "s.nc")
    out = CliRunner().invoke(app, ["evaluate", str(path), "--policy", NAME, "--json"])
    assert out.exit_code == 0, out.output
    assert [r["policy"] for r in json.loads(out.output)["results"]] == [NAME]


STUDY = f"""
[study]
name = "recipe"
mode = "episode"
seeds = [0]
steps = 3

[base]
sites = 1
users = 4

[[policy]]
name = "{NAME}"

[[policy]]
name = "quality-rule"
"""


def test_a_study_runs_it(registered: PolicyEntry, tmp_path: Path) -> None:
    from distributed import Client

    from genoffload.studies import parse_study, run_study

    with pytest.raises(InputError, match="not an option of offload-long"):
        parse_study(STUDY.replace(f'name = "{NAME}"', f'name = "{NAME}"\ngap = 0.1'))
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None) as client:
        run_study(parse_study(STUDY), tmp_path / "run", client=client)
    table = pl.read_parquet(tmp_path / "run" / "summary.parquet")
    assert set(table["policy"]) == {NAME, "quality-rule"}
    assert table.filter(pl.col("policy") == NAME)["regret"].min() >= -1e-6
