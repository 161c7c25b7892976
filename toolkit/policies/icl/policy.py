"""The ICL offloading policy: an online policy for :func:`genoffload.episode.run_episode`.

Per task of a step: with probability ``eps(t)`` a random decision (source ``explore``), else the
LLM decides from the meta prompt (source ``llm``): by exact candidate scoring (eqs. 5-6) when the
model can score (the embedded model), optionally calibrated against a content-free query;
otherwise by asking the model (any LangChain chat model, or a text-completion ``BaseLLM`` fed the
raw prompt) and reading its reply: scored from the returned top log-probabilities where the
server gives them, else the first decision word (:func:`genoffload.llm.replies.read_decision`).
A request runs under the decision's deadline (``deadline_s``, retries included; a trickling
reply is cut too); errors and unreadable replies are retried ``max_retries`` times within it,
then the fallback policy (quality-rule) decides (source ``fallback``). After
``breaker_threshold`` failed decisions in a row a circuit breaker sends decisions straight to
the fallback for a cooldown (a dead server costs seconds per episode). After the step the
outcomes become experiences, evaluated and stored by the replay (Steps 3-4).
"""

from __future__ import annotations

import time
from dataclasses import asdict, replace
from typing import Any, ClassVar

import numpy as np
import xarray as xr
from langchain_core.language_models import BaseLLM
from langchain_core.prompt_values import StringPromptValue
from langchain_core.runnables import RunnableLambda

from genoffload.errors import InputError
from genoffload.exploration import (
    exploration_draws,
    explore_choice,
    parse_epsilon,
)
from genoffload.llm import as_scorer, pick_candidate
from genoffload.llm.deadline import (
    CircuitBreaker,
    CircuitOpen,
    DeadlineExceeded,
    call_with_deadline,
)
from genoffload.llm.replies import ReadDecision, read_decision
from genoffload.llm.spec import without_logprobs
from genoffload.policies.heuristics import QualityRule
from genoffload.policies.icl.experience import (
    Experience,
    Keywords,
    make_pool,
    step_keywords,
)
from genoffload.policies.icl.prompt import (
    CHAT_TEMPLATE,
    CONTENT_FREE,
    Labels,
    Prompt,
    PromptBuilder,
    estimate_tokens,
    render_query,
)
from genoffload.policies.icl.settings import Counters, ICLSettings
from genoffload.policy import Policy, Step, StepDecision


class _Retry(Exception):
    """A failed try of an LLM decision that may be tried again (within the deadline)."""


class _GiveUp(Exception):
    """A failed try after which the fallback decides (deadline passed)."""


class ReplyUnreadable(ValueError):
    """A reply without a decision word (and without log-probabilities of one)."""


