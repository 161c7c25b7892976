"""Split-inference study (issue 15): exact bound, policies' regret, MBRL regret vs real evaluations.

A cell (:func:`split_cell`) draws training and held-out channel states from its seed, measures
(or reads from the cache) the perplexity of every (split, bits) in every held-out state for the
exhaustive bound, fits each policy on the training states (its real evaluations counted),
and records per policy the mean regret on the held-out states. Curves: perplexity and request
delay against the split, and the surrogate's regret against the real evaluations spent.
:func:`split_panels` draws the report panels from the study's summary and curves tables.

Importing the module registers the ``split`` study kind (:data:`SPLIT`: schema
:class:`SplitParams`, cell :func:`split_cell`, curves along ``budget`` and ``split``,
:func:`kind_panels`), so ``genoffload study run split`` and ``genoffload report`` run it like
every kind; ``genoffload split run`` (:mod:`genoffload.studies.split_runner`) calls
:func:`split_cell` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from genoffload.errors import validation_error
from genoffload.models.split_bound import SplitBound, bounds, regret
from genoffload.policies.split import get_split_policy
from genoffload.policies.split.baselines import BestStatic
from genoffload.policies.split.mbrl import train_surrogate
from genoffload.split.cache import MeasuredQuality, MeasurementCache, measure_grid
from genoffload.split.channel import ChannelState
from genoffload.split.config import get_config, get_device
from genoffload.split.problem import Action, QualityFn, SplitProblem
from genoffload.studies.kinds import StudyKind, register_kind

DEFAULT_POLICIES = (
    "ue-only",
    "edge-only",
    "fixed",
    "best-static",
    "myopic-rate",
    "mbrl-argmax",
    "mbrl-verify",
    "mbrl-ppo",
)


class SplitParams(BaseModel):
    """Parameters of a split-study cell ([base] / [[sweep]] keys of a study TOML)."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["embedded", "tiny"] = "embedded"
    window: int = Field(128, ge=8, le=4096)
    ue: str = "raspberry-pi-5"
    edge: str = "nvidia-l4"
    n_rb: int = Field(25, ge=1)
    rate_down: float = Field(50e6, gt=0)
    prompt: int = Field(256, ge=1)
    output: int = Field(64, ge=1)
    objective: Literal["paper", "delay"] = "paper"
    ppl_floor: float = Field(0.05, ge=0)
    splits: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4, 6, 8, 10, 12, 15, 18])
    bits: list[int] = Field(default_factory=lambda: [4, 8, 16])
    modulation: str = "qpsk"
    bit_errors: bool = True
    n_train: int = Field(6, ge=1)
    n_test: int = Field(6, ge=1)
    sinr_db: tuple[float, float] = (6.0, 16.0)
    erasure: tuple[float, float] = (0.0, 0.3)
    budgets: list[int] = Field(default_factory=lambda: [4, 8, 12, 16, 24])
    budget: int = Field(12, ge=1)
    policies: list[str] = Field(default_factory=lambda: list(DEFAULT_POLICIES))
    ppo_timesteps: int = Field(4096, ge=256)
    cache: str = ""


def draw_states(
    n: int, seed: int, sinr: tuple[float, float], erasure: tuple[float, float], offset: int = 0
) -> list[ChannelState]:
    """``n`` channel states uniform in the box (rounded: 0.1 dB, 0.001), from ``(seed, offset)``."""
    rng = np.random.default_rng([seed, offset])
    return [
        ChannelState(round(float(rng.uniform(*sinr)), 1), round(float(rng.uniform(*erasure)), 3))
        for _ in range(n)
    ]


@dataclass
class Counted:
    """A quality function that counts the distinct real evaluations a policy asks for."""

    inner: QualityFn
    asked: set[tuple[int, int, ChannelState]] = field(default_factory=set)
    layers: int = 0

    def __call__(self, split: int, bits: int, state: ChannelState) -> float:
        if split < self.layers:  # split L needs no measurement: PPL_0
            self.asked.add((split, bits, state))
        return self.inner(split, bits, state)


