"""Eqs. (1)-(4), (4e), (10) of the paper and the evaluator, against hand-worked numbers.

Paper Sec. IV-A: edge Llama3-8B TTFT 0.23 s, TPOT 1/75 s; cloud GPT-4o TTFT 0.42 s, TPOT 1/32 s;
1,000 tokens of 4 B each.
"""

from __future__ import annotations

import numpy as np
import pytest

from genoffload import delay
from genoffload.catalog import load_catalog
from genoffload.errors import InputError
from genoffload.evaluate import evaluate
from genoffload.scenario import from_document

T_EDGE_1000 = 0.23 + 1000 / 75  # = 13.563333 s
T_CLOUD_1000 = 0.42 + 1000 / 32  # = 31.67 s


def test_catalog_holds_the_paper_models() -> None:
    cat = load_catalog()
    edge, cloud = cat.model("llama3-8b"), cat.model("gpt-4o")
    assert (edge["ttft_s"], edge["tpot_s"]) == pytest.approx((0.23, 1 / 75), rel=1e-12)
    assert (cloud["ttft_s"], cloud["tpot_s"]) == pytest.approx((0.42, 1 / 32), rel=1e-12)
    # the cloud model is the better one on both service classes
    assert cloud["quality_regular"] > edge["quality_regular"]
    assert cloud["quality_preferred"] > edge["quality_preferred"]


def test_shannon_rate() -> None:
    # 180 kHz * log2(1 + 15) = 180e3 * 4 = 720 kbit/s
    assert float(delay.shannon_rate(180e3, 15.0)) == pytest.approx(180e3 * 4)
    # base 10: 1 MHz * log10(1 + 99) = 2 Mbit/s; SINR 0 -> 0
    assert float(delay.shannon_rate(1e6, 99.0, log_base=10.0)) == pytest.approx(2e6)
    np.testing.assert_allclose(delay.shannon_rate(360e3, [0.0, 1.0, 3.0]), [0.0, 360e3, 720e3])


