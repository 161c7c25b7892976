"""The language comparison: one FedAvg round of full fine-tuning against one Snake round
(each node its slice of decoder layers), Gemma 3 270M, the same sample-steps per node.

Each node runs in its own process (:mod:`genoffload.snake.gemma_node`); this process keeps the
float32 master (FedAvg: the running average) and evaluates the held-out loss.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from genoffload.snake import cost
from genoffload.snake.gemma import (
    GemmaRun,
    bos_id,
    build_model,
    eval_loss,
    job_base,
    node_shards,
    prepare,
    run_node,
)
from genoffload.snake.layers import gemma_spec


def decoder_segments(n_layers: int, nodes: int) -> list[tuple[int, int, int]]:
    """Node ``k`` trains the ``k``-th of ``nodes`` near-equal runs of decoder layers."""
    cuts = np.linspace(0, n_layers, nodes + 1).round().astype(int)
    return [(k, int(cuts[k]), int(cuts[k + 1] - 1)) for k in range(nodes)]


def _training(run: GemmaRun, frozen: str) -> cost.Training:
    return cost.Training(frozen=2.0 if frozen == "bfloat16" else 4.0, batch=run.batch)


def compare_gemma(run: GemmaRun, methods: tuple[str, ...] = ("fedavg", "snake"),
                  segments: list[tuple[int, int, int]] | None = None, progress: Any = None,
                  workdir: Path | None = None) -> xr.Dataset:
    """Measured peak memory per node and held-out loss after one round of each method.

    ``methods``: ``fedavg`` (full fine-tuning per node, averaged), ``snake`` (frozen layers in
    ``run.frozen_dtype``) and ``snake-fp32`` (frozen layers in float32). Segments are decoder
    layer ranges ``(node, a, b)``; default near-equal.
    """
    import torch

    torch.set_num_threads(1)
    spec = gemma_spec(run.seq)
    n_dec = spec.n_layers - 1
    run.check(n_dec)
    files = prepare()
    ids = torch.load(files["tokens.pt"], weights_only=True)
    shards, held = node_shards(len(ids), run)
    segs = segments or decoder_segments(n_dec, run.nodes)
    say = progress or (lambda msg: None)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        work = Path(tmp)
        state = torch.load(files["state.pt"], weights_only=True)
        model = build_model(files, state)
        base = eval_loss(model, ids, run, held, bos_id(files))
        del model, state
        say(f"base model: held-out loss {base:.4f}")
        records, losses = [], {"base": base}
        for method in methods:
            if method == "fedavg":
                rec, loss = _fedavg(run, files, shards, work, say)
            else:
                frozen = "float32" if method == "snake-fp32" else run.frozen_dtype
                rec, loss = _snake(run, files, shards, segs, frozen, work, say)
            for r in rec:
                r["method"] = method
                r["predicted"] = (cost.memory_full(spec, _training(run, "float32")) if method == "fedavg"
                                  else cost.memory_snake(spec, r["segment"][0] + 1, r["segment"][1] + 1,
                                                         _training(run, frozen)))
            records += rec
            losses[method] = loss
            say(f"{method}: held-out loss {loss:.4f}")
    return _dataset(run, records, losses, methods)


def _fedavg(run: GemmaRun, files: dict[str, Path], shards: list, work: Path, say: Any) -> tuple[list, float]:
    import torch

    base = job_base(run, files)
    acc: dict[str, Any] = {}
    recs = []
    for m in range(run.nodes):
        out = work / f"fedavg-{m}.pt"
        rec = run_node({**base, "node": m, "mode": "full", "shard": shards[m],
                        "input": str(files["state.pt"]), "output": str(out)}, work)
        rec["segment"] = None
        recs.append(rec)
        sd = torch.load(out, weights_only=True)
        for k, v in sd.items():
            if k in acc:
                acc[k] += v / run.nodes
            else:
                acc[k] = v / run.nodes
        del sd
        out.unlink()
        say(f"fedavg node {m}: peak {rec['alloc_peak'] / 2**30:.2f} GiB (allocator), "
            f"{rec['rss_peak'] / 2**30:.2f} GiB (RSS)")
    model = build_model(files, acc)
    ids = torch.load(files["tokens.pt"], weights_only=True)
    return recs, eval_loss(model, ids, run, node_shards(len(ids), run)[1], bos_id(files))


def _snake(run: GemmaRun, files: dict[str, Path], shards: list, segs: list, frozen: str, work: Path,
           say: Any) -> tuple[list, float]:
    import torch

    base = job_base(run, files)
    master = torch.load(files["state.pt"], weights_only=True)
    dtype = getattr(torch, frozen)
    recs = []
    for m, a, b in segs:
        own = tuple(f"model.layers.{i}." for i in range(a, b + 1))
        held = {k: (v if k.startswith(own) else v.to(dtype)) for k, v in master.items()}
        inp, out = work / f"snake-in-{m}.pt", work / f"snake-out-{m}.pt"
        torch.save(held, inp)
        del held
        rec = run_node({**base, "node": m, "mode": "snake", "segment": [a, b], "shard": shards[m],
                        "input": str(inp), "output": str(out)}, work)
        recs.append(rec)
        master.update(torch.load(out, weights_only=True))
        inp.unlink()
        out.unlink()
        say(f"snake node {m} layers [{a}, {b}]: peak {rec['alloc_peak'] / 2**30:.2f} GiB (allocator), "
            f"{rec['rss_peak'] / 2**30:.2f} GiB (RSS)")
    model = build_model(files, master)
    ids = torch.load(files["tokens.pt"], weights_only=True)
    return recs, eval_loss(model, ids, run, node_shards(len(ids), run)[1], bos_id(files))


def _dataset(run: GemmaRun, records: list[dict], losses: dict[str, float], methods: tuple) -> xr.Dataset:
    methods = tuple(methods)
    shape = (len(methods), run.nodes)
    arrays = {k: np.full(shape, np.nan) for k in ("alloc_peak", "rss_peak", "predicted", "ru_maxrss",
                                                  "cpu_s", "first_loss", "last_loss")}
    seg_a = np.full(shape, -1)
    seg_b = np.full(shape, -1)
    for r in records:
        i, m = methods.index(r["method"]), r["node"]
        for k in ("alloc_peak", "rss_peak", "predicted", "ru_maxrss", "cpu_s"):
            arrays[k][i, m] = r[k]
        arrays["first_loss"][i, m], arrays["last_loss"][i, m] = r["losses"][0], r["losses"][-1]
        if r["segment"] is not None:
            seg_a[i, m], seg_b[i, m] = r["segment"]
    ds = xr.Dataset({k: (("method", "node"), v) for k, v in arrays.items()},
                    coords={"method": list(methods), "node": np.arange(run.nodes)})
    ds["segment_start"] = (("method", "node"), seg_a)
    ds["segment_stop"] = (("method", "node"), seg_b)
    ds["eval_loss"] = ("method", [losses[m] for m in methods])
    ds["base_loss"] = losses["base"]
    ds.attrs.update({"nodes": run.nodes, "steps": run.steps, "batch": run.batch, "seq": run.seq,
                     "lr": run.lr, "frozen_dtype": run.frozen_dtype,
                     "text": "pydoc_data.topics (Python's language reference)",
                     "memory_measure": "alloc_peak: torch profiler, peak live CPU-allocator bytes in the "
                                       "node's window (load, train, save); rss_peak: process RSS above "
                                       "its value after the imports (2 ms samples)"})
    return ds


__all__ = ["compare_gemma", "decoder_segments"]
