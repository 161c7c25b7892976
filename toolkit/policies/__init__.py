"""Offloading policies behind one interface (:class:`Policy`), found by name in ``POLICIES``."""

from genoffload.policies import exact as exact
from genoffload.policies import heuristics as heuristics
from genoffload.policies.base import POLICIES, Plan, Policy, get_policy, register

__all__ = ["POLICIES", "Plan", "Policy", "exact", "get_policy", "heuristics", "register"]
