"""The meta prompt: golden layout, context budget, prefix stability, strict parsing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from langchain_core.exceptions import OutputParserException

from genoffload.errors import InputError
from genoffload.policies.icl.experience import Experience, PrioritizedReplay
from genoffload.policies.icl.prompt import (
    CHAT_TEMPLATE,
    PAPER_LABELS,
    LabelParser,
    Labels,
    PromptBuilder,
    render_example,
    render_query,
)

GOLDEN = Path(__file__).parent / "golden" / "prompt.txt"
UPDATE = os.environ.get("ICL_UPDATE_GOLDEN") == "1"


def pool_of(n: int = 6) -> PrioritizedReplay:
    pool = PrioritizedReplay()
    services = ["chat", "science", "translation", "coding", "summarization", "math"]
    sizes = ["short", "medium", "long"]
    for i in range(n):
        service = services[i % 6]
        offload = service in ("science", "coding", "math")
        pool.add(Experience((service, sizes[(i // 6) % 3]), offload, 30.0 - i, True, i))
    return pool


def test_prompt_golden() -> None:
    """The prompt layout, byte for byte (regenerate with ICL_UPDATE_GOLDEN=1)."""
    builder = PromptBuilder()
    pool = pool_of(8)
    seen = builder.build(pool.examples(), ("science", "short"))
    unseen = builder.build(pool.examples(), ("coding", "long"))
    text = (f"{seen.text()}\n\n===== unseen keywords =====\n{unseen.text()}\n\n"
            f"===== content-free query (calibration) =====\n{seen.content_free_text()}\n")
    if UPDATE or not GOLDEN.exists():
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8"), "prompt changed: ICL_UPDATE_GOLDEN=1 to accept"


def test_layout_order_and_tail() -> None:
    pool = pool_of(6)
    p = PromptBuilder().build(pool.examples(), ("math", "short"))
    text = p.text()
    assert text.startswith("Task goal:")
    assert text.index("Task definition:") < text.index("Rules:") < text.index("Examples:")
    assert text.endswith("New task:\nKeywords: short, math ->")
    assert p.tail == ["Example with the same keywords:",
                      "Keywords: short, math -> cloud"]
    related = PromptBuilder().build(pool.examples(), ("math", "long")).tail
    assert related[0] == "Examples with the same service:" and len(related) == 2
    long = PromptBuilder(headers="short", match_repeats=2).build(pool.examples(), ("math", "short")).tail
    assert long == ["Same keywords:", *["Keywords: short, math -> cloud"] * 2]
    assert PromptBuilder().build(pool.examples(), ("video", "long")).tail == []
    assert PromptBuilder(repeat_match=False).build(pool.examples(), ("math", "short")).tail == []


def test_prefix_is_stable_when_the_pool_grows() -> None:
    pool = pool_of(5)
    builder = PromptBuilder()
    before = builder.build(pool.examples(), ("chat", "short")).prefix
    pool.add(Experience(("chat", "long"), False, 20.0, True, 9))
    after = builder.build(pool.examples(), ("chat", "short")).prefix
    assert after.startswith(before.rstrip("\n"))
    # the query-specific part is after the prefix
    a = builder.build(pool.examples(), ("chat", "short")).text()
    b = builder.build(pool.examples(), ("math", "short")).text()
    assert a.startswith(after) and b.startswith(after)


def test_budget_max_examples_keeps_the_newest() -> None:
    pool = pool_of(12)
    p = PromptBuilder(max_examples=4).build(pool.examples(), ("chat", "short"))
    assert p.examples == [render_example(e, Labels()) for e in pool.examples()[-4:]]
    assert p.dropped == 8


def test_budget_tokens_drops_the_oldest_but_keeps_tail_and_query() -> None:
    pool = pool_of(18)
    full = PromptBuilder().build(pool.examples(), ("chat", "short"))
    budget = full.est_tokens - 40
    p = PromptBuilder(max_prompt_tokens=budget).build(pool.examples(), ("chat", "short"))
    assert p.est_tokens <= budget
    assert 0 < len(p.examples) < 18 and p.examples == full.examples[-len(p.examples):]
    assert p.tail == full.tail and p.query == full.query
    tiny = PromptBuilder(max_prompt_tokens=64).build(pool.examples(), ("chat", "short"))
    assert tiny.examples == [] and tiny.tail == full.tail
    with pytest.raises(InputError, match="max_prompt_tokens"):
        PromptBuilder(max_prompt_tokens=10)


def test_examples_and_query_render_eq9() -> None:
    e = Experience(("science", "long"), True, 0.44, True, 3, good=True)
    assert render_example(e, Labels()) == "Keywords: long, science -> cloud (reward 0.4, Good decision)"
    bad = Experience(("chat", "short"), True, 8.0, True, 3, good=False)
    assert render_example(bad, PAPER_LABELS).endswith("-> offload (reward 8.0, Bad decision)")
    assert render_query(("chat", "short", "weak link")) == "Keywords: short, weak link, chat ->"


def test_chat_messages() -> None:
    p = PromptBuilder().build(pool_of(3).examples(), ("chat", "short"))
    msgs = CHAT_TEMPLATE.invoke(p.variables()).to_messages()
    assert [m.type for m in msgs] == ["system", "human"]
    assert msgs[0].content == p.description
    assert msgs[1].content.startswith("Examples:") and msgs[1].content.endswith(p.query)


@pytest.mark.parametrize(("reply", "offload"), [
    ("edge", False), ("cloud", True), ("  Cloud\n", True), ("EDGE", False), ("\tedge ", False)])
def test_parser_accepts_exactly_one_label(reply: str, offload: bool) -> None:
    assert LabelParser.for_labels(Labels()).parse(reply) is offload


@pytest.mark.parametrize("reply", [
    "", "edge.", "cloud!", "the cloud", "edge or cloud", "offload", "local", "ed ge", "cloudy",
    "Decision: cloud", "edge\ncloud"])
def test_parser_rejects_anything_else(reply: str) -> None:
    with pytest.raises(OutputParserException):
        LabelParser.for_labels(Labels()).parse(reply)


def test_paper_labels_parser() -> None:
    parser = LabelParser.for_labels(PAPER_LABELS)
    assert parser.parse(" Offload ") is True and parser.parse("local") is False
    with pytest.raises(OutputParserException):
        parser.parse("cloud")


@pytest.mark.parametrize("pair", [("edge", "edge"), ("", "cloud"), ("on edge", "cloud"), ("Edge", "edge")])
def test_bad_labels(pair: tuple[str, str]) -> None:
    with pytest.raises(InputError, match="labels"):
        Labels(*pair)
