"""Split studies from a TOML file: spec, bound table, policy training, the resumable run and report.

A split study file::

    [study]   name, description, kind = "split", seeds
    [base]    SplitParams keys (genoffload.studies.split_study)
    [[sweep]] name, and SplitParams keys given as lists (the product is the sweep's cases)

``run_split_study`` computes every (case, seed) cell with :func:`split_cell`, keeps each finished
cell in ``DIR/cells/<id>.nc`` (a second run resumes), then writes ``summary.parquet`` (one row per
cell, 0-d variables), ``curves.parquet`` (``cell, case, seed, curve, x, y``) and ``report.html``
(the panels of :func:`split_panels`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from pydantic import ValidationError

from genoffload.errors import InputError, validation_error
from genoffload.io import load_toml, read_text, write_atomic
from genoffload.models.split_bound import bounds
from genoffload.policies.split import get_split_policy
from genoffload.policies.split.baselines import BestStatic
from genoffload.studies.split_study import (
    Counted,
    SplitParams,
    build,
    draw_states,
    mean_regret,
    split_cell,
    split_panels,
)

STUDY_KEYS = {"name", "description", "kind", "seeds"}


@dataclass(frozen=True)
class SplitStudy:
    """A validated split study: its name, seeds, base parameters and cases ``(case_id, params)``."""

    name: str
    seeds: tuple[int, ...]
    base: SplitParams
    cases: tuple[tuple[str, dict[str, Any]], ...]


def _params(values: dict[str, Any], where: str) -> SplitParams:
    try:
        return SplitParams(**values)
    except ValidationError as err:
        raise validation_error(err, where, unknown="extra inputs are not permitted") from None


def load_split_study(name_or_path: str) -> SplitStudy:
    """Read and validate a split study (``"split"``: the shipped ``studies/split.toml``).

    Raises
    ------
    InputError
        An unknown key, a bad value (``sweep[1].window``), no such file.
    """
    if name_or_path == "split":
        text = (resources.files("genoffload.studies") / "split.toml").read_text(encoding="utf-8")
        where = "split.toml"
    else:
        text, where = read_text(name_or_path, "study", "study file"), name_or_path
    doc = load_toml(text, "study", where)
    head = doc.get("study", {})
    for key in head:
        if key not in STUDY_KEYS:
            raise InputError(f"study.{key}", head[key], "unknown key")
    if head.get("kind", "split") != "split":
        raise InputError("study.kind", head["kind"], "must be split")
    seeds = head.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and s >= 0 for s in seeds):
        raise InputError("study.seeds", seeds, "must be a non-empty list of whole numbers >= 0")
    for key in doc:
        if key not in ("study", "base", "sweep"):
            raise InputError(key, doc[key], "unknown table")
    base_doc = doc.get("base", {})
    base = _params(base_doc, "base")
    cases: dict[str, dict[str, Any]] = {}
    for i, sweep in enumerate(doc.get("sweep", []) or [{}]):
        name = str(sweep.get("name", f"sweep{i}"))
        grid = {k: v for k, v in sweep.items() if k != "name"}
        for k, v in grid.items():
            if not isinstance(v, list) or not v:
                raise InputError(f"sweep[{i}].{k}", v, "must be a non-empty list")
        keys = sorted(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            values = {**base_doc, **dict(zip(keys, combo, strict=True))}
            _params(values, f"sweep[{i}]")
            digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]
            cases.setdefault(f"{name}-{digest}", values)
    return SplitStudy(str(head.get("name", "split")), tuple(seeds), base, tuple(cases.items()))


def bound_table(p: SplitParams, seed: int = 0) -> Any:
    """The exhaustive optimum of every held-out state of ``p`` (polars, one row per state)."""
    import polars as pl

    problem, quality, ppl0 = build(p, seed)
    test = draw_states(p.n_test, seed, p.sinr_db, p.erasure, 1)
    from genoffload.split.cache import measure_grid

    measure_grid(
        quality,
        [(a[0], a[1], s) for s in test for a in problem.actions()],
        f"exhaustive bound, {len(test)} states",
    )
    rows = []
    for b in bounds(problem, test, quality, ppl0):
        rows.append(
            {
                "sinr_db": b.state.sinr_db,
                "erasure": b.state.erasure,
                "split": b.action[0],
                "bits": b.action[1],
                "reward": b.reward,
                "status": str(b.status),
                "gap": b.gap,
                "evaluations": b.evaluations,
                "ppl0": ppl0,
            }
        )
    return pl.DataFrame(rows)


def train_policy(p: SplitParams, policy: str, budget: int, seed: int = 0) -> dict[str, Any]:
    """Fit ``policy`` on the training states of ``p``; its decisions and regret on the held-out ones."""
    from genoffload.split.cache import measure_grid

    kwargs = {"budget": budget} if policy.startswith("mbrl") else {}
    pol = get_split_policy(policy, **kwargs)  # an unknown name is refused before any measurement
    problem, quality, ppl0 = build(p, seed)
    train = draw_states(p.n_train, seed, p.sinr_db, p.erasure, 0)
    test = draw_states(p.n_test, seed, p.sinr_db, p.erasure, 1)
    measure_grid(quality, [(a[0], a[1], s) for s in test for a in problem.actions()], "exhaustive bound")
    found = bounds(problem, test, quality, ppl0)
    counted = Counted(quality, layers=problem.layers)
    if isinstance(pol, BestStatic):
        pol.fit_hindsight(
            problem, {(i, a): b.rewards[a] for i, b in enumerate(found) for a in problem.actions()}
        )
    else:
        pol.fit(problem, train, counted, ppl0, seed)
    chosen = [pol.choose(s) for s in test]
    reg, rel = mean_regret(problem, found, chosen)
    decisions = [
        {
            "sinr_db": s.sinr_db,
            "erasure": s.erasure,
            "split": a[0],
            "bits": a[1],
            "optimal_split": b.action[0],
            "optimal_bits": b.action[1],
            "reward": b.rewards[a],
            "optimum": b.reward,
        }
        for s, a, b in zip(test, chosen, found, strict=True)
    ]
    return {
        "policy": policy,
        "evaluations": len(counted.asked),
        "regret": reg,
        "relative_regret": rel,
        "exhaustive_evaluations": sum(b.evaluations for b in found),
        "decisions": decisions,
    }


def _cell_rows(
    ds: xr.Dataset, cell: str, case: str, seed: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    row: dict[str, Any] = {"cell": cell, "case": case, "seed": seed}
    curves = []
    for name, var in ds.data_vars.items():
        if var.ndim == 0:
            row[str(name)] = float(var.values)
        else:
            dim = var.dims[0]
            for x, y in zip(ds[dim].values, var.values, strict=True):
                curves.append(
                    {
                        "cell": cell,
                        "case": case,
                        "seed": seed,
                        "curve": str(name),
                        "x": float(x),
                        "y": float(y),
                    }
                )
    return row, curves


def run_split_study(study: SplitStudy, out: Path | str, progress: bool = True) -> Any:
    """Compute every (case, seed) cell (finished ones kept), write the tables and the report."""
    import polars as pl

    out = Path(out)
    (out / "cells").mkdir(parents=True, exist_ok=True)
    rows, curves = [], []
    for case, params in study.cases:
        for seed in study.seeds:
            cell = f"{case}-s{seed}"
            path = out / "cells" / f"{cell}.nc"
            if path.is_file():
                ds = xr.load_dataset(path, engine="h5netcdf")
            else:
                if progress:
                    print(f"cell {cell}: measuring / reading the cache ...", flush=True)
                ds = split_cell(params, seed)
                write_atomic(path, lambda p, d=ds: d.to_netcdf(p, engine="h5netcdf"))
            r, c = _cell_rows(ds, cell, case, seed)
            rows.append(r)
            curves.extend(c)
    summary, curve_frame = pl.DataFrame(rows), pl.DataFrame(curves)
    write_atomic(out / "summary.parquet", lambda p: summary.write_parquet(p))
    write_atomic(out / "curves.parquet", lambda p: curve_frame.write_parquet(p))
    write_atomic(out / "report.html", lambda p: p.write_text(report_html(study, summary, curve_frame)))
    return summary


def report_html(study: SplitStudy, summary: Any, curves: Any) -> str:
    """A self-contained HTML page: the summary table and the panels as PNG."""
    parts = [
        f"<html><head><meta charset='utf-8'><title>{study.name}</title></head><body>",
        f"<h1>Split study {study.name}</h1>",
    ]
    for title, fig in split_panels(summary, curves):
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110)
        parts.append(
            f"<h2>{title}</h2><img src='data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}'/>"
        )
    cols = [c for c in summary.columns if not c.startswith(("ppl_vs", "delay_vs"))]
    parts.append("<h2>Summary</h2><table border='1'><tr>" + "".join(f"<th>{c}</th>" for c in cols) + "</tr>")
    for row in summary.select(cols).iter_rows():
        cells = "".join(
            f"<td>{v:.4g}</td>" if isinstance(v, float) and np.isfinite(v) else f"<td>{v}</td>" for v in row
        )
        parts.append(f"<tr>{cells}</tr>")
    parts.append("</table></body></html>")
    return "\n".join(parts)
