"""The observation of the RL agents: the paper's state, eq. (8), as discrete components.

Components, in this order (``MultiDiscrete`` observation, one integer per component):

``service``
    Index of the task's service type in the catalog's service table (the shipped
    ``services.csv``: chat, translation, summarization, science, coding, math, image, audio,
    video; plus any ``catalog_services`` of the scenario config), in table order.
``size``
    Bucket of the estimated output size [token or item] divided by the reference size of the
    task's modality (text 1,000 tokens = the paper's mean, image 1 image, audio 30 s, video
    5 s). Default edges ``(0.25, 0.75, 1.25, 2.5)``: bucket 0 ``< 0.25`` (tiny, text
    < 250 tokens), 1 ``< 0.75`` (short), 2 ``< 1.25`` (medium), 3 ``< 2.5`` (long), 4 otherwise
    (huge) — the same buckets as the ICL keywords (``genoffload.policies.icl.experience``), so
    both learners see the same state.
``link`` (optional)
    Bucket of the link capacity of the task's user under the step's RB allocation [Mbit/s];
    default edges ``(50, 150)``: weak, fair, strong (ICL's ``link`` keyword).
``load`` (optional)
    Bucket of the number of tasks of the step in the task's cell; default edges ``(2, 4)``:
    idle (1), busy (2-3), crowded (>= 4) (ICL's ``load`` keyword).

An edge is an exclusive upper bound: a value equal to an edge falls in the next bucket.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import xarray as xr

from genoffload import delay
from genoffload.catalog import load_catalog
from genoffload.errors import InputError
from genoffload.families import families_from_config
from genoffload.scenario import ScenarioConfig

SIZE_EDGES: tuple[float, ...] = (0.25, 0.75, 1.25, 2.5)
"""Default size-bucket edges [1], relative to the modality's reference size."""
LINK_EDGES_MBPS: tuple[float, ...] = (50.0, 150.0)
"""Default link-bucket edges [Mbit/s]."""
LOAD_EDGES: tuple[float, ...] = (2.0, 4.0)
"""Default load-bucket edges [tasks of the step in the cell]."""
REFERENCE_UNITS: dict[str, float] = {"text": 1000.0, "image": 1.0, "audio": 30.0, "video": 5.0}
"""Reference output size per modality [token or item]: the catalog's mean sizes."""
EXTRAS = ("link", "load")


def check_edges(name: str, edges: Sequence[float]) -> tuple[float, ...]:
    """Validate bucket edges: finite, > 0, strictly increasing, at least one."""
    values = tuple(float(e) for e in edges)
    if not values:
        raise InputError(name, list(edges), "needs at least one edge")
    if any(not math.isfinite(v) or v <= 0 for v in values):
        raise InputError(name, list(edges), "edges must be finite numbers > 0")
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise InputError(name, list(edges), "edges must be strictly increasing")
    return values


def check_extras(extras: Sequence[str]) -> tuple[str, ...]:
    """Validate optional component names (``link``, ``load``); keeps the canonical order."""
    bad = [e for e in extras if e not in EXTRAS]
    if bad:
        raise InputError("observe", bad[0], f"unknown observation component (known: {', '.join(EXTRAS)})")
    return tuple(e for e in EXTRAS if e in extras)


def auto_extras(cfg: ScenarioConfig) -> tuple[str, ...]:
    """The optional components a scenario makes relevant to the decision.

    ``link`` when the radio delay can change which side is better: streamed delivery (the
    delay is a maximum of radio and generation) or a latency SLO. ``load`` when the edge is
    shared: edge TPOT slowdown with concurrency, an edge KV-cache budget, or a backhaul
    capacity. Under the paper's store-and-forward model without families neither matters:
    the radio delay is the same for both decisions. Each family says how it couples
    (:attr:`genoffload.families.Family.couples`).
    """
    fam = families_from_config(cfg)
    out = []
    if cfg.delivery == "streamed" or fam.couples("link"):
        out.append("link")
    if fam.couples("load"):
        out.append("load")
    return tuple(out)


