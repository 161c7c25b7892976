"""Provider-independent candidate scoring (paper eqs. 5-6).

An ICL policy asks the model which of a few candidate continuations ``y`` (e.g. the labels
``" local"`` and ``" offload"``) is most likely after a prompt ``x`` and picks
``argmax_y Pr(y | x)``. Models that can compute ``log Pr(y | x)`` exactly implement
:class:`CandidateScorer`; any other LangChain chat model is driven by parsed free text.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CandidateScorer(Protocol):
    """A model that scores candidate continuations of a prompt."""

    def score_candidates(self, prompt_text: str, candidates: Sequence[str]) -> list[float]:
        """Total log-probability of each candidate given the prompt.

        Parameters
        ----------
        prompt_text : str
            The prompt ``x`` as raw text (any chat template already applied).
        candidates : Sequence[str]
            The continuations ``y``, each scored as the text that directly follows the
            prompt (include a leading space when the label follows a word, e.g. ``" local"``).

        Returns
        -------
        list[float]
            ``log Pr(y | x)`` [nats] for each candidate, same order, each ``<= 0``.
        """
        ...


def as_scorer(model: Any) -> CandidateScorer | None:
    """Return the object that scores candidates for ``model``, or ``None``.

    Looks through LangChain runnable wrappers made by ``model.bind(...)`` (their ``bound``
    attribute) so that binding options does not silently switch off exact scoring.

    Parameters
    ----------
    model : Any
        Usually a ``langchain_core`` ``BaseChatModel``.

    Returns
    -------
    CandidateScorer or None
        ``model`` itself (or the model it wraps) if it has a callable ``score_candidates``.
    """
    seen = 0
    current = model
    while current is not None and seen < 8:
        if callable(getattr(current, "score_candidates", None)):
            return current  # type: ignore[no-any-return]
        current = getattr(current, "bound", None)
        seen += 1
    return None


def supports_scoring(model: Any) -> bool:
    """Whether ``model`` can score candidates exactly (see :func:`as_scorer`).

    Parameters
    ----------
    model : Any
        Usually a ``langchain_core`` ``BaseChatModel``.

    Returns
    -------
    bool
        ``True`` for the embedded llama.cpp model; ``False`` for generic chat models, for
        which a policy falls back to constrained or parsed free text.
    """
    return as_scorer(model) is not None


def candidate_probabilities(logprobs: Sequence[float]) -> list[float]:
    """Normalise candidate log-probabilities into a distribution over the candidates.

    Parameters
    ----------
    logprobs : Sequence[float]
        ``log Pr(y | x)`` [nats] per candidate, as from ``score_candidates``.

    Returns
    -------
    list[float]
        ``Pr(y | x, y in candidates)`` [-] per candidate (a softmax), summing to 1.

    Raises
    ------
    ValueError
        If ``logprobs`` is empty or contains NaN.
    """
    if len(logprobs) == 0:
        raise ValueError("logprobs: empty (need at least one candidate score)")
    if any(math.isnan(v) for v in logprobs):
        raise ValueError(f"logprobs: NaN in candidate scores (got {list(logprobs)!r})")
    top = max(logprobs)
    if top == -math.inf:
        return [1.0 / len(logprobs)] * len(logprobs)
    weights = [math.exp(v - top) for v in logprobs]
    total = sum(weights)
    return [w / total for w in weights]


def pick_candidate(logprobs: Sequence[float]) -> int:
    """Index of the most likely candidate (eq. 6: ``argmax_y Pr(y | x)``).

    Ties go to the lowest index, so the candidate order is the tie-break rule.

    Parameters
    ----------
    logprobs : Sequence[float]
        ``log Pr(y | x)`` [nats] per candidate.

    Returns
    -------
    int
        Index into the candidate list.
    """
    candidate_probabilities(logprobs)  # validates: non-empty, no NaN
    return max(range(len(logprobs)), key=lambda i: (logprobs[i], -i))
