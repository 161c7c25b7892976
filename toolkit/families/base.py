"""What a constraint family is: :class:`Family`, and the shapes its functions work on.

A family is a plain :class:`Family` value holding functions; the built-in ones are defined in
the modules of this package (one per family) and listed by :mod:`genoffload.families.registry`.
The functions see the family settings through :class:`Settings` (a
:class:`genoffload.families.Families`), the evaluator's numbers through :class:`EvalContext`
(SI units) and one cell of the solver through :class:`Cell` (scaled units: time [ms], rate
[Mbit/s], content [Mbit], KV memory [GB]; :class:`genoffload.models.data.CellData`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
import xarray as xr
from numpy.typing import NDArray

FArr = NDArray[np.float64]
BArr = NDArray[np.bool_]
IArr = NDArray[np.int_]


class Settings(Protocol):
    """Family settings read by name, e.g. ``fam.slo`` (:class:`genoffload.families.Families`)."""

    def __getattr__(self, name: str) -> Any: ...


class Cell(Protocol):
    """One cell of the solver in scaled units (what :class:`~genoffload.models.data.CellData`
    offers to the family functions)."""

    @property
    def cell(self) -> int: ...
    @property
    def users(self) -> IArr: ...
    @property
    def tasks(self) -> IArr: ...
    @property
    def rate(self) -> FArr: ...
    @property
    def owner(self) -> IArr: ...
    @property
    def bits(self) -> FArr: ...
    @property
    def g_edge(self) -> FArr: ...
    @property
    def g_cloud(self) -> FArr: ...
    @property
    def allow_edge(self) -> BArr: ...
    @property
    def allow_cloud(self) -> BArr: ...
    @property
    def deadline(self) -> FArr: ...
    @property
    def kv(self) -> FArr: ...
    @property
    def streamed(self) -> bool: ...
    @property
    def fam(self) -> Settings: ...
    @property
    def n_user(self) -> int: ...
    @property
    def n_task(self) -> int: ...
    @property
    def demand(self) -> FArr: ...


@dataclass(frozen=True)
class EvalContext:
    """The evaluator's numbers a family checks (:func:`genoffload.evaluate.evaluate_arrays`).

    Attributes
    ----------
    scenario : xarray.Dataset
    fam : Settings
    alpha : ndarray of bool, shape (task,)
    t_total : ndarray, shape (task,)
        Service delay of eq. (4) [s].
    capacity : ndarray, shape (user,)
        Link capacity ``C_k`` of eq. (2) [bit/s].
    owner : ndarray of int, shape (task,)
        User of each task.
    cell : ndarray of int, shape (task,)
        Cell of each task.
    """

    scenario: xr.Dataset
    fam: Settings
    alpha: BArr
    t_total: FArr
    capacity: FArr
    owner: IArr
    cell: IArr


@dataclass(frozen=True)
class Verdict:
    """What a family says about one evaluation (``None``: nothing).

    Attributes
    ----------
    ok : ndarray of bool, shape (task,), optional
        Tasks whose hard constraint of this family holds.
    penalty : ndarray, shape (task,), optional
        Soft cost added to the objective and taken from the reward [s].
    excess : ndarray, shape (task,), optional
        Lateness beyond the deadline [s] (the evaluator's ``slo_excess``).
    """

    ok: BArr | None = None
    penalty: FArr | None = None
    excess: FArr | None = None


@dataclass(frozen=True)
class CellCosts:
    """Task costs of one cell in the local search (:func:`genoffload.models.data.task_costs`).

    Attributes
    ----------
    total, radio : ndarray
        Objective and radio part of the tasks [ms], shape ``(len(sel), ...)``.
    cap : ndarray
        Capacity of each task's user [Mbit/s], same shape.
    sel : ndarray of int
        Local tasks the rows stand for.
    """

    total: FArr
    radio: FArr
    cap: FArr
    sel: IArr

    def per_task(self, values: FArr) -> FArr:
        """``values[sel]`` shaped to broadcast against :attr:`total`."""
        return values[self.sel].reshape(-1, *(1,) * (self.total.ndim - 1))


def _always_ok(_ctx: EvalContext) -> Verdict:
    return Verdict()


@dataclass(frozen=True)
class Family:
    """One optional constraint family: its settings and the functions every layer calls.

    Attributes
    ----------
    name : str
        Name in :attr:`Families.active <genoffload.families.Families.active>`, in the study
        file's ``families`` and in ``summary.parquet``.
    settings : mapping of str to value
        Scenario attributes (SI units) and their defaults; the defaults switch the family off.
    is_active : callable ``(Settings) -> bool``
        Whether the settings switch the family on.
    from_config : callable ``(ScenarioConfig) -> dict``
        Its settings [SI] from a scenario config (the default reads ``config.family_settings``).
    preset : mapping of str to value
        The config keys a study switches on with the family's name (a key set in the case wins).
    check : callable ``(EvalContext) -> Verdict``
        The evaluator's check (:func:`genoffload.evaluate.evaluate_arrays`).
    milp : str or None
        Name of its ``define_*`` in :mod:`genoffload.models.families` (None: built into the
        core model, e.g. concurrency in ``define_generation``).
    couples : {"link", "load", None}
        How it couples the decision ``alpha`` beyond the per-task closed form: ``link`` (a task's
        side depends on its radio link), ``load`` (a cell's tasks share a resource), None.
    edge_tpot_factor : callable ``(Dataset, Settings, alpha) -> ndarray``, optional
        Multiplier of every task's edge TPOT [1].
    cell_costs : callable ``(Cell, CellCosts) -> (total, radio)``, optional
        Its effect on the per-task costs of the local search [ms] (``inf``: infeasible).
    cell_ok : callable ``(Cell, alpha) -> bool``, optional
        Whether ``alpha`` meets it in a cell (families that do not depend on the radio).
    quick_check : callable ``(Cell) -> str or None``, optional
        Why the family alone is clearly infeasible in a cell, with every RB (None: no reason).
    label : str
        Family named in infeasibility messages (default ``name``).
    can_be_infeasible : bool
        False for families that only add cost (soft SLO).
    aliases : tuple of str
        Other names a study file may use.
    """

    name: str
    settings: Mapping[str, Any]
    is_active: Callable[[Settings], bool]
    from_config: Callable[[Any], dict[str, Any]] | None = None
    preset: Mapping[str, Any] = field(default_factory=dict)
    check: Callable[[EvalContext], Verdict] = _always_ok
    milp: str | None = None
    couples: Literal["link", "load"] | None = None
    edge_tpot_factor: Callable[[xr.Dataset, Settings, BArr], FArr] | None = None
    cell_costs: Callable[[Cell, CellCosts], tuple[FArr, FArr]] | None = None
    cell_ok: Callable[[Cell, BArr], bool] | None = None
    quick_check: Callable[[Cell], str | None] | None = None
    label: str = ""
    can_be_infeasible: bool = True
    aliases: tuple[str, ...] = ()

    @property
    def error_name(self) -> str:
        """The family named in :class:`~genoffload.models.diagnose.InfeasibleError`."""
        return self.label or self.name

    def settings_from_config(self, cfg: Any) -> dict[str, Any]:
        """Its settings [SI] from a :class:`~genoffload.scenario.ScenarioConfig`."""
        if self.from_config is not None:
            return self.from_config(cfg)
        given = getattr(cfg, "family_settings", {}) or {}
        return {k: type(v)(given[k]) if k in given else v for k, v in self.settings.items()}