@dataclass(frozen=True)
class ObservationSpec:
    """What an agent observes; fixes the observation space (saved with every agent).

    Attributes
    ----------
    services : tuple of str
        Service types, in catalog order (``service`` component).
    modalities : tuple of str
        Modality of each service (for the size reference).
    size_edges : tuple of float
        Size-bucket edges [1], relative to ``REFERENCE_UNITS`` of the modality.
    extras : tuple of str
        Optional components, a subset of ``("link", "load")`` in that order.
    link_edges_mbps : tuple of float
        Link-bucket edges [Mbit/s].
    load_edges : tuple of float
        Load-bucket edges [tasks].
    """

    services: tuple[str, ...]
    modalities: tuple[str, ...]
    size_edges: tuple[float, ...] = SIZE_EDGES
    extras: tuple[str, ...] = ()
    link_edges_mbps: tuple[float, ...] = LINK_EDGES_MBPS
    load_edges: tuple[float, ...] = LOAD_EDGES

    @classmethod
    def for_config(cls, cfg: ScenarioConfig, extras: Sequence[str] | str = "auto",
                   size_edges: Sequence[float] = SIZE_EDGES,
                   link_edges_mbps: Sequence[float] = LINK_EDGES_MBPS,
                   load_edges: Sequence[float] = LOAD_EDGES) -> ObservationSpec:
        """The observation of a scenario config: its catalog's services and the given buckets."""
        catalog = load_catalog(cfg.catalog_models, cfg.catalog_services)
        chosen = auto_extras(cfg) if extras == "auto" else check_extras(list(extras))
        return cls(tuple(catalog.services["name"].to_list()),
                   tuple(catalog.services["modality"].to_list()),
                   check_edges("size_edges", size_edges), chosen,
                   check_edges("link_edges_mbps", link_edges_mbps),
                   check_edges("load_edges", load_edges))

    @property
    def names(self) -> tuple[str, ...]:
        """Component names, in observation order."""
        return ("service", "size", *self.extras)

    @property
    def nvec(self) -> tuple[int, ...]:
        """Number of values of each component (the ``MultiDiscrete`` vector)."""
        sizes = {"link": len(self.link_edges_mbps) + 1, "load": len(self.load_edges) + 1}
        return (len(self.services), len(self.size_edges) + 1, *(sizes[e] for e in self.extras))

    @property
    def n_states(self) -> int:
        """Number of distinct observations (rows of a Q table)."""
        return int(np.prod(self.nvec))

    def describe(self) -> str:
        """Short text form, e.g. ``service(9) x size(5)``."""
        return " x ".join(f"{n}({k})" for n, k in zip(self.names, self.nvec, strict=True))

    def encode(self, scenario: xr.Dataset, z: np.ndarray, est_units: np.ndarray) -> np.ndarray:
        """Observation of every task of a step.

        Parameters
        ----------
        scenario : xarray.Dataset
            The step's scenario.
        z : ndarray of bool, shape (user, rb)
            The step's RB allocation (for ``link``).
        est_units : ndarray, shape (task,)
            Estimated output size of each task [token or item].

        Returns
        -------
        ndarray of int64, shape (task, len(nvec))
        """
        services = scenario["service"].values.astype(str)
        index = {s: i for i, s in enumerate(self.services)}
        unknown = [s for s in services if s not in index]
        if unknown:
            raise InputError("scenario.service", unknown[0],
                             f"not in the agent's observation space (known: {', '.join(self.services)})")
        svc = np.array([index[s] for s in services], dtype=np.int64)
        modality = np.asarray(self.modalities)[svc] if svc.size else np.zeros(0, dtype=str)
        ref = np.array([REFERENCE_UNITS.get(m, REFERENCE_UNITS["text"]) for m in modality])
        cols = [svc, np.searchsorted(self.size_edges, np.asarray(est_units, float) / ref, side="right")]
        owner = scenario["task_user"].values
        if "link" in self.extras:
            cap = delay.link_capacity(scenario["rate"].values, z)[owner] / 1e6
            cols.append(np.searchsorted(self.link_edges_mbps, cap, side="right"))
        if "load" in self.extras:
            cells = scenario["user_cell"].values[owner]
            counts = np.bincount(cells, minlength=1)[cells] if cells.size else cells
            cols.append(np.searchsorted(self.load_edges, counts, side="right"))
        return np.stack(cols, axis=1).astype(np.int64) if svc.size else np.zeros((0, len(self.nvec)),
                                                                                  dtype=np.int64)

    def state_index(self, obs: np.ndarray) -> np.ndarray:
        """Flat state index of each observation row (row-major over ``nvec``)."""
        obs = np.atleast_2d(np.asarray(obs, dtype=np.int64))
        if obs.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        return np.ravel_multi_index(tuple(obs.T), self.nvec).astype(np.int64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (stored in agent files)."""
        return {k: list(v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ObservationSpec:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: tuple(v) for k, v in data.items()})

    def check_matches(self, needed: ObservationSpec, where: str) -> None:
        """Raise :class:`InputError` naming ``where`` unless ``needed`` is this same space."""
        if self != needed:
            raise InputError("agent", where, f"trained for observation space {self.describe()}, the "
                             f"scenario needs {needed.describe()}{_difference(self, needed)}")


def _difference(a: ObservationSpec, b: ObservationSpec) -> str:
    if a.services != b.services:
        parts = [f"{who}: {', '.join(names)}" for who, names in (
            ("services only in the scenario", [x for x in b.services if x not in a.services]),
            ("services only in the agent", [x for x in a.services if x not in b.services])) if names]
        return f" ({'; '.join(parts) or 'services in another order'})"
    for name in ("modalities", "extras", "size_edges", "link_edges_mbps", "load_edges"):
        if getattr(a, name) != getattr(b, name):
            return f" ({name}: agent {list(getattr(a, name))}, scenario {list(getattr(b, name))})"
    return ""
