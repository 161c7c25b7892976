"""LLM layer of the ICL offloading policy: model specs, the embedded model, scoring.

``scoring`` and ``embedded`` names (``ChatLlamaCppEmbedded``, ``load_llama``, ...) are imported
on first access, so ``import genoffload.llm`` (the CLI imports it at start-up) needs neither
NumPy nor llama.cpp nor the GGUF package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from genoffload.llm.deps import MissingDependencyError
from genoffload.llm.models import chat_model, loaded_models
from genoffload.llm.spec import DEFAULT_SPEC, LLMSpec, build_chat_model, parse_llm_spec

if TYPE_CHECKING:
    from genoffload.llm.embedded import (
        ChatLlamaCppEmbedded,
        create_llama,
        default_n_threads,
        embedded_model_path,
        load_llama,
    )
    from genoffload.llm.scoring import (
        CandidateScorer,
        ScoringResult,
        as_scorer,
        candidate_probabilities,
        pick_candidate,
        score_continuations,
        supports_scoring,
    )

_LAZY = {
    **dict.fromkeys(("ChatLlamaCppEmbedded", "create_llama", "default_n_threads",
                     "embedded_model_path", "load_llama"), "genoffload.llm.embedded"),
    **dict.fromkeys(("CandidateScorer", "ScoringResult", "as_scorer", "candidate_probabilities",
                     "pick_candidate", "score_continuations", "supports_scoring"),
                    "genoffload.llm.scoring"),
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
    "chat_model",
    "create_llama",
    "default_n_threads",
    "embedded_model_path",
    "load_llama",
    "loaded_models",
    "parse_llm_spec",
    "pick_candidate",
    "score_continuations",
    "supports_scoring",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'genoffload.llm' has no attribute {name!r}")