def build(
    p: SplitParams, seed: int = 0, cache: str | None = None
) -> tuple[SplitProblem, MeasuredQuality, float]:
    """The problem, the cached measured quality and ``PPL_0`` of a cell's parameters.

    ``source = "embedded"``: the embedded Gemma 3 270M; ``"tiny"``: a random tiny Gemma 3 of the
    same architecture (seeded; for tests and quick runs), its cache keyed by the seed.
    """
    import torch
    import transformers

    from genoffload.split import quality as q

    cfg = get_config("gemma3-270m")
    path = cache or p.cache or None
    if p.source == "embedded":
        quality, runner = q.measured_embedded(p.window, p.modulation, p.bit_errors, path)
    else:
        runner = q.tiny_runner(seed, p.window, p.modulation, p.bit_errors)
        cfg = replace(cfg, name="tiny-gemma3", layers=runner.layers)
        context = {
            "model": f"tiny-gemma3-seed{seed}",
            "window": p.window,
            "modulation": p.modulation,
            "bit_errors": p.bit_errors,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
        }
        quality = MeasuredQuality(runner.perplexity, MeasurementCache(path), context, layers=cfg.layers)
    runner.prepare()
    splits = tuple(s for s in p.splits if s <= cfg.layers)
    problem = SplitProblem(
        cfg,
        get_device(p.ue, "ue"),
        get_device(p.edge, "edge"),
        n_rb=p.n_rb,
        rate_down=p.rate_down,
        prompt=p.prompt,
        output=p.output,
        splits=splits,
        bits=tuple(p.bits),
        objective=p.objective,
        ppl_floor=p.ppl_floor,
    )
    return problem, quality, runner.ppl0


def mean_regret(
    problem: SplitProblem, found: Sequence[SplitBound], chosen: Sequence[Action]
) -> tuple[float, float]:
    """Mean regret [reward unit] and mean relative regret [1] over the held-out states."""
    reg = [regret(b, a) for b, a in zip(found, chosen, strict=True)]
    rel = [
        r / abs(b.reward) if b.reward else (0.0 if r == 0 else math.inf)
        for b, r in zip(found, reg, strict=True)
    ]
    return float(np.mean(reg)), float(np.mean(rel))


def split_cell(params: dict[str, Any], seed: int) -> xr.Dataset:
    """One study cell: 0-d variables are metrics, 1-d variables curves (see module docstring)."""
    try:
        p = SplitParams(**params)
    except ValidationError as err:  # first problem, one line
        raise validation_error(err) from None
    problem, quality, ppl0 = build(p, seed)
    train = draw_states(p.n_train, seed, p.sinr_db, p.erasure, 0)
    test = draw_states(p.n_test, seed, p.sinr_db, p.erasure, 1)
    cells = [(a[0], a[1], s) for s in test for a in problem.actions()]
    measure_grid(quality, cells, f"exhaustive bound: {len(cells)} evaluations", show=False)
    found = bounds(problem, test, quality, ppl0)
    exhaustive_evals = sum(1 for c in cells if c[0] < problem.layers)
    table = {(i, a): b.rewards[a] for i, b in enumerate(found) for a in problem.actions()}
    data: dict[str, Any] = {
        "ppl0": ppl0,
        "exhaustive_evaluations": exhaustive_evals,
        "optimum_reward": float(np.mean([b.reward for b in found])),
    }
    for name in p.policies:
        kwargs: dict[str, Any] = {}
        if name.startswith("mbrl"):
            kwargs["budget"] = p.budget
        if name == "mbrl-ppo":
            kwargs["timesteps"] = p.ppo_timesteps
        policy = get_split_policy(name, **kwargs)
        counted = Counted(quality, layers=problem.layers)
        if isinstance(policy, BestStatic):
            policy.fit_hindsight(problem, table)
        else:
            policy.fit(problem, train, counted, ppl0, seed)
        chosen = [policy.choose(s) for s in test]
        allowed = set(problem.actions())
        if not all(a in allowed for a in chosen):  # e.g. edge-only when split 0 is not allowed
            reg = rel = math.nan
        else:
            reg, rel = mean_regret(problem, found, chosen)
        data[f"regret[{name}]"] = reg
        data[f"relative_regret[{name}]"] = rel
        data[f"evaluations[{name}]"] = len(counted.asked)
    curve = []
    for budget in p.budgets:
        counted = Counted(quality, layers=problem.layers)
        sur, _ = train_surrogate(problem, train, counted, ppl0, budget, seed)
        acts = problem.actions()
        chosen = [acts[int(np.argmax(sur.rewards(s, acts)))] for s in test]
        curve.append(mean_regret(problem, found, chosen)[1])
    splits = sorted({a[0] for a in problem.actions()})
    ds = xr.Dataset({k: ((), v) for k, v in data.items()})
    ds["regret_vs_evaluations"] = (("budget",), np.asarray(curve))
    ds = ds.assign_coords(budget=np.asarray(p.budgets), split=np.asarray(splits))
    for b in p.bits:
        ppl = [np.mean([quality(s, 0 if s in (0, problem.layers) else b, t) for t in test]) for s in splits]
        delay = [np.mean([problem.cost((s, b), t).request for t in test]) for s in splits]
        ds[f"ppl_vs_split[{b}]"] = (("split",), np.asarray(ppl, dtype=float))
        ds[f"delay_vs_split[{b}]"] = (("split",), np.asarray(delay, dtype=float))
    ds.attrs.update({"kind": "split", "objective": p.objective, "window": p.window, "source": p.source})
    return ds


