"""The meta prompt of the ICL policy: task description, examples, query (paper eqs. 7-9).

Layout (the same text feeds candidate scoring and, as chat messages, a chat model)::

    D      Task goal / Task definition / Rules          system message; never changes
    E      Examples:                                    the pool, oldest entry first
           Keywords: medium, chat -> edge (reward 26.4, Good decision)
           ...
    tail   Example with the same keywords:              the Good example with the query's
           Keywords: long, science -> cloud               keywords (keywords and decision
                                                          only; ``match_repeats`` times); else
                                                          the latest Good one of the service
    x      New task:
           Keywords: long, science ->                   the query, last

D then E form a prefix that only changes when the pool does (and then mostly near its end,
see :class:`~genoffload.policies.icl.experience.PrioritizedReplay`), so llama.cpp reuses its
KV cache and decodes only the tail and the query. Context budget: at most ``max_examples``
examples (the newest entries of the pool), then the oldest are dropped until the estimated
prompt fits ``max_prompt_tokens``; the tail and the query are always kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser
from langchain_core.prompts import ChatPromptTemplate

from genoffload.errors import InputError
from genoffload.policies.icl.experience import Experience, Keywords

TAIL_HEADERS: dict[str, tuple[str, str]] = {
    "short": ("Same keywords:", "Same service:"),
    "long": ("Example with the same keywords:", "Examples with the same service:"),
}
"""Header lines of the tail (exact match, same service): ``long`` (the default) or ``short``
(4-5 tokens fewer to decode per decision; tried in issue 13: lower tail reward on one seed)."""

CONTENT_FREE: Keywords = ("N/A", "N/A")
"""Keywords of the content-free query used for calibration (Zhao et al., 2021)."""


@dataclass(frozen=True)
class Labels:
    """The two decision words: ``edge`` = local (alpha 0), ``cloud`` = offload (alpha 1)."""

    edge: str = "edge"
    cloud: str = "cloud"

    def __post_init__(self) -> None:
        words = (self.edge.strip(), self.cloud.strip())
        if not all(words) or any(any(c.isspace() for c in w) for w in words):
            raise InputError("labels", words, "each label must be one non-empty word")
        if words[0].casefold() == words[1].casefold():
            raise InputError("labels", words, "the two labels must differ")

    def word(self, offload: bool) -> str:
        return self.cloud if offload else self.edge

    @property
    def pair(self) -> tuple[str, str]:
        """(local label, offload label): candidate order, so ties go to local."""
        return (self.edge, self.cloud)


PAPER_LABELS = Labels("local", "offload")
"""The paper's wording (Sec. III-A)."""


def task_description(labels: Labels) -> str:
    """The task description D (eq. 7): task goal, task definition, rules."""
    e, c = labels.edge, labels.cloud
    return (
        f"Task goal: decide where each content generation task runs: {e} (the small LLM at the "
        f"network edge: fast, lower quality) or {c} (the large LLM in the central cloud: higher "
        "quality, slower, extra backhaul delay).\n"
        "Task definition: a task is described by keywords: its service type and its estimated "
        "output size (tiny < 250 tokens, short < 750, medium < 1250, long < 2500, huge more). "
        "Each example gives the decision taken for such a task, its reward (higher is better, "
        "a missed quality requirement costs a large penalty) and its evaluation.\n"
        f"Rules: take the decision of the Good example with the same keywords and never repeat "
        f"a Bad decision. Reply with one word only: {e} or {c}."
    )


def keywords_text(keywords: Keywords) -> str:
    """Keywords as written in the prompt: the service type (the first keyword) goes last.

    The word right before the decision is then the service type: a small model copies the
    decision of the example whose last words match the query's.
    """
    if len(keywords) < 2:
        return ", ".join(keywords)
    return ", ".join([*keywords[1:], keywords[0]])


def render_example(exp: Experience, labels: Labels) -> str:
    """One example (eq. 9) on one line: keywords, decision, reward [s], evaluation."""
    verdict = "Good" if exp.good else "Bad"
    return (f"Keywords: {keywords_text(exp.keywords)} -> {labels.word(exp.offload)} "
            f"(reward {exp.reward:.1f}, {verdict} decision)")


def render_hint(exp: Experience, labels: Labels) -> str:
    """A repeated example in the tail: keywords and decision only (fewer tokens to decode)."""
    return f"Keywords: {keywords_text(exp.keywords)} -> {labels.word(exp.offload)}"


def render_query(keywords: Keywords) -> str:
    """The query ``x`` (eq. 8); the decision word follows the arrow."""
    return f"Keywords: {keywords_text(keywords)} ->"


def estimate_tokens(text: str) -> int:
    """Rough token count for models without a tokenizer: 1 token per 4 characters."""
    return math.ceil(len(text) / 4)


