"""In-context-learning offloading policy (paper Sec. III): prompt, replay, exploration, LLM.

``ICLPolicy(model, ICLSettings(...))`` is an online policy for
:func:`genoffload.episode.run_episode`; ``genoffload icl run`` drives it from the command line.
"""

from genoffload.exploration import EpsilonSchedule, exploration_draws, parse_epsilon
from genoffload.policies.icl.experience import (
    Experience,
    LatestReplay,
    PrioritizedReplay,
    make_pool,
    size_bucket,
    step_keywords,
)
from genoffload.policies.icl.policy import ICLPolicy
from genoffload.policies.icl.prompt import (
    CHAT_TEMPLATE,
    PAPER_LABELS,
    LabelParser,
    Labels,
    Prompt,
    PromptBuilder,
    task_description,
)
from genoffload.policies.icl.settings import DEFAULT_EPSILON, ICLSettings

__all__ = [
    "CHAT_TEMPLATE",
    "DEFAULT_EPSILON",
    "PAPER_LABELS",
    "EpsilonSchedule",
    "Experience",
    "ICLPolicy",
    "ICLSettings",
    "LabelParser",
    "Labels",
    "LatestReplay",
    "PrioritizedReplay",
    "Prompt",
    "PromptBuilder",
    "exploration_draws",
    "make_pool",
    "parse_epsilon",
    "size_bucket",
    "step_keywords",
    "task_description",
]
