"""Provider-independent candidate scoring (paper eqs. 5-6).

An ICL policy asks the model which of a few candidate continuations ``y`` (e.g. the labels
``" local"`` and ``" offload"``) is most likely after a prompt ``x`` and picks
``argmax_y Pr(y | x)``. Models that can compute ``log Pr(y | x)`` exactly implement
:class:`CandidateScorer`; any other LangChain chat model is driven by parsed free text.
:func:`score_continuations` is the exact, cache-reusing implementation on a llama.cpp
context (it takes a ``llama_cpp.Llama`` but does not import llama.cpp).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from llama_cpp import Llama


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
            return current
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


# --- Exact scoring on a llama.cpp context (used by the embedded model) ---------------------

MIN_DECODE_BATCH = 8
"""Smallest decode batch [tokens]. On the CPU, llama.cpp rounds differently for batches of
1-7 tokens than for larger ones (up to 0.4 nats on Gemma 3 270M); batches of >= 8 give
bit-identical results however a sequence is split, so scores never depend on the cache."""
CANONICAL_ATTR = "_genoffload_canonical_tokens"
"""Attribute of a ``Llama``: how many leading cached tokens were decoded by
:func:`score_continuations` (batches >= ``MIN_DECODE_BATCH``) and may be reused by it.
Anything else that decodes on the context (chat generation) must lower it."""


@dataclass(frozen=True)
class ScoringResult:
    """Outcome of :func:`score_continuations`.

    Attributes
    ----------
    logprobs : list[float]
        ``log Pr(y | x)`` [nats] per candidate.
    n_prompt : int
        Prompt length, BOS included [tokens].
    n_reused : int
        Prompt tokens whose KV cache was kept from the previous call [tokens].
    n_evaluated : int
        Tokens decoded in this call: prompt tail, candidate tokens, re-decoded context
        [tokens].
    """

    logprobs: list[float]
    n_prompt: int
    n_reused: int
    n_evaluated: int


def _log_softmax_at(logits_ptr: Any, n_vocab: int, token_ids: Sequence[int]) -> list[float]:
    """Log-softmax of one row of llama.cpp logits, read at ``token_ids`` [nats]."""
    row = np.ctypeslib.as_array(logits_ptr, shape=(n_vocab,)).astype(np.float64)
    top = row.max()
    lse = top + np.log(np.exp(row - top).sum())
    return [float(row[t] - lse) for t in token_ids]


def common_prefix(cached: np.ndarray, tokens: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences [tokens]."""
    n = min(len(cached), len(tokens))
    diff = np.flatnonzero(cached[:n] != np.asarray(tokens[:n], dtype=cached.dtype))
    return int(diff[0]) if diff.size else n


