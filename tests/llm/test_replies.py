"""Reading a served model's reply: log-probabilities (chat and completions formats), then text."""

from __future__ import annotations

import math

import pytest
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, Generation

from genoffload.llm.replies import first_label, labels_from_logprobs, read_decision

LABELS = ("edge", "cloud")


def chat_logprobs(*positions: tuple[str, dict[str, float]]) -> dict:
    return {"content": [{"token": tok, "logprob": top.get(tok, -1.0), "bytes": None,
                         "top_logprobs": [{"token": t, "logprob": lp, "bytes": None}
                                          for t, lp in top.items()]}
                        for tok, top in positions]}


def test_chat_format_scores_the_first_position_with_variants_summed() -> None:
    lp = chat_logprobs(("cloud", {"cloud": -0.5, " edge": -1.5, "Edge": -2.0, "maybe": -3.0}))
    scores = labels_from_logprobs(lp, LABELS)
    assert scores is not None
    assert scores[1] == pytest.approx(-0.5)
    assert scores[0] == pytest.approx(math.log(math.exp(-1.5) + math.exp(-2.0)))
    d = read_decision(AIMessage(content="cloud", response_metadata={"logprobs": lp}), LABELS)
    assert d is not None and d.index == 1 and d.how == "logprobs"


def test_logprobs_override_the_sampled_text() -> None:
    """Eq. 6 on the scores, whatever token the server sampled."""
    lp = chat_logprobs(("edge", {"edge": -0.9, "cloud": -0.6}))
    d = read_decision(ChatGeneration(message=AIMessage(content="edge", response_metadata={"logprobs": lp})),
                      LABELS)
    assert d is not None and d.index == 1


def test_a_label_missing_from_the_top_list_gets_the_smallest_listed_value() -> None:
    scores = labels_from_logprobs(chat_logprobs(("edge", {"edge": -0.1, "x": -4.0})), LABELS)
    assert scores == [pytest.approx(-0.1), pytest.approx(-4.0)]


def test_a_base_model_repeating_the_query_is_scored_after_the_arrow() -> None:
    lp = chat_logprobs(("\n", {"\n": -1.0, "edge": -3.0, "x": -4.0}),
                       ("Keywords", {"Keywords": -0.2, "Key": -5.0}),
                       (":", {":": -0.1}), (" short, chat", {" short, chat": -0.3, " edge": -6.0}),
                       (" ->", {" ->": -0.1}), (" cloud", {" cloud": -0.2, " edge": -1.9}))
    scores = labels_from_logprobs(lp, LABELS)
    # position 0 follows nothing but white space and lists a label: it is the one scored
    assert scores == [pytest.approx(-3.0), pytest.approx(-4.0)]
    lp["content"][0]["top_logprobs"] = [{"token": "\n", "logprob": -1.0}]
    assert labels_from_logprobs(lp, LABELS) == [pytest.approx(-1.9), pytest.approx(-0.2)]


def test_completions_format_from_llama_cpp_python() -> None:
    lp = {"text_offset": [10, 16], "token_logprobs": [-0.39, -0.7], "tokens": [" cloud", "\n"],
          "top_logprobs": [{" cloud": -0.39, " edge": -2.28, " high": -4.2}, {"\n": -0.7}]}
    d = read_decision(Generation(text=" cloud", generation_info={"logprobs": lp}), LABELS)
    assert d is not None and d.index == 1 and d.logprobs == [pytest.approx(-2.28), pytest.approx(-0.39)]


def test_multi_token_labels_are_scored_by_their_first_token() -> None:
    lp = chat_logprobs((" off", {" off": -0.2, " local": -1.7}))
    assert labels_from_logprobs(lp, ("local", "offload")) == [pytest.approx(-1.7), pytest.approx(-0.2)]


@pytest.mark.parametrize(
    ("text", "index"),
    [("edge", 0), (" Cloud.", 1), ("**EDGE**", 0), ("I think the cloud.", 1), ("edge, not cloud", 0),
     ("cloud-native", None), ("edgecloud", None), ("maybe", None), ("", None)],
)
def test_first_decision_word(text: str, index: int | None) -> None:
    assert first_label(text, LABELS) == index
    d = read_decision(AIMessage(content=text), LABELS)
    assert (d.index if d else None) == index and (d is None or d.how == "text")


def test_text_after_the_repeated_query() -> None:
    query = "Keywords: long, math ->"
    reply = "Keywords: short, chat -> edge\nKeywords: long, math -> cloud\nKeywords: x -> edge"
    assert first_label(reply, LABELS, after=query) == 1
    assert first_label(reply, LABELS) == 0
