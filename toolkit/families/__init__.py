"""Optional constraint families beyond the paper (off by default): one module each, one registry.

- **slo** (``hard``/``soft``, :mod:`~genoffload.families.slo`): task ``i`` should finish by
  ``deadline_i`` [s]; soft adds ``slo_weight * max(0, t_i - deadline_i)`` to the objective.
- **kv** (:mod:`~genoffload.families.kv`): edge KV-cache memory per cell,
  ``sum_{i at edge, text} n_i kv_bytes_per_token <= cap``.
- **concurrency** (:mod:`~genoffload.families.concurrency`): edge TPOT grows with the number
  ``m_j`` of tasks at the edge of cell ``j``: ``TPOT_edge * (1 + slope (m_j - 1))``.
- **backhaul** (:mod:`~genoffload.families.backhaul`): offloaded content per cell,
  ``sum_{i offloaded} content_bits_i <= cap``.
- **min_rate** (:mod:`~genoffload.families.min_rate`): ``C_k >= min_rate_bps`` for every user
  with tasks.

Each module holds one :class:`Family`: its settings and defaults, the evaluator's check, its
per-cell cost and usage, its quick infeasibility check, how it couples a cell's tasks, its
study preset and the name of its MILP ``define_*`` (in :mod:`genoffload.models.families`).
``docs/model.md`` has the mathematics.
"""

from genoffload.families.base import Cell, CellCosts, EvalContext, Family, Settings, Verdict
from genoffload.families.registry import (
    Families,
    families_from_config,
    get_family,
    register_family,
    registered,
    unregister_family,
)

__all__ = ["Cell", "CellCosts", "EvalContext", "Families", "Family", "Settings", "Verdict",
           "families_from_config", "get_family", "register_family", "registered",
           "unregister_family"]
