"""genoffload: joint RB allocation and LLM task offloading at the 6G edge and cloud."""

__version__ = "0.1.0"