def split_panels(summary: Any, curves: Any) -> list[tuple[str, Any]]:
    """Report panels: perplexity vs split, delay vs split, regret vs real evaluations.

    ``summary`` has one row per cell (metric columns); ``curves`` has columns ``curve``, ``x``,
    ``y`` (and ``cell``), as the study runner writes them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = []
    groups = [
        ("perplexity vs split (mean over held-out channel states)", "ppl_vs_split", "perplexity", True),
        ("request delay vs split", "delay_vs_split", "request delay [s]", True),
        ("surrogate regret vs real evaluations", "regret_vs_evaluations", "relative regret", False),
    ]
    names = sorted(set(curves["curve"].to_list()))
    for title, prefix, ylabel, logy in groups:
        fig, ax = plt.subplots(figsize=(5, 3.4))
        for name in (n for n in names if n.startswith(prefix)):
            sub = curves.filter(curves["curve"] == name)
            ax.plot(sub["x"].to_numpy(), sub["y"].to_numpy(), marker="o", label=name[len(prefix) :] or name)
        ax.set_xlabel("split layer l" if "split" in prefix else "real perplexity evaluations")
        ax.set_ylabel(ylabel)
        if logy:
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.set_title(title, fontsize=9)
        fig.tight_layout()
        panels.append((title, fig))
    return panels


CURVES = ("ppl_vs_split", "delay_vs_split", "regret_vs_evaluations")
"""Prefixes of a split cell's curve variables (along ``split``, ``split`` and ``budget``)."""


def long_curves(curves: Any) -> Any:
    """The study runner's curves table (one column per curve, ``budget`` and ``split`` positions)
    in the long form of :func:`split_panels`: ``cell, case, seed, curve, x, y``."""
    import polars as pl

    parts = []
    for name in (c for c in curves.columns if c.startswith(CURVES)):
        dim = "budget" if name.startswith("regret_vs_evaluations") else "split"
        rows = curves.filter(pl.col(name).is_not_null())
        parts.append(rows.select(pl.col("cell_id").alias("cell"), pl.col("case_id").alias("case"), "seed",
                                 pl.lit(name).alias("curve"), pl.col(dim).cast(pl.Float64).alias("x"),
                                 pl.col(name).cast(pl.Float64).alias("y")))
    if not parts:
        return pl.DataFrame(schema={"cell": pl.Utf8, "case": pl.Utf8, "seed": pl.Int64, "curve": pl.Utf8,
                                    "x": pl.Float64, "y": pl.Float64})
    return pl.concat(parts)


def kind_panels(summary: Any, curves: Any) -> list[tuple[str, Any]]:
    """The report panels of a split study run by the study runner (:func:`split_panels`)."""
    return split_panels(summary, long_curves(curves))


SPLIT = register_kind(StudyKind(
    "split", SplitParams, split_cell, kind_panels, curve_dim=("budget", "split"),
    description="split inference UE/edge: exhaustive bound, policies' regret, MBRL regret vs evaluations"))