@dataclass
class Prompt:
    """A built prompt: its parts and the variables of :data:`CHAT_TEMPLATE`."""

    description: str
    examples: list[str]
    tail: list[str]
    query: str
    est_tokens: int = 0
    dropped: int = 0

    @property
    def prefix(self) -> str:
        """D and the examples: the part shared by every query of a pool state."""
        body = "\n".join(["Examples:", *self.examples]) if self.examples else "Examples: none yet."
        return f"{self.description}\n\n{body}\n"

    def text(self) -> str:
        """The whole prompt as raw text (candidate scoring): prefix, tail, query."""
        tail = "\n".join(self.tail) + "\n\n" if self.tail else ""
        return f"{self.prefix}\n{tail}New task:\n{self.query}"

    def content_free_text(self) -> str:
        """The same prefix with the content-free query, for calibration."""
        return f"{self.prefix}\nNew task:\n{render_query(CONTENT_FREE)}"

    def variables(self) -> dict[str, str]:
        """Variables of :data:`CHAT_TEMPLATE`."""
        return {"description": self.description, "task": self.text()[len(self.description) + 2:]}


CHAT_TEMPLATE = ChatPromptTemplate.from_messages([("system", "{description}"), ("human", "{task}")])
"""Chat layout of the same text: D as the system message, examples and query as the user turn."""


@dataclass
class PromptBuilder:
    """Builds prompts under the context budget.

    Parameters
    ----------
    labels : Labels
        Decision words.
    max_examples : int
        Most examples shown (the newest entries of the pool).
    max_prompt_tokens : int
        Token budget of the whole prompt [tokens] (estimated per line with ``count_tokens``).
    repeat_match : bool
        Repeat relevant Good examples just before the query: the one with the query's
        keywords, else up to ``max_related`` with the same service type.
    count_tokens : callable
        Tokens of a text; default :func:`estimate_tokens`.
    """

    labels: Labels = field(default_factory=Labels)
    max_examples: int = 20
    max_prompt_tokens: int = 2048
    repeat_match: bool = True
    count_tokens: Callable[[str], int] = estimate_tokens
    max_related: int = 2
    match_repeats: int = 1
    headers: str = "long"
    _cache: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.max_examples < 0:
            raise InputError("examples", self.max_examples, "must be >= 0")
        if self.max_prompt_tokens < 64:
            raise InputError("max_prompt_tokens", self.max_prompt_tokens, "must be >= 64")
        if self.headers not in TAIL_HEADERS:
            raise InputError("tail_headers", self.headers, f"must be one of {', '.join(TAIL_HEADERS)}")
        self.description = task_description(self.labels)

    def tokens(self, line: str) -> int:
        n = self._cache.get(line)
        if n is None:
            if len(self._cache) > 4096:
                self._cache.clear()
            n = self._cache[line] = int(self.count_tokens(line)) + 1  # + the newline
        return n

    def tail(self, pool_examples: Sequence[Experience], keywords: Keywords) -> list[str]:
        """The repeated examples before the query (empty without a relevant Good example)."""
        if not self.repeat_match:
            return []
        good = [e for e in pool_examples if e.good]
        exact = [e for e in good if e.keywords == keywords]
        same_keywords, same_service = TAIL_HEADERS[self.headers]
        if exact:
            return [same_keywords,
                    *[render_hint(exact[-1], self.labels)] * self.match_repeats]
        related = [e for e in good if e.keywords[:1] == keywords[:1]][-self.max_related:]
        if related:
            return [same_service,
                    *(render_hint(e, self.labels) for e in related for _ in range(self.match_repeats))]
        return []

    def build(self, pool_examples: Sequence[Experience], keywords: Keywords) -> Prompt:
        """The prompt for a query with ``keywords`` given the pool's examples (oldest first)."""
        shown = list(pool_examples)[-self.max_examples:] if self.max_examples else []
        lines = [render_example(e, self.labels) for e in shown]
        tail = self.tail(pool_examples, keywords)
        query = render_query(keywords)
        fixed = (self.tokens(self.description) + 8
                 + sum(self.tokens(t) for t in [*tail, query]))
        sizes = [self.tokens(line) for line in lines]
        total = fixed + sum(sizes)
        drop = 0
        while drop < len(lines) and total > self.max_prompt_tokens:
            total -= sizes[drop]
            drop += 1
        return Prompt(self.description, lines[drop:], tail, query, total,
                      len(pool_examples) - len(lines) + drop)


class LabelParser(BaseOutputParser[bool]):
    """Strict parser of a chat reply: exactly one of the two labels -> ``offload`` (bool).

    Case and surrounding whitespace are ignored; anything else raises
    :class:`~langchain_core.exceptions.OutputParserException`.
    """

    edge: str = "edge"
    cloud: str = "cloud"

    @classmethod
    def for_labels(cls, labels: Labels) -> LabelParser:
        return cls(edge=labels.edge, cloud=labels.cloud)

    def parse(self, text: str) -> bool:
        reply = text.strip().casefold() if isinstance(text, str) else None
        if reply == self.edge.casefold():
            return False
        if reply == self.cloud.casefold():
            return True
        shown = text if not isinstance(text, str) or len(text) <= 60 else text[:57] + "..."
        raise OutputParserException(
            f"reply must be exactly '{self.edge}' or '{self.cloud}' (got {shown!r})",
            llm_output=str(text))

    def get_format_instructions(self) -> str:
        return f"Reply with one word only: {self.edge} or {self.cloud}."

    @property
    def _type(self) -> str:
        return "genoffload-icl-label"
