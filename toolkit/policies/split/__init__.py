"""Split-inference policies (issue 15): baselines, the surrogate MBRL policies, PPO on the surrogate.

Importing this package registers every policy in :data:`SPLIT_POLICIES`; ``mbrl-ppo`` imports
stable-baselines3 only when fitted.
"""

from genoffload.policies.split import mbrl as mbrl
from genoffload.policies.split import ppo as ppo
from genoffload.policies.split.baselines import SPLIT_POLICIES, SplitPolicy, get_split_policy

__all__ = ["SPLIT_POLICIES", "SplitPolicy", "get_split_policy", "mbrl", "ppo"]
