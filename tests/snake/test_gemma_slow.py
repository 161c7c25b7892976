"""A few real Snake steps of each kind on the embedded Gemma 3 270M (transformers reads the GGUF)."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.torchllm]


def test_gemma_snake_and_full_steps_measured() -> None:
    pytest.importorskip("transformers")
    from genoffload.snake.gemma import GemmaRun
    from genoffload.snake.gemma_run import compare_gemma

    ds = compare_gemma(GemmaRun(nodes=2, steps=1, seq=16, eval_seqs=2),
                       methods=("snake", "snake-fp32", "fedavg"))
    peak = ds.alloc_peak.max("node")
    p = {m: float(peak.sel({"method": m})) for m in ("snake", "snake-fp32", "fedavg")}
    assert p["snake"] < p["snake-fp32"] < p["fedavg"]
    ratio = ds.predicted / ds.alloc_peak
    assert np.all((ratio > 0.8) & (ratio < 1.2)), ratio.values  # eqs. S1, S2 against the allocator
    assert np.all(np.isfinite(ds.eval_loss.values)) and float(ds.base_loss) > 0
    assert list(ds.segment_start.sel({"method": "snake"}).values) == [0, 9]
