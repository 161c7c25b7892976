"""Fixtures of the ICL policy tests: small steps, fake chat models, a fake scorer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from genoffload.policies.icl.prompt import TAIL_HEADERS
from genoffload.policy import Step
from genoffload.scenario import generate, make_config
from genoffload.schedulers import get_scheduler


def make_step(index: int = 0, seed: int = 0, users: int = 6, **config: Any) -> Step:
    """A step with one task per user of a small paper-setting scenario."""
    ds = generate(make_config({"users": users, "seed": seed, **config}))
    z = get_scheduler("pf")(ds)
    return Step(index, ds, z, ds["units"].values.astype(float), np.random.default_rng(seed))


@pytest.fixture
def step() -> Step:
    return make_step()


class RaisingChatModel(BaseChatModel):
    """A chat model whose every call fails (an unreachable server, a timeout...)."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "raising"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.calls += 1
        raise TimeoutError("request timed out")


class CopyScorer(BaseChatModel):
    """A scoring model: copies the decision of the last example repeated before the query.

    Without a repeated example it prefers ``" cloud"`` by ``bias`` nats (a label bias that
    calibration removes). Records every scored prompt.
    """

    bias: float = 0.0
    prompts: list[str] = []  # noqa: RUF012 (pydantic field on a fake model)

    @property
    def _llm_type(self) -> str:
        return "copy-scorer"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="edge"))])

    def score_candidates(self, prompt_text: str, candidates: Sequence[str]) -> list[float]:
        self.prompts.append(prompt_text)
        head = prompt_text.rpartition("New task:\n")[0].rstrip()
        block = head.rpartition("\n\n")[2].splitlines()
        headers = tuple(h for pair in TAIL_HEADERS.values() for h in pair)
        tail = block[-1] if block[0].startswith(headers) else ""
        scores = [0.0, self.bias]
        for j, cand in enumerate(candidates):
            if tail and tail.split("->")[-1].split()[:1] == [cand.strip()]:
                scores[j] += 5.0
        return [s - 10.0 for s in scores]
