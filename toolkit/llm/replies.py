"""Decisions from the replies of served models: log-probabilities first, then the reply text.

A served model answers a decision prompt with a few generated tokens. Where the server returns
log-probabilities (OpenAI's ``logprobs``/``top_logprobs``: OpenAI, vLLM, llama.cpp's
``llama-server``, llama-cpp-python's server started with ``--logits_all true``), the labels are
scored from the top log-probabilities of the first generated position that lists a label (paper
eqs. 5-6 with the top-k list standing in for the full vocabulary); otherwise the reply is read
for its first decision word. Both formats are read: the chat format
(``{"content": [{"token", "logprob", "top_logprobs": [{"token", "logprob"}]}]}``) and the
legacy completions format (``{"tokens", "token_logprobs", "top_logprobs": [{token: logprob}]}``,
which llama-cpp-python's server also returns for chat completions).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ReadDecision:
    """A label read from a reply.

    Attributes
    ----------
    index : int
        Index of the chosen label.
    logprobs : list[float] or None
        ``log Pr(label | prompt)`` [nats] per label when read from log-probabilities (a label
        missing from the top-k list gets the smallest listed value, an upper bound).
    how : {'logprobs', 'text'}
        What the decision was read from.
    """

    index: int
    logprobs: list[float] | None
    how: str


def _positions(logprobs: Any) -> list[tuple[str, dict[str, float]]]:
    """Per generated position: the generated token, and the top tokens' log-probabilities [nats]."""
    if not isinstance(logprobs, Mapping):
        return []
    content = logprobs.get("content")
    if isinstance(content, Sequence) and content:  # chat format
        out = []
        for pos in content:
            if not isinstance(pos, Mapping):
                continue
            top = {str(t.get("token")): float(t["logprob"]) for t in pos.get("top_logprobs") or []
                   if isinstance(t, Mapping) and t.get("logprob") is not None}
            token = str(pos.get("token") or "")
            if token and pos.get("logprob") is not None:
                top.setdefault(token, float(pos["logprob"]))
            out.append((token, top))
        return out
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, Sequence):  # completions format
        tokens = logprobs.get("tokens") or []
        return [(str(tokens[i]) if i < len(tokens) else "",
                 {str(k): float(v) for k, v in pos.items() if v is not None}
                 if isinstance(pos, Mapping) else {})
                for i, pos in enumerate(legacy)]
    return []


def _label_of(token: str, labels: Sequence[str]) -> int | None:
    """The label a token starts (case and surrounding space ignored), if exactly one."""
    word = token.strip().casefold()
    if not word:
        return None
    folded = [label.casefold() for label in labels]
    if word in folded:
        return folded.index(word)
    starts = [i for i, label in enumerate(folded) if len(word) >= 3 and label.startswith(word)]
    return starts[0] if len(starts) == 1 else None


def _logsumexp(values: Sequence[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def labels_from_logprobs(logprobs: Any, labels: Sequence[str]) -> list[float] | None:
    """``log Pr(label)`` [nats] per label at the position where the decision word is due.

    That is the first generated position that lists a label in its top tokens and follows
    either nothing but white space (a chat model answering) or an arrow ``->`` (a base model
    that first writes the query line again). Token variants of a label (``"edge"``,
    ``" edge"``, ``"Edge"``) are summed. ``None`` when the reply carries no log-probabilities
    or no such position lists a label.
    """
    before = ""
    for token, top in _positions(logprobs):
        due = not before.strip() or before.rstrip().endswith("->")
        before += token
        if not due:
            continue
        per_label: list[list[float]] = [[] for _ in labels]
        for token, lp in top.items():
            j = _label_of(token, labels)
            if j is not None and math.isfinite(lp):
                per_label[j].append(lp)
        if any(per_label):
            floor = min(top.values())
            return [_logsumexp(v) if v else floor for v in per_label]
    return None


def first_label(text: str, labels: Sequence[str], after: str = "") -> int | None:
    """Index of the first decision word in a reply (whole words, case ignored), or ``None``.

    When the reply repeats ``after`` (the query line, for a base model that continues the
    prompt), the word is looked for after its last occurrence.
    """
    if not isinstance(text, str):
        return None
    if after and after.casefold() in text.casefold():
        text = text[text.casefold().rindex(after.casefold()) + len(after):]
    pattern = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    match = re.search(rf"(?<![\w-])({pattern})(?![\w-])", text, flags=re.IGNORECASE)
    if match is None:
        return None
    folded = [label.casefold() for label in labels]
    return folded.index(match.group(1).casefold())


def reply_logprobs(reply: Any) -> Any:
    """The ``logprobs`` object of a LangChain reply (``AIMessage`` or ``Generation``), if any."""
    message = getattr(reply, "message", None)  # a ChatGeneration
    meta = getattr(message if message is not None else reply, "response_metadata", None)
    if isinstance(meta, Mapping) and meta.get("logprobs") is not None:
        return meta["logprobs"]
    info = getattr(reply, "generation_info", None)
    if isinstance(info, Mapping):
        return info.get("logprobs")
    return None


def reply_text(reply: Any) -> str:
    """The text of a LangChain reply (``AIMessage``, ``Generation`` or ``str``)."""
    if isinstance(reply, str):
        return reply
    text = getattr(reply, "text", None)
    if isinstance(text, str):
        return text
    return str(getattr(reply, "content", ""))


def read_decision(reply: Any, labels: Sequence[str], after: str = "") -> ReadDecision | None:
    """The decision in a served model's reply: by log-probabilities, else the first label word.

    Parameters
    ----------
    reply : AIMessage, Generation, ChatGeneration or str
        The model's reply.
    labels : Sequence[str]
        The decision words, in candidate order (ties go to the first).
    after : str
        The query line; a reply that repeats it is read after it.

    Returns
    -------
    ReadDecision or None
        ``None`` when the reply names no label.
    """
    scores = labels_from_logprobs(reply_logprobs(reply), labels)
    if scores is not None:
        best = max(range(len(scores)), key=lambda i: (scores[i], -i))
        return ReadDecision(best, scores, "logprobs")
    index = first_label(reply_text(reply), labels, after)
    return None if index is None else ReadDecision(index, None, "text")
