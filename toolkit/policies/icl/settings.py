"""Settings of the ICL policy (:class:`ICLSettings`) and what it counts (:class:`Counters`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from genoffload.errors import InputError
from genoffload.exploration import EXPLORE_CHOICES, parse_epsilon
from genoffload.llm.deadline import DEFAULT_DEADLINE_S
from genoffload.policies.icl.experience import check_extras
from genoffload.policies.icl.prompt import TAIL_HEADERS, Labels

SCORING_MODES = ("auto", "on", "off")
CLOCKS = ("keywords", "step")
CALIBRATIONS = ("no-hint", "always", "off")
DEFAULT_EPSILON = "linear:1:0:5"
"""Default schedule, on the keyword clock: a new keyword tuple explores for sure (a fair coin),
then with probability 0.8, 0.6, 0.4, 0.2 on its next decisions (the untried decision first),
then never."""


@dataclass(frozen=True)
class ICLSettings:
    """Settings of :class:`ICLPolicy`.

    Attributes
    ----------
    replay : {'prioritized', 'latest'}
        The paper's prioritized replay, or baseline 1 (the latest ``max_examples``).
    epsilon : str
        Exploration schedule (:func:`~genoffload.exploration.parse_epsilon`);
        ``constant:0`` is baseline 2.
    clock : {'step', 'keywords'}
        What the epsilon schedule counts: episode steps (the paper) or the earlier decisions
        with the same keywords, so that a keyword tuple first seen late is still explored.
    explore : {'untried', 'random'}
        What an exploring task decides: the decision not yet tried for its keywords (default)
        or the paper's fair coin.
    max_examples : int
        Most examples in the prompt (and the size of the ``latest`` pool).
    max_prompt_tokens : int
        Token budget of a prompt [tokens].
    labels : tuple[str, str]
        Decision words (local, offload).
    calibrate : {'no-hint', 'always', 'off'}
        Calibrate candidate scores against a content-free query (scoring models only):
        for queries without a repeated example (``no-hint``), for every query, or never.
    scoring : {'auto', 'on', 'off'}
        Candidate scoring when the model supports it (auto), always (on), never (off: the
        runnable chain with a strict parser).
    repeat_match : bool
        Repeat relevant Good examples just before the query (the one with the query's
        keywords, else the latest of the same service type).
    match_repeats : int
        How many times each repeated example is written (1 was tried in issue 13: tail reward
        ratio 96 % and 74 % instead of 100 % on two of three seeds).
    tail_headers : {'long', 'short'}
        Header line of the tail (:data:`~genoffload.policies.icl.prompt.TAIL_HEADERS`); the
        short one, tried in issue 13, lost quality on one seed of three (95 % instead of 100 %).
    extras : tuple[str, ...]
        Extra keywords: ``link``, ``load``.
    max_retries : int
        Retries of a failed LLM decision before the fallback (within ``deadline_s``).
    deadline_s : float
        Time budget of one LLM decision asked of a model (a served one), every try included,
        up to the last byte of the reply [s]; then the decision falls back (counted).
    breaker_threshold : int
        Failed LLM decisions in a row that open the circuit breaker (decisions then go to the
        fallback without a request for 30 s, doubling while probes fail, up to 300 s).
    mask_bad : bool
        Enforce the rule "never repeat a Bad decision" on the reply: a decision that violated
        a hard constraint for the same keywords is removed from the candidates (a constrained
        reply); when one candidate is left it is taken without asking the LLM (source
        ``mask``).
    """

    replay: str = "prioritized"
    epsilon: str = DEFAULT_EPSILON
    clock: str = "keywords"
    explore: str = "untried"
    max_examples: int = 20
    max_prompt_tokens: int = 2048
    labels: tuple[str, str] = ("edge", "cloud")
    calibrate: str = "no-hint"
    scoring: str = "auto"
    repeat_match: bool = True
    match_repeats: int = 2
    tail_headers: str = "long"
    extras: tuple[str, ...] = ()
    max_retries: int = 2
    mask_bad: bool = True
    deadline_s: float = DEFAULT_DEADLINE_S
    breaker_threshold: int = 3

    def __post_init__(self) -> None:
        if self.replay not in ("prioritized", "latest"):
            raise InputError("replay", self.replay, "unknown replay (known: latest, prioritized)")
        if self.clock not in CLOCKS:
            raise InputError("clock", self.clock, f"must be one of {', '.join(CLOCKS)}")
        if self.explore not in EXPLORE_CHOICES:
            raise InputError("explore", self.explore, f"must be one of {', '.join(EXPLORE_CHOICES)}")
        if self.scoring not in SCORING_MODES:
            raise InputError("scoring", self.scoring, f"must be one of {', '.join(SCORING_MODES)}")
        if self.max_examples < 1:
            raise InputError("examples", self.max_examples, "must be >= 1")
        if isinstance(self.calibrate, bool):
            object.__setattr__(self, "calibrate", "always" if self.calibrate else "off")
        if self.calibrate not in CALIBRATIONS:
            raise InputError("calibrate", self.calibrate, f"must be one of {', '.join(CALIBRATIONS)}")
        if self.tail_headers not in TAIL_HEADERS:
            raise InputError("tail_headers", self.tail_headers, f"must be one of {', '.join(TAIL_HEADERS)}")
        if self.match_repeats < 1:
            raise InputError("match_repeats", self.match_repeats, "must be >= 1")
        if self.max_retries < 0:
            raise InputError("max_retries", self.max_retries, "must be >= 0")
        if not self.deadline_s > 0:
            raise InputError("deadline", self.deadline_s, "must be > 0 seconds")
        if self.breaker_threshold < 1:
            raise InputError("breaker_threshold", self.breaker_threshold, "must be >= 1")
        parse_epsilon(self.epsilon)
        check_extras(self.extras)
        Labels(*self.labels)


@dataclass
class Counters:
    """What the policy did so far."""

    llm: int = 0
    explore: int = 0
    mask: int = 0
    fallback: int = 0
    errors: int = 0
    retries: int = 0
    good: int = 0
    bad: int = 0
    calibrations: int = 0
    from_logprobs: int = 0
    from_text: int = 0
    deadline_exceeded: int = 0
    circuit_open: int = 0
    breaker_opened: int = 0
    logprobs_dropped: int = 0
    last_error: str = ""
    errors_by_type: dict[str, int] = field(default_factory=dict)
