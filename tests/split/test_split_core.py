"""Split inference core: configs, devices, equations (S1)-(S9), channel (S10)-(S12), objectives."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from genoffload.errors import InputError
from genoffload.split.channel import (
    ChannelState,
    bit_error_rate,
    check_bits,
    corrupt_hidden,
    corrupt_tokens,
    dequantise,
    flip_bits,
    quantise,
)
from genoffload.split.config import config_from_dict, devices, get_config, get_device, shipped_configs
from genoffload.split.equations import (
    embedding_params,
    kv_bytes_per_token,
    layer_flops,
    layer_params,
    payload_bits,
    roofline_time,
    split_cost,
    uplink_rate,
)
from genoffload.split.problem import SplitProblem, check_rate, check_split


def total_params(name: str) -> float:
    cfg = get_config(name)
    emb = embedding_params(cfg) * (1 if cfg.tied_embeddings else 2)
    return cfg.layers * layer_params(cfg) + emb


@pytest.mark.parametrize(
    ("name", "published"),
    [
        ("llama2-7b", 6.74e9),  # Touvron et al. 2023: 6,738,415,616 parameters
        ("llama3-8b", 8.03e9),  # Meta model card: 8.03 B
        ("gemma3-270m", 2.68e8),  # Google: 270 M (170 M embedding + 100 M transformer)
        ("qwen2.5-0.5b", 4.94e8),  # Qwen2.5 report: 0.49 B
    ],
)
def test_parameter_counts_match_published_totals(name: str, published: float) -> None:
    assert total_params(name) == pytest.approx(published, rel=0.02)


def test_shipped_configs_have_sources_and_gemma_matches_the_gguf_architecture() -> None:
    cfgs = shipped_configs()
    assert {"gemma3-270m", "llama2-7b", "llama3-8b", "qwen2.5-0.5b"} <= set(cfgs)
    assert all(c.source for c in cfgs.values())
    g = cfgs["gemma3-270m"]
    assert (g.layers, g.hidden, g.heads, g.kv_heads, g.head_dim, g.vocab) == (18, 640, 4, 1, 256, 262144)
    assert kv_bytes_per_token(g) == 2 * 1 * 256 * 2
    assert g.token_bits == 18


def test_config_from_hf_json_and_missing_field() -> None:
    doc = {
        "num_hidden_layers": 2,
        "hidden_size": 64,
        "num_attention_heads": 4,
        "intermediate_size": 128,
        "vocab_size": 1000,
        "torch_dtype": "float32",
    }
    cfg = config_from_dict(doc)
    assert (cfg.kv_heads, cfg.head_dim, cfg.weight_bytes) == (4, 16, 4.0)
    nested = config_from_dict({"text_config": doc, "vision_config": {}})
    assert nested.layers == 2
    broken = dict(doc)
    del broken["hidden_size"]
    with pytest.raises(InputError, match=r"^config\.hidden_size: missing field"):
        config_from_dict(broken)
    with pytest.raises(InputError, match=r"config\.num_hidden_layers: must be a whole number"):
        config_from_dict({**doc, "num_hidden_layers": 0})


def test_devices_catalog_and_unknown_device() -> None:
    table = devices()
    assert {d.kind for d in table.values()} == {"ue", "edge"}
    assert all(d.source and d.peak_flops > 0 and d.mem_bandwidth > 0 for d in table.values())
    with pytest.raises(InputError, match=r"^ue: unknown device"):
        get_device("pocket-calculator", "ue")


def test_flops_are_two_per_weight_plus_attention() -> None:
    cfg = get_config("llama2-7b")
    assert layer_flops(cfg, 1, 0) == pytest.approx(2 * layer_params(cfg) + 4 * 32 * 128)
    # prefill of n tokens: sum over positions 1..n of the attended context
    n = 10
    assert layer_flops(cfg, n) == pytest.approx(2 * layer_params(cfg) * n + 4 * 32 * 128 * n * (n + 1) / 2)


def test_roofline_is_the_binding_bound() -> None:
    dev = get_device("nvidia-a100-40gb")
    assert roofline_time(1e12, 1.0, dev) == pytest.approx(1e12 / dev.peak_flops)
    assert roofline_time(1.0, 1e9, dev) == pytest.approx(1e9 / dev.mem_bandwidth)


def test_payload_bits_per_split() -> None:
    cfg = get_config("gemma3-270m")
    assert payload_bits(cfg, 0, 8, 10) == 10 * 18
    assert payload_bits(cfg, 5, 8, 10) == 10 * (640 * 8 + 16)
    assert payload_bits(cfg, 5, 16, 10) == 10 * 640 * 16
    assert payload_bits(cfg, 18, 8, 10) == 0


def test_uplink_rate_reuses_the_radio_model() -> None:
    assert uplink_rate(0.0, 10) == pytest.approx(10 * 180e3 * 1.0)  # log2(1 + 1) = 1
    assert uplink_rate(10 * math.log10(3), 1) == pytest.approx(180e3 * 2.0)


def test_split_cost_parts_add_up_and_memory_grows_with_the_split() -> None:
    cfg = get_config("gemma3-270m")
    ue, edge = get_device("raspberry-pi-5"), get_device("nvidia-l4")
    costs = [
        split_cost(cfg, ue, edge, s, 8, rate_up=1e7, rate_down=5e7, prompt=64, output=16)
        for s in range(cfg.layers + 1)
    ]
    for c in costs:
        assert c.request == pytest.approx(c.ttft + 15 * c.tpot)
        assert c.ue_energy == pytest.approx(7.0 * c.ue_compute + 0.2 * c.uplink)
    mem = [c.ue_memory for c in costs]
    assert mem[0] == 0 and all(b > a for a, b in itertools.pairwise(mem[1:]))
    assert costs[-1].uplink == 0  # UE-only sends nothing
    # UE compute grows with the split
    assert all(b.ue_compute > a.ue_compute for a, b in itertools.pairwise(costs))


def test_bit_error_rates_textbook_values() -> None:
    # BPSK at Eb/N0 = 9.6 dB: 1e-5 (Proakis); QPSK per-symbol SINR = 2 Eb/N0
    assert float(bit_error_rate(9.6, "bpsk")) == pytest.approx(1.0e-5, rel=0.1)
    assert float(bit_error_rate(9.6 + 10 * math.log10(2), "qpsk")) == pytest.approx(1.0e-5, rel=0.1)
    bers = [float(bit_error_rate(s, m)) for m in ("qpsk", "16qam", "64qam") for s in (10.0,)]
    assert bers == sorted(bers)  # denser constellations, more errors
    assert float(bit_error_rate(-30, "qpsk")) <= 0.5
    with pytest.raises(InputError, match=r"^modulation"):
        bit_error_rate(10, "8psk")


@pytest.mark.parametrize("bits", [4, 8])
def test_quantisation_error_is_half_a_step(bits: int) -> None:
    x = np.random.default_rng(0).normal(size=(5, 64)).astype(np.float32)
    codes, scale = quantise(x, bits)
    y = dequantise(codes, scale, bits)
    assert np.all(np.abs(y - x) <= scale / 2 * 1.01 + 1e-3)
    assert codes.max() < 2**bits


def test_bfloat16_path_and_bit_flips() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 32)).astype(np.float32)
    codes, scale = quantise(x, 16)
    assert np.allclose(dequantise(codes, scale, 16), x, rtol=1e-2)
    big = np.asarray([[1e5, -3e6, 1e-3]], np.float32)  # beyond float16's range
    assert np.allclose(dequantise(*quantise(big, 16), 16), big, rtol=1e-2)
    flipped = flip_bits(codes, 16, 0.5, rng)
    frac = np.unpackbits((flipped ^ codes).view(np.uint8)).mean()
    assert 0.4 < frac < 0.6
    y = dequantise(flipped, scale, 16)
    assert np.all(np.isfinite(y))  # non-finite bfloat16 becomes 0


def test_erasure_rate_and_clean_link() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(200, 64)).astype(np.float32) + 5
    clean = corrupt_hidden(x, 8, ChannelState(60.0, 0.0), rng)
    codes, scale = quantise(x, 8)
    assert np.array_equal(clean, dequantise(codes, scale, 8))
    erased = corrupt_hidden(x, 8, ChannelState(60.0, 0.2), rng)
    assert np.mean(erased == 0) == pytest.approx(0.2, abs=0.01)
    ids = np.arange(3, 1003)
    out = corrupt_tokens(ids, 1024, ChannelState(0.0, 0.0), rng)
    assert out.max() < 1024 and np.mean(out != ids) > 0.5


@pytest.mark.parametrize(("bad", "field"), [(3, "bits"), (True, "bits"), (32, "bits")])
def test_bits_not_supported(bad: object, field: str) -> None:
    with pytest.raises(InputError, match=rf"^{field}: not a supported precision"):
        check_bits(bad)


def test_split_and_rate_checks() -> None:
    with pytest.raises(InputError, match=r"^split: must be a whole number in 0\.\.18"):
        check_split(19, 18)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(InputError, match=r"^rate_up: must be a finite number > 0"):
            check_rate(bad, "rate_up")


def test_paper_reward_and_delay_objective() -> None:
    cfg = get_config("gemma3-270m")
    p = SplitProblem(cfg, get_device("raspberry-pi-5"), get_device("nvidia-l4"))
    s = ChannelState(12.0, 0.1)
    assert p.reward((1, 8), s, 20.0, 20.0) == pytest.approx(17 / 18)
    assert p.reward((1, 8), s, 22.0, 20.0) == pytest.approx(10 * (-0.1) + 17 / 18)
    d = SplitProblem(cfg, p.ue, p.edge, objective="delay", ppl_floor=0.05)
    ok = d.reward((4, 8), s, 20.5, 20.0)
    assert ok == pytest.approx(-d.cost((4, 8), s).request)
    assert d.reward((4, 8), s, 21.5, 20.0) == pytest.approx(ok - 100.0)
    assert len(p.actions()) == 17 * 3 + 2