def _decode_rows(
    llama: Llama, tokens: Sequence[int], n_past: int, rows: dict[int, list[int]]
) -> dict[int, list[float]]:
    """Decode ``tokens`` at positions ``n_past, n_past + 1, ...`` in near-equal chunks.

    Logits are computed only at the indices in ``rows``; returns, per such index ``i``, the
    log-probabilities [nats] of the token ids ``rows[i]`` as the token after ``tokens[i]``.
    """
    ctx, batch, n_vocab = llama._ctx, llama._batch, llama.n_vocab()
    n_chunks = -(-len(tokens) // llama.n_batch)
    bounds = [len(tokens) * k // n_chunks for k in range(n_chunks + 1)]
    out: dict[int, list[float]] = {}
    for start, stop in pairwise(bounds):
        chunk = list(tokens[start:stop])
        batch.set_batch(batch=chunk, n_past=n_past + start, logits_all=False)
        for i in range(len(chunk)):
            batch.batch.logits[i] = (start + i) in rows
        ctx.decode(batch)
        for i in range(len(chunk)):
            if start + i in rows:
                out[start + i] = _log_softmax_at(ctx.get_logits_ith(i), n_vocab, rows[start + i])
    return out


def score_continuations(
    llama: Llama, prompt_tokens: Sequence[int], candidate_tokens: Sequence[Sequence[int]]
) -> ScoringResult:
    """``log Pr(y | x)`` [nats] of token continuations ``y`` after a token prompt ``x``.

    The prompt reuses the KV cache of the longest prefix it shares with what the context
    held (the previous prompt or a chat call), except its last ``MIN_DECODE_BATCH`` tokens,
    which are decoded again together with the rest. Logits are computed only where needed:
    the prompt's last position scores every candidate's first token, and the first
    multi-token candidate rides along in the same batch. Any further multi-token candidate
    is decoded with the prompt's last few tokens re-decoded before it (a batch of at least
    ``MIN_DECODE_BATCH``). Candidate tokens are dropped from the KV cache afterwards. Every
    row of logits costs a pass through Gemma's 262k-token output layer (~11 ms on 2 cores),
    so single-token labels are cheapest. Not thread-safe: hold the model's lock.

    Parameters
    ----------
    llama : llama_cpp.Llama
        Created with ``logits_all=False``; its ``input_ids``/``n_tokens`` describe its KV
        cache (kept so for ``Llama.generate``).
    prompt_tokens : Sequence[int]
        The prompt, BOS included.
    candidate_tokens : Sequence[Sequence[int]]
        Each candidate's tokens, each non-empty.

    Returns
    -------
    ScoringResult
        Log-probabilities and cache statistics.
    """
    n_prompt = len(prompt_tokens)
    longest = max((len(c) for c in candidate_tokens), default=0)
    if n_prompt == 0 or any(len(c) == 0 for c in candidate_tokens) or longest == 0:
        raise ValueError("llm: prompt and every candidate need at least one token")
    if n_prompt + longest > llama.n_ctx():
        raise ValueError(
            f"llm: prompt of {n_prompt} tokens plus a candidate of {longest} exceeds "
            f"the context window of {llama.n_ctx()} tokens"
        )
    ctx, prompt = llama._ctx, list(prompt_tokens)
    canonical = min(llama.n_tokens, getattr(llama, CANONICAL_ATTR, 0))
    reused = common_prefix(llama.input_ids[:canonical], prompt)
    reused = max(0, min(reused, n_prompt - MIN_DECODE_BATCH))
    if not ctx.kv_cache_seq_rm(-1, reused, -1):
        reused = 0
        ctx.kv_cache_seq_rm(-1, 0, -1)
    multi = [j for j, c in enumerate(candidate_tokens) if len(c) > 1]
    tail = prompt[reused:]
    ride = list(candidate_tokens[multi[0]][:-1]) if multi else []
    rows = {len(tail) - 1: [c[0] for c in candidate_tokens]}
    if multi:
        rows.update({len(tail) + i: [t] for i, t in enumerate(candidate_tokens[multi[0]][1:])})
    try:
        llama.n_tokens = reused
        got = _decode_rows(llama, tail + ride, reused, rows)
        llama.input_ids[reused:n_prompt] = tail
        llama.n_tokens = n_prompt
        evaluated = len(tail) + len(ride)
        logprobs = list(got[len(tail) - 1])
        for j in multi:
            cand = list(candidate_tokens[j])
            if j == multi[0]:
                logprobs[j] += sum(got[len(tail) + i][0] for i in range(len(cand) - 1))
                continue
            back = min(n_prompt, max(0, MIN_DECODE_BATCH - (len(cand) - 1)))
            ctx.kv_cache_seq_rm(-1, n_prompt - back, -1)
            window = prompt[n_prompt - back :] + cand[:-1]
            more = _decode_rows(
                llama, window, n_prompt - back, {back + i: [cand[i + 1]] for i in range(len(cand) - 1)}
            )
            logprobs[j] += sum(v[0] for v in more.values())
            evaluated += len(window)
        ctx.kv_cache_seq_rm(-1, n_prompt, -1)
        setattr(llama, CANONICAL_ATTR, n_prompt)
    except Exception:
        llama.reset()  # unknown KV state: the next call decodes from scratch
        raise
    finally:
        llama._requires_eval = True  # the context's logits are not the prompt's any more
    return ScoringResult(logprobs, n_prompt, reused, evaluated)
