"""The one place that reaches into Pyomo's persistent HiGHS interface beyond its public API.

Why private attributes: ``pyomo.contrib.solver.solvers.highs.Highs`` exposes no public way to
hand HiGHS a (partial) starting solution, to subscribe HiGHS callbacks, to read the columns
HiGHS gave to Pyomo's variables, or to count the rows HiGHS really holds. The outer
approximation of :mod:`genoffload.models.solve` needs all four: the warm start
(``setSolution``), the improving-solution and interrupt callbacks, the decoding of HiGHS's
column vector inside a callback, and the check that HiGHS did not refuse rows (Pyomo ignores
the status of ``addRows``). Every such access is a function here, so that a Pyomo release that
renames ``_solver_model``, ``_pyomo_var_to_solver_var_map`` or
``_pyomo_con_to_solver_con_map`` breaks this module only.

The logging filter for HiGHS's ``kInterrupt`` warning is installed for the duration of a solve
(:func:`own_interrupts_quiet`), never on import.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import pyomo.environ as pyo
from pyomo.contrib.solver.solvers.highs import Highs

HIGHS_LOGGER = "pyomo.contrib.solver.solvers.highs"
"""Logger of Pyomo's HiGHS interface (it warns when HiGHS ends with ``kInterrupt``)."""

_AUTO_UPDATES = ("check_for_new_or_removed_constraints", "check_for_new_or_removed_vars",
                 "check_for_new_or_removed_params", "check_for_new_objective",
                 "update_constraints", "update_vars", "update_parameters",
                 "update_named_expressions", "update_objective")


def persistent(model: pyo.ConcreteModel) -> Highs:
    """A persistent HiGHS instance holding ``model``, automatic update checks off (new rows
    are passed explicitly with ``add_constraints``)."""
    opt = Highs()
    for key in _AUTO_UPDATES:
        setattr(opt.config.auto_updates, key, False)
    opt.set_instance(model)
    return opt


def rows_refused(opt: Highs) -> int:
    """Rows Pyomo passed that HiGHS did not take (``addRows`` refuses a whole batch with a
    coefficient beyond ``large_matrix_value``; Pyomo ignores its return status)."""
    return len(opt._pyomo_con_to_solver_con_map) - opt._solver_model.getNumRow()


def columns(opt: Highs, variables: Sequence[Any]) -> np.ndarray:
    """HiGHS column of each Pyomo variable (-1: not a column, e.g. a fixed variable)."""
    colmap = opt._pyomo_var_to_solver_var_map
    return np.array([colmap.get(id(v), -1) for v in variables], dtype=np.int64)


def set_solution(opt: Highs, cols: np.ndarray, values: np.ndarray) -> None:
    """Hand HiGHS the ``values`` of the columns ``cols`` as a starting solution (HiGHS
    completes the other columns)."""
    idx = cols.astype(np.int32)
    opt._solver_model.setSolution(len(idx), idx, values)


def column_values(opt: Highs) -> np.ndarray:
    """HiGHS's current primal column vector."""
    return np.asarray(opt._solver_model.getSolution().col_value)


@contextmanager
def callbacks(opt: Highs, on_solution: Callable[[Any], None],
              on_interrupt: Callable[[Any], None]) -> Iterator[None]:
    """Subscribe HiGHS's improving-MIP-solution and MIP-interrupt callbacks for the block."""
    h = opt._solver_model
    h.cbMipImprovingSolution.subscribe(on_solution)
    h.cbMipInterrupt.subscribe(on_interrupt)
    try:
        yield
    finally:
        h.cbMipImprovingSolution.unsubscribe(on_solution)
        h.cbMipInterrupt.unsubscribe(on_interrupt)


class _OwnInterrupt(logging.Filter):
    """Drop Pyomo's warning about HiGHS's ``kInterrupt`` status: the solver loop interrupts
    HiGHS itself once the gap is certified."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "kInterrupt" not in record.getMessage()


@contextmanager
def own_interrupts_quiet() -> Iterator[None]:
    """Filter Pyomo's ``kInterrupt`` warning for the block (a solve), then remove the filter."""
    log, flt = logging.getLogger(HIGHS_LOGGER), _OwnInterrupt()
    log.addFilter(flt)
    try:
        yield
    finally:
        log.removeFilter(flt)


__all__ = ["HIGHS_LOGGER", "Highs", "callbacks", "column_values", "columns",
           "own_interrupts_quiet", "persistent", "rows_refused", "set_solution"]
