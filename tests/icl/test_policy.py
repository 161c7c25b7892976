"""The ICL policy with LangChain fake chat models: decisions, retries, fallback, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from genoffload.episode import EpisodeConfig, summary
from genoffload.errors import InputError
from genoffload.models.reference import run_certified_episode
from genoffload.policies.heuristics import QualityRule
from genoffload.policies.icl import ICLPolicy, ICLSettings
from genoffload.policies.icl.experience import step_keywords
from genoffload.scenario import make_config

from .conftest import CopyScorer, RaisingChatModel, make_step

NO_EXPLORE = ICLSettings(epsilon="constant:0")


def test_chain_decisions_follow_the_replies(step) -> None:  # type: ignore[no-untyped-def]
    n = step.scenario.sizes["task"]
    replies = ["cloud", " Edge ", "EDGE", "cloud\n", "edge", "cloud"][:n]
    policy = ICLPolicy(FakeListChatModel(responses=replies), NO_EXPLORE)
    assert policy.mode == "chain"
    d = policy.act(step)
    assert d.alpha.tolist() == [r.strip().lower() == "cloud" for r in replies]
    assert d.source == ["llm"] * n
    assert d.latency_s.shape == (n,) and (d.latency_s >= 0).all()
    assert (d.prompt_tokens > 100).all()


def test_generic_fake_chat_model_works_too(step) -> None:  # type: ignore[no-untyped-def]
    n = step.scenario.sizes["task"]
    model = GenericFakeChatModel(messages=iter([AIMessage(content="cloud")] * n))
    d = ICLPolicy(model, NO_EXPLORE).act(step)
    assert d.alpha.all() and d.source == ["llm"] * n


def test_a_reply_is_read_for_its_first_decision_word(step) -> None:  # type: ignore[no-untyped-def]
    n = step.scenario.sizes["task"]
    policy = ICLPolicy(FakeListChatModel(responses=["I think the cloud.", "Edge, not cloud"]),
                       ICLSettings(epsilon="constant:0", max_retries=0))
    d = policy.act(step)
    assert d.source == ["llm"] * n
    assert d.alpha.tolist() == [i % 2 == 0 for i in range(n)]
    assert policy.counters.from_text == n and policy.counters.errors == 0


def test_a_base_model_repeating_the_query_is_read_after_it(step) -> None:  # type: ignore[no-untyped-def]
    kw = step_keywords(step.scenario, step.z, step.scenario["units"].values.astype(float))
    policy = ICLPolicy(FakeListChatModel(responses=["x"]), ICLSettings(epsilon="constant:0"))
    query = policy.prompt(kw[0]).query
    reply = f"Keywords: short, chat -> cloud\n{query} edge\nKeywords: long, math -> cloud"
    policy.model = FakeListChatModel(responses=[reply])
    assert policy.decide(kw[0])[0] is False


def test_garbage_replies_are_retried_then_fallback(step) -> None:  # type: ignore[no-untyped-def]
    n = step.scenario.sizes["task"]
    policy = ICLPolicy(FakeListChatModel(responses=["I think the edgecloud is best."]),
                       ICLSettings(epsilon="constant:0", max_retries=2))
    d = policy.act(step)
    assert d.source == ["fallback"] * n
    rule = QualityRule().decide(step.scenario, step.z).alpha
    assert d.alpha.tolist() == rule.tolist()
    c = policy.counters
    assert c.fallback == n and c.errors == 3 * n and c.retries == 2 * n
    assert c.errors_by_type == {"ReplyUnreadable": 3 * n}


def test_a_bad_reply_then_a_good_one_recovers(step) -> None:  # type: ignore[no-untyped-def]
    policy = ICLPolicy(FakeListChatModel(responses=["maybe", "cloud"]),
                       ICLSettings(epsilon="constant:0", max_retries=1))
    d = policy.act(step)
    assert d.source == ["llm"] * step.scenario.sizes["task"] and d.alpha.all()
    assert policy.counters.retries == step.scenario.sizes["task"]


def test_raising_model_falls_back_and_the_episode_completes() -> None:
    model = RaisingChatModel()
    policy = ICLPolicy(model, ICLSettings(epsilon="constant:0.2", max_retries=1, breaker_threshold=1000))
    ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=15, seed=2))
    src = ds["source"].values
    assert set(src) <= {"fallback", "explore"} and (src == "fallback").any()
    assert summary(ds)["fallbacks"] == int((src == "fallback").sum()) == policy.counters.fallback
    assert model.calls == 2 * policy.counters.fallback
    assert policy.counters.errors_by_type == {"TimeoutError": model.calls}


def test_observe_feeds_the_prioritized_pool(step) -> None:  # type: ignore[no-untyped-def]
    from genoffload.evaluate import evaluate

    policy = ICLPolicy(FakeListChatModel(responses=["edge"]), NO_EXPLORE)
    d = policy.act(step)
    result = evaluate(step.scenario, step.z, d.alpha)
    policy.observe(step, d, result)
    ok = result["constraints_ok"].values
    kws = step_keywords(step.scenario, step.z, step.est_units)
    assert len(policy.pool) == len({k for k, good in zip(kws, ok, strict=False) if good})
    assert policy.counters.bad >= int((~ok).sum())
    assert all(e.good and not e.offload for e in policy.pool.examples())


def test_scoring_path_uses_the_scorer_and_calibration() -> None:
    step = make_step(users=4)
    # a scorer biased to cloud by 1 nat: uncalibrated, every query without a repeated example
    # is offloaded; the content-free query measures the bias and calibration removes it
    raw = ICLPolicy(CopyScorer(bias=1.0), ICLSettings(epsilon="constant:0", calibrate=False))
    cal = ICLPolicy(CopyScorer(bias=1.0), ICLSettings(epsilon="constant:0", calibrate=True))
    assert raw.mode == cal.mode == "scoring"
    assert raw.act(step).alpha.all()
    d = cal.act(step)
    assert not d.alpha.any() and d.source == ["llm"] * 4  # ties go to the first label (local)
    assert cal.counters.calibrations == 1  # one content-free query per prompt prefix
    assert any(p.endswith("Keywords: N/A, N/A ->") for p in cal.model.prompts)


def test_scoring_copies_the_repeated_example() -> None:
    from genoffload.policies.icl.experience import Experience

    step = make_step(users=4)
    model = CopyScorer(bias=3.0)
    policy = ICLPolicy(model, ICLSettings(epsilon="constant:0", calibrate=False))
    kws = step_keywords(step.scenario, step.z, step.est_units)
    for kw in kws:
        policy.pool.add(Experience(kw, False, 25.0, True))  # local was Good for every tuple
    assert not policy.act(step).alpha.any()


def test_scoring_off_uses_the_chain() -> None:
    policy = ICLPolicy(CopyScorer(), ICLSettings(scoring="off"))
    assert policy.mode == "chain" and policy.scorer is None
    with pytest.raises(InputError, match="scoring"):
        ICLPolicy(FakeListChatModel(responses=["edge"]), ICLSettings(scoring="on"))


def test_exploration_share_in_the_policy() -> None:
    policy = ICLPolicy(FakeListChatModel(responses=["edge"]), ICLSettings(epsilon="constant:0.3"))
    step = make_step(users=20)
    n_explore = n = 0
    for t in range(60):
        step.index = t
        d = policy.act(step)
        n_explore += d.source.count("explore")
        n += len(d.source)
    share = n_explore / n
    assert abs(share - 0.3) < 4 * np.sqrt(0.3 * 0.7 / n)
    assert policy.counters.explore == n_explore and policy.counters.llm == n - n_explore


def test_same_seed_same_episode() -> None:
    def run(seed: int) -> tuple[np.ndarray, list[str]]:
        model = FakeListChatModel(responses=["edge", "cloud", "cloud", "edge", "edge"])
        policy = ICLPolicy(model, ICLSettings(epsilon="exp:0.5:0.05:5"))
        ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=25, seed=seed))
        return ds["alpha"].values, ds["source"].values.tolist()

    a, b, c = run(4), run(4), run(5)
    assert (a[0] == b[0]).all() and a[1] == b[1]
    assert a[1] != c[1] or a[0].shape != c[0].shape or (a[0] != c[0]).any()


def test_schedules_differing_only_in_eps_see_the_same_scenarios() -> None:
    def services(eps: str) -> list[str]:
        policy = ICLPolicy(FakeListChatModel(responses=["edge"]), ICLSettings(epsilon=eps))
        ds = run_certified_episode(make_config({}), policy, EpisodeConfig(steps=12, seed=1))
        return ds["service"].values.tolist()

    assert services("constant:0") == services("constant:0.7")


def test_replay_and_exploration_converge_with_a_faithful_copier() -> None:
    """With an LLM that copies the repeated example, prioritized replay + exploration reach
    the optimum; without exploration the first (wrong) decisions are never corrected."""
    base = make_config({"token_distribution": "fixed"})  # one size bucket: 6 keyword tuples
    cfg = EpisodeConfig(steps=80, seed=1)
    for settings in (ICLSettings(), ICLSettings(epsilon="linear:0.6:0:60", clock="step")):
        explore = ICLPolicy(CopyScorer(), settings)
        s = summary(run_certified_episode(base, explore, cfg))
        assert s["tail_reward_ratio"] > 0.999 and s["tail_success_rate"] == 1.0
        assert all(e.offload == (e.keywords[0] in ("science", "coding", "math"))
                   for e in explore.pool.examples())
    greedy = ICLPolicy(CopyScorer(), ICLSettings(epsilon="constant:0", mask_bad=False))
    g = summary(run_certified_episode(base, greedy, cfg))
    assert g["tail_reward_ratio"] < 0.5 and g["explorations"] == 0


def test_untried_exploration_and_keyword_clock() -> None:
    """A new keyword tuple explores for sure, then takes the decision it has not tried yet."""
    base = make_config({"token_distribution": "fixed"})
    policy = ICLPolicy(CopyScorer(), ICLSettings(epsilon="linear:1:0:2"))
    ds = run_certified_episode(base, policy, EpisodeConfig(steps=60, seed=3))
    keys = list(zip(ds["service"].values.tolist(), ds["source"].values.tolist(),
                    ds["alpha"].values.tolist(), strict=True))
    for service in set(ds["service"].values.tolist()):
        mine = [(src, a) for s, src, a in keys if s == service]
        assert mine[0][0] == "explore"  # eps(0) = 1 on the keyword clock
        if len(mine) > 1 and mine[1][0] == "explore":
            assert mine[1][1] != mine[0][1]  # untried first
        assert all(src != "explore" for src, _ in mine[2:])  # eps(2) = 0


def test_mask_never_repeats_a_violation() -> None:
    """After a quality miss at the edge for some keywords, the edge is not offered again."""
    base = make_config({"token_distribution": "fixed"})
    masked = ICLPolicy(CopyScorer(), ICLSettings(epsilon="constant:0"))
    ds = run_certified_episode(base, masked, EpisodeConfig(steps=60, seed=2))
    ok = ds["quality_ok"].values
    service = ds["service"].values
    for s in set(service[~ok].tolist()):
        assert (~ok[service == s]).sum() == 1  # one miss per tuple, then masked
    assert (ds["source"].values == "mask").sum() == masked.counters.mask > 0
    free = ICLPolicy(CopyScorer(), ICLSettings(epsilon="constant:0", mask_bad=False))
    g = run_certified_episode(base, free, EpisodeConfig(steps=60, seed=2))
    assert (~g["quality_ok"].values).sum() > (~ok).sum()


def test_settings_validation() -> None:
    with pytest.raises(InputError, match="epsilon"):
        ICLSettings(epsilon="sometimes")
    with pytest.raises(InputError, match="replay"):
        ICLSettings(replay="oldest")
    with pytest.raises(InputError, match="examples"):
        ICLSettings(max_examples=0)
    with pytest.raises(InputError, match="labels"):
        ICLSettings(labels=("cloud", "cloud"))
    with pytest.raises(InputError, match="keywords"):
        ICLSettings(extras=("mood",))
    with pytest.raises(InputError, match="clock"):
        ICLSettings(clock="wall")
    with pytest.raises(InputError, match="explore"):
        ICLSettings(explore="bold")


def test_describe_is_json_ready() -> None:
    import json

    policy = ICLPolicy(FakeListChatModel(responses=["edge"]), ICLSettings(epsilon="0.1"))
    doc = policy.describe()
    assert doc["settings"]["epsilon"] == "constant:0.1" and doc["mode"] == "chain"
    json.dumps(doc)
