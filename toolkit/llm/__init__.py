"""LLM layer of the ICL offloading policy: model specs, the embedded model, scoring.

``embedded`` names (``ChatLlamaCppEmbedded``, ``load_llama``, ...) are imported on first
access, so ``import genoffload.llm`` needs neither llama.cpp nor the GGUF package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from genoffload.llm.scoring import (
    CandidateScorer,
    ScoringResult,
    as_scorer,
    candidate_probabilities,
    pick_candidate,
    score_continuations,
    supports_scoring,
)
from genoffload.llm.spec import (
    DEFAULT_SPEC,
    LLMSpec,
    MissingDependencyError,
    build_chat_model,
    parse_llm_spec,
)

if TYPE_CHECKING:
    from genoffload.llm.embedded import (
        ChatLlamaCppEmbedded,
        create_llama,
        default_n_threads,
        embedded_model_path,
        load_llama,
    )

_LAZY = {
    "ChatLlamaCppEmbedded",
    "create_llama",
    "default_n_threads",
    "embedded_model_path",
    "load_llama",
}

__all__ = [
    "DEFAULT_SPEC",
    "CandidateScorer",
    "ChatLlamaCppEmbedded",
    "LLMSpec",
    "MissingDependencyError",
    "ScoringResult",
    "as_scorer",
    "build_chat_model",
    "candidate_probabilities",
    "create_llama",
    "default_n_threads",
    "embedded_model_path",
    "load_llama",
    "parse_llm_spec",
    "pick_candidate",
    "score_continuations",
    "supports_scoring",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module("genoffload.llm.embedded"), name)
    raise AttributeError(f"module 'genoffload.llm' has no attribute {name!r}")
