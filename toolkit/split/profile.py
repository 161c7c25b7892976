"""Per-layer profile of an LLM on a UE and an edge device: (S1)-(S3), roofline, optionally measured."""

from __future__ import annotations

from typing import Any

import numpy as np

from genoffload.split.config import get_config, get_device
from genoffload.split.equations import (
    kv_bytes_per_token,
    layer_bytes,
    layer_flops,
    layer_params,
    layer_times,
    payload_bits,
)


def profile_table(
    model: str, ue: str, edge: str, tokens: int, measured: bool = False, repeats: int = 1
) -> Any:
    """One row per split point ``l = 0..L`` (polars).

    Columns: ``layer`` (the layer ending at split ``l``; 0 = embedding), ``params`` [param],
    ``flops`` [FLOP] and ``bytes`` [B] of the layer for ``tokens`` prefill tokens,
    ``kv_per_token`` [B/token], the hidden state crossing at split ``l`` for 8 and 16 bits
    [bit] (token ids at ``l = 0``), the roofline time on the UE and the edge [s], and with
    ``measured``: the layer's measured time on this machine [s] (the embedded Gemma 3 270M,
    ``tokens`` tokens of the reference text) and roofline/measured on the ``this-vm-2core``
    device profile.
    """
    import polars as pl

    cfg = get_config(model)
    u, e = get_device(ue, "ue"), get_device(edge, "edge")
    t_ue, t_edge = layer_times(cfg, u, tokens), layer_times(cfg, e, tokens)
    rows = []
    for split in range(cfg.layers + 1):
        first = split == 0
        rows.append(
            {
                "split": split,
                "params": 0 if first else layer_params(cfg),
                "flops": 0.0 if first else layer_flops(cfg, tokens),
                "bytes": 0.0 if first else layer_bytes(cfg, tokens),
                "kv_per_token": 0.0 if first else kv_bytes_per_token(cfg),
                "payload_8bit": payload_bits(cfg, split, 8, tokens),
                "payload_16bit": payload_bits(cfg, split, 16, tokens),
                "roofline_ue_s": 0.0 if first else float(t_ue[split - 1]),
                "roofline_edge_s": 0.0 if first else float(t_edge[split - 1]),
            }
        )
    frame = pl.DataFrame(rows)
    if measured:
        from genoffload.errors import InputError
        from genoffload.split.quality import embedded_runner

        if cfg.name != "gemma3-270m":
            raise InputError("model", model, "--measured times the embedded gemma3-270m only")
        runner = embedded_runner(tokens)
        runner.prepare()
        t = runner.time_layers(repeats)
        roof = layer_times(cfg, get_device("this-vm-2core"), len(runner.ids))
        frame = frame.with_columns(
            pl.Series("measured_s", np.r_[0.0, t]),
            pl.Series("roofline_this_vm_s", np.r_[0.0, roof]),
            pl.Series("roofline_over_measured", np.r_[np.nan, roof / t]),
        )
    return frame