def test_link_capacity_sums_the_allocated_rbs() -> None:
    # C_0 = 1 + 3 = 4, C_1 = 5, C_2 = 0 (no RB)
    rate = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    z = np.array([[1, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=bool)
    np.testing.assert_allclose(delay.link_capacity(rate, z), [4.0, 5.0, 0.0])


def test_radio_delay() -> None:
    # 1000 tokens * 4 B * 8 = 32 000 bit over 2 Mbit/s -> 0.016 s
    assert float(delay.radio_delay(32_000, 2e6)) == pytest.approx(0.016)
    out = delay.radio_delay([32_000, 0.0, 0.0, 1.0], [0.0, 0.0, 5e6, 1e6])
    assert np.isinf(out[0]) and out[0] > 0  # content but no capacity: never delivered
    np.testing.assert_array_equal(out[1:3], [0.0, 0.0])  # nothing to send: no delay, even at C = 0
    assert out[3] == pytest.approx(1e-6)


def test_backhaul_and_generation_delay() -> None:
    np.testing.assert_allclose(delay.backhaul_delay([0, 1, 1], 0.05), [0.0, 0.05, 0.05])
    # eq. (3): 0.23 + 1000/75 = 13.5633 s; 0.42 + 1000/32 = 31.67 s
    assert float(delay.generation_delay(1000, 0.23, 1 / 75)) == pytest.approx(13.563333, abs=1e-6)
    assert float(delay.generation_delay(1000, 0.42, 1 / 32)) == pytest.approx(31.67, abs=1e-9)
    # one unit = TTFT + TPOT
    assert float(delay.generation_delay(1, 2.0, 20.0)) == pytest.approx(22.0)


def test_task_delay_store_and_forward_and_streamed() -> None:
    t_radio, t_back = 0.016, 0.05
    # store-and-forward: radio + alpha (t_back + cloud) + (1 - alpha) edge
    #   edge:  0.016 + 13.563333 = 13.579333;  cloud: 0.016 + 0.05 + 31.67 = 31.736
    sf = delay.task_delay([0, 1], t_radio, T_EDGE_1000, T_CLOUD_1000, t_back)
    np.testing.assert_allclose(sf, [13.579333, 31.736], atol=1e-6)
    # streamed: max(radio, generation side): 13.563333 and 0.05 + 31.67 = 31.72
    st = delay.task_delay([0, 1], t_radio, T_EDGE_1000, T_CLOUD_1000, t_back, "streamed")
    np.testing.assert_allclose(st, [13.563333, 31.72], atol=1e-6)
    # a radio delay longer than generation dominates when streamed, adds when stored
    assert float(delay.task_delay(1, 50.0, 1.0, 2.0, 0.5, "streamed")) == pytest.approx(50.0)
    assert float(delay.task_delay(1, 50.0, 1.0, 2.0, 0.5)) == pytest.approx(52.5)


def test_quality_met() -> None:
    # tau <= alpha tau_cloud + (1 - alpha) tau_edge, edge 0.684, cloud 0.887
    met = delay.quality_met([0, 1, 0, 0, 1], [0.7, 0.7, 0.684, 0.5, 0.9], 0.684, 0.887)
    np.testing.assert_array_equal(met, [False, True, True, True, False])


def test_reward_eq10() -> None:
    # r = T_target - t_total - r_penalty: 40 - 13.579333 = 26.420667; violated: -3.579333
    r = delay.reward([13.579333, 13.579333], [True, False], t_target=40.0, penalty=30.0)
    np.testing.assert_allclose(r, [26.420667, -3.579333], atol=1e-9)


def _one_task_scenario(service: str = "chat", **settings: object):
    # one user, two RBs of 1 Mbit/s each; 1000 tokens * 4 B * 8 = 32 000 bit
    doc = {"user_cell": [0], "rate_bps": [[1e6, 1e6]],
           "tasks": [{"user": 0, "service": service, "output_tokens": 1000}],
           "settings": dict(settings)}
    return from_document(doc)


def test_evaluator_reports_paper_generation_delays_for_1000_tokens() -> None:
    ds = _one_task_scenario(t_back_s=0.05)
    z = np.ones((1, 2), dtype=bool)  # C = 2 Mbit/s -> t_radio = 32 000 / 2e6 = 0.016 s
    edge = evaluate(ds, z, [False])
    assert float(edge["t_gen"][0]) == pytest.approx(0.23 + 1000 / 75, rel=1e-12)
    assert float(edge["t_backhaul"][0]) == 0.0
    assert float(edge["t_radio"][0]) == pytest.approx(0.016, rel=1e-12)
    assert float(edge["t_total"][0]) == pytest.approx(0.016 + 0.23 + 1000 / 75, rel=1e-12)
    cloud = evaluate(ds, z, [True])
    assert float(cloud["t_gen"][0]) == pytest.approx(0.42 + 1000 / 32, rel=1e-12)
    assert float(cloud["t_backhaul"][0]) == pytest.approx(0.05)
    assert float(cloud["t_total"][0]) == pytest.approx(0.016 + 0.05 + 0.42 + 1000 / 32, rel=1e-12)
    # totals: objective of eq. (4) is the sum of the task delays; capacity and RB count per user
    assert cloud.attrs["objective"] == pytest.approx(float(cloud["t_total"].sum()))
    assert float(cloud["capacity"][0]) == pytest.approx(2e6)
    assert int(cloud["n_rb"][0]) == 2


def test_evaluator_uses_the_scenario_backhaul_delay_and_one_rb() -> None:
    ds = _one_task_scenario(t_back_s=0.2)
    z = np.array([[True, False]])  # C = 1 Mbit/s -> t_radio = 0.032 s
    res = evaluate(ds, z, [True])
    assert float(res["t_total"][0]) == pytest.approx(0.032 + 0.2 + 31.67, rel=1e-12)


def test_evaluator_streamed_delivery() -> None:
    ds = _one_task_scenario(delivery="streamed", t_back_s=0.05)
    z = np.ones((1, 2), dtype=bool)
    res = evaluate(ds, z, [False])
    assert float(res["t_total"][0]) == pytest.approx(T_EDGE_1000, rel=1e-12)  # max(0.016, 13.56)
    res = evaluate(ds, z, [True])
    assert float(res["t_total"][0]) == pytest.approx(0.05 + T_CLOUD_1000, rel=1e-12)


def test_evaluator_user_without_rb_has_infinite_delay() -> None:
    ds = _one_task_scenario()
    res = evaluate(ds, np.zeros((1, 2), dtype=bool), [False])
    assert np.isinf(float(res["t_radio"][0])) and np.isinf(float(res["t_total"][0]))


def test_evaluator_reward_and_penalty() -> None:
    # regular chat task ("any" tier = min(0.684, 0.887)) at the edge: quality met, no penalty
    ds = _one_task_scenario(t_target_s=40.0, penalty_s=30.0)
    z = np.ones((1, 2), dtype=bool)
    res = evaluate(ds, z, [False])
    assert bool(res["quality_ok"][0]) and bool(res["constraints_ok"][0])
    assert float(res["reward"][0]) == pytest.approx(40.0 - (0.016 + T_EDGE_1000), rel=1e-12)
    assert res.attrs["feasible"] == 1
    # a quality-preferred science task ("cloud" tier = 0.887) at the edge misses (4e): penalty 30
    ds = _one_task_scenario("science", t_target_s=40.0, penalty_s=30.0)
    res = evaluate(ds, z, [False])
    assert not bool(res["quality_ok"][0]) and not bool(res["constraints_ok"][0])
    assert float(res["reward"][0]) == pytest.approx(40.0 - (0.016 + T_EDGE_1000) - 30.0, rel=1e-12)
    assert res.attrs["feasible"] == 0 and res.attrs["quality_success"] == 0.0
    # in the cloud it is met and unpenalised
    res = evaluate(ds, z, [True])
    assert bool(res["quality_ok"][0])
    assert float(res["reward"][0]) == pytest.approx(40.0 - (0.016 + 0.05 + T_CLOUD_1000), rel=1e-12)


def test_evaluator_rejects_two_users_on_one_rb() -> None:
    ds = from_document({"user_cell": [0, 0], "rate_bps": [[1e6, 1e6], [1e6, 1e6]],
                        "tasks": [{"user": 0, "service": "chat", "output_tokens": 10},
                                  {"user": 1, "service": "chat", "output_tokens": 10}]})
    with pytest.raises(InputError, match=r"rb=1"):
        evaluate(ds, np.array([[True, True], [False, True]]), [False, False])
    with pytest.raises(InputError, match="alpha"):
        evaluate(ds, np.array([[True, False], [False, True]]), [False])
    # users of different cells may share an RB (OFDMA within a cell only)
    ds2 = from_document({"user_cell": [0, 1], "rate_bps": [[1e6, 1e6], [1e6, 1e6]],
                         "tasks": [{"user": 0, "service": "chat", "output_tokens": 10},
                                   {"user": 1, "service": "chat", "output_tokens": 10}]})
    res = evaluate(ds2, np.ones((2, 2), dtype=bool), [False, False])
    np.testing.assert_allclose(res["capacity"].values, [2e6, 2e6])
