"""Offloading policies: the heuristics (:mod:`~genoffload.policies.heuristics`) and the ICL policy
(:mod:`~genoffload.policies.icl`); their interface and the registry are in :mod:`genoffload.policy`."""

from genoffload.policies import heuristics as heuristics

__all__ = ["heuristics"]