class ICLPolicy:
    """In-context-learning offloading policy (paper Sec. III) for the online episode runner.

    Parameters
    ----------
    model : BaseChatModel
        Any LangChain chat model (see :func:`genoffload.llm.build_chat_model`).
    settings : ICLSettings, optional
        Replay, exploration, budget, labels, scoring.
    fallback : Policy, optional
        Decides when the LLM fails; default quality-rule.
    """

    name: ClassVar[str] = "icl"

    def __init__(self, model: Any, settings: ICLSettings | None = None,
                 fallback: Policy | None = None) -> None:
        self.settings = s = settings or ICLSettings()
        self.model = model
        self.labels = Labels(*s.labels)
        self.schedule = parse_epsilon(s.epsilon)
        self.pool = make_pool(s.replay, s.max_examples)
        self.fallback = fallback or QualityRule()
        self.scorer = as_scorer(model) if s.scoring != "off" else None
        if s.scoring == "on" and self.scorer is None:
            raise InputError("scoring", "on", "the model cannot score candidates")
        count = getattr(self.scorer, "tokenize_candidate", None)
        self.builder = PromptBuilder(
            self.labels, s.max_examples, s.max_prompt_tokens, s.repeat_match,
            (lambda text: len(count(text))) if callable(count) else estimate_tokens,
            max_related=1, match_repeats=s.match_repeats, headers=s.tail_headers)
        self.text_input = isinstance(model, BaseLLM)
        self.breaker = CircuitBreaker(threshold=s.breaker_threshold)
        self.counters = Counters()
        self._calibration: dict[str, list[float]] = {}
        self._keywords: dict[int, list[Keywords]] = {}
        self._tried: dict[Keywords, set[bool]] = {}
        self._violated: dict[Keywords, set[bool]] = {}
        self._seen: dict[Keywords, int] = {}

    # --- the OnlinePolicy protocol -------------------------------------------------------
    def act(self, step: Step) -> StepDecision:
        n = step.scenario.sizes["task"]
        keywords = step_keywords(step.scenario, step.z, step.est_units, self.settings.extras)
        self._keywords = {step.index: keywords}
        explore, coin = exploration_draws(step.rng, n, [self.epsilon(step.index, kw) for kw in keywords])
        alpha = np.zeros(n, dtype=bool)
        source: list[str] = []
        latency = np.zeros(n)
        tokens = np.zeros(n, dtype=int)
        rule: np.ndarray | None = None
        for i in range(n):
            if explore[i]:
                alpha[i] = explore_choice(bool(coin[i]), self._tried.get(keywords[i], set()),
                                          self.settings.explore)
                source.append("explore")
                self.counters.explore += 1
                continue
            allowed = self.allowed(keywords[i])
            if len(allowed) == 1:
                alpha[i] = allowed[0]
                source.append("mask")
                self.counters.mask += 1
                continue
            t0 = time.perf_counter()
            offload, tokens[i] = self.decide(keywords[i])
            if offload is None:
                if rule is None:
                    rule = np.asarray(self.fallback.decide(step.scenario, step.z).alpha, dtype=bool)
                offload = bool(rule[i])
                source.append("fallback")
                self.counters.fallback += 1
            else:
                source.append("llm")
                self.counters.llm += 1
            alpha[i] = offload
            latency[i] = time.perf_counter() - t0
        return StepDecision(alpha, source, latency, tokens)

    def observe(self, step: Step, decision: StepDecision, result: xr.Dataset) -> None:
        keywords = self._keywords.get(step.index) or step_keywords(
            step.scenario, step.z, step.est_units, self.settings.extras)
        rewards = result["reward"].values
        ok = result["constraints_ok"].values
        for i, kw in enumerate(keywords):
            self._tried.setdefault(kw, set()).add(bool(decision.alpha[i]))
            self._seen[kw] = self._seen.get(kw, 0) + 1
            if not ok[i]:
                self._violated.setdefault(kw, set()).add(bool(decision.alpha[i]))
            exp = self.pool.add(Experience(kw, bool(decision.alpha[i]), float(rewards[i]),
                                           bool(ok[i]), step.index))
            if exp.good:
                self.counters.good += 1
            else:
                self.counters.bad += 1

    def epsilon(self, step: int, keywords: Keywords) -> float:
        """Exploration probability of a task: the schedule at the step or at the tuple's count."""
        if self.settings.clock == "step":
            return self.schedule(step)
        return self.schedule(self._seen.get(keywords, 0))

    # --- one LLM decision ----------------------------------------------------------------
    def allowed(self, keywords: Keywords) -> list[bool]:
        """Candidate decisions (False = local, True = offload) for these keywords.

        With ``mask_bad``, a decision that violated a hard constraint for the same keywords is
        left out, unless both did.
        """
        bad = self._violated.get(keywords, set()) if self.settings.mask_bad else set()
        left = [d for d in (False, True) if d not in bad]
        return left or [False, True]

    def prompt(self, keywords: Keywords) -> Prompt:
        """The meta prompt for a query with these keywords, from the current pool."""
        return self.builder.build(self.pool.examples(), keywords)

    def decide(self, keywords: Keywords) -> tuple[bool | None, int]:
        """The LLM's decision (True = offload) and the prompt size [tokens]; ``None`` = failed.

        Every error (exception, deadline, unreadable reply) is retried up to ``max_retries``
        times within the decision's deadline; it is counted, never raised. While the circuit
        breaker is open no request is made.
        """
        prompt = self.prompt(keywords)
        n_tokens = prompt.est_tokens
        if self.scorer is None and not self.breaker.allow():
            self.counters.circuit_open += 1
            self._count(CircuitOpen("circuit breaker open: the LLM failed "
                                    f"{self.breaker.failures} decisions in a row"))
            return None, n_tokens
        end = time.monotonic() + self.settings.deadline_s
        tries = [0]

        def attempt(_: Any) -> tuple[bool, int]:
            if tries[0]:
                self.counters.retries += 1
            tries[0] += 1
            try:
                if self.scorer is not None:
                    return self._score(prompt)
                offload = self._ask_decision(prompt, end)
                self.breaker.success()
                return offload, n_tokens
            except Exception as err:  # an episode never crashes on the LLM: counted, then retried
                self._count(err)
                if isinstance(err, DeadlineExceeded):
                    self.counters.deadline_exceeded += 1
                elif self._drop_logprobs(err) or time.monotonic() < end:
                    raise _Retry from err
                raise _GiveUp from err

        retrying = RunnableLambda(attempt).with_retry(
            retry_if_exception_type=(_Retry,), stop_after_attempt=1 + self.settings.max_retries,
            wait_exponential_jitter=False)  # no wait: the deadline bounds every try together
        try:
            return retrying.invoke(None)
        except (_Retry, _GiveUp):
            pass
        if self.scorer is None and not self.counters.last_error.startswith(ReplyUnreadable.__name__):
            was_open = self.breaker.opened  # a server that fails, not a model that babbles
            self.breaker.failure()
            self.counters.breaker_opened += self.breaker.opened - was_open
        return None, n_tokens

    def _count(self, err: BaseException) -> None:
        self.counters.errors += 1
        kind = type(err).__name__
        self.counters.errors_by_type[kind] = self.counters.errors_by_type.get(kind, 0) + 1
        self.counters.last_error = f"{kind}: {err}"[:200]

    def _drop_logprobs(self, err: Exception) -> bool:
        """A server that refuses log-probabilities: ask without them from now on."""
        if "logprobs" not in str(err).lower():
            return False
        plain = without_logprobs(self.model)
        if plain is None:
            return False
        self.model = plain
        self.counters.logprobs_dropped += 1
        return True

    def _ask(self, prompt: Prompt, end: float) -> ReadDecision:
        """One request: the prompt as chat messages (or raw text for a ``BaseLLM``), the reply read."""
        value = (StringPromptValue(text=prompt.text()) if self.text_input
                 else CHAT_TEMPLATE.invoke(prompt.variables()))
        model = self.model
        result = call_with_deadline(lambda: model.agenerate_prompt([value]), end - time.monotonic())
        reply = result.generations[0][0]
        read = read_decision(reply, self.labels.pair, after=prompt.query)
        if read is None:
            text = getattr(reply, "text", "")
            shown = text if len(text) <= 60 else text[:57] + "..."
            raise ReplyUnreadable(f"no decision word '{self.labels.edge}' or '{self.labels.cloud}' "
                                  f"in the reply (got {shown!r})")
        return read

    def _ask_decision(self, prompt: Prompt, end: float) -> bool:
        read = self._ask(prompt, end)
        if read.logprobs is None:
            self.counters.from_text += 1
            return bool(read.index)
        self.counters.from_logprobs += 1
        logprobs = read.logprobs
        if self.settings.calibrate == "always" or (self.settings.calibrate == "no-hint"
                                                    and not prompt.tail):
            base = self._calibration.get(prompt.prefix)
            if base is None:
                free = replace(prompt, tail=[], query=render_query(CONTENT_FREE))
                got = self._ask(free, end).logprobs
                self.counters.calibrations += 1
                base = self._calibration[prompt.prefix] = got or [0.0] * len(logprobs)
            logprobs = [lp - b for lp, b in zip(logprobs, base, strict=False)]
        return bool(pick_candidate(logprobs))

    def _score(self, prompt: Prompt) -> tuple[bool, int]:
        assert self.scorer is not None
        candidates = [f" {w}" for w in self.labels.pair]
        logprobs = list(self.scorer.score_candidates(prompt.text(), candidates))
        stats = getattr(self.scorer, "last_scoring", None)
        n_tokens = int(getattr(stats, "n_prompt", prompt.est_tokens))
        if self.settings.calibrate == "always" or (self.settings.calibrate == "no-hint"
                                                    and not prompt.tail):
            base = self._content_free(prompt, candidates)
            logprobs = [lp - b for lp, b in zip(logprobs, base, strict=False)]
        return bool(pick_candidate(logprobs)), n_tokens

    def _content_free(self, prompt: Prompt, candidates: list[str]) -> list[float]:
        """Log-probabilities after the content-free query, cached per prompt prefix."""
        key = prompt.prefix
        base = self._calibration.get(key)
        if base is None:
            assert self.scorer is not None
            base = list(self.scorer.score_candidates(prompt.content_free_text(), candidates))
            self.counters.calibrations += 1
            if len(self._calibration) >= 64:
                self._calibration.clear()
            self._calibration[key] = base
        return base

    # --- reporting -----------------------------------------------------------------------
    @property
    def mode(self) -> str:
        """How the LLM decides: ``scoring`` (exact, in-process) or ``chain`` (asked, reply read)."""
        return "scoring" if self.scorer is not None else "chain"

    def describe(self) -> dict[str, Any]:
        """Settings and counters, JSON-ready (for summary.json)."""
        s = asdict(self.settings)
        s["epsilon"] = self.schedule.spec
        return {"settings": s, "mode": self.mode, "pool_size": len(self.pool),
                "counters": asdict(self.counters)}
