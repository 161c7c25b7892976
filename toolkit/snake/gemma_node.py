"""One node's Gemma fine-tuning job, in its own process: ``python -m genoffload.snake.gemma_node JOB``.

The job (JSON) says what the node holds and trains: ``mode`` ``full`` (every parameter, float32,
Adam) or ``snake`` (decoder layers ``[a, b]`` in float32 with Adam, every other parameter frozen
in ``frozen_dtype``). Inside one window the node loads its weights (``input``, as the node
would receive them), trains ``steps`` steps of ``batch`` x ``seq`` tokens from its shard and
saves what it uploads (``output``). Measured over that window: the CPU allocator's peak of live
tensor bytes (:class:`~genoffload.snake.measure.AllocatorPeak`) and the process RSS above its
value after the imports (:class:`~genoffload.snake.measure.RssPeak`, 2 ms samples), plus
``ru_maxrss``. Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _cast_inputs(module: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    """Forward pre-hook: floating inputs (hidden states, rotary tables) to the layer's dtype."""
    import torch

    dtype = next(module.parameters()).dtype

    def cast(v: Any) -> Any:
        if isinstance(v, torch.Tensor) and v.is_floating_point() and v.dtype != dtype:
            return v.to(dtype)
        if isinstance(v, tuple):
            return tuple(cast(x) for x in v)
        return v

    return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}


def main(path: str) -> None:
    job = json.loads(Path(path).read_text())
    import torch

    from genoffload.snake.gemma import build_model, sequences
    from genoffload.snake.measure import AllocatorPeak, RssPeak

    torch.set_num_threads(1)
    files = {k: Path(v) for k, v in job["files"].items()}
    ids = torch.load(files["tokens.pt"], weights_only=True)
    start, _ = job["shard"]
    xs = sequences(ids, start, job["steps"] * job["batch"], job["seq"], job["bos"])
    t0, c0 = time.perf_counter(), time.process_time()
    losses = []
    with RssPeak() as rss, AllocatorPeak() as alloc:
        state = torch.load(job["input"], weights_only=True)
        model = build_model(files, state)
        del state
        layers = model.model.layers
        if job["mode"] == "full":
            params = list(model.parameters())
        else:
            a, b = job["segment"]
            for p in model.parameters():
                p.requires_grad_(False)
            params = [p for lay in layers[a:b + 1] for p in lay.parameters()]
            for p in params:
                p.requires_grad_(True)
            if any(p.dtype != torch.float32 for p in model.parameters()):
                for lay in layers:
                    lay.register_forward_pre_hook(_cast_inputs, with_kwargs=True)
                model.model.norm.register_forward_pre_hook(_cast_inputs, with_kwargs=True)
        opt = torch.optim.Adam(params, lr=job["lr"], foreach=False)
        for s in range(job["steps"]):
            x = xs[s * job["batch"]:(s + 1) * job["batch"]]
            loss = model(input_ids=x, labels=x).loss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        if job["mode"] == "full":
            out = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
        else:
            out = {f"model.layers.{i}.{k}": v for i in range(a, b + 1)
                   for k, v in layers[i].state_dict().items()}
        torch.save(out, job["output"])
        del out, opt, model, params
    print(json.dumps({"node": job["node"], "mode": job["mode"], "segment": job.get("segment"),
                      "alloc_peak": alloc.peak, "rss_peak": rss.peak, "rss_base": rss.base,
                      "ru_maxrss": rss.maxrss, "losses": losses,
                      "wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0}))


if __name__ == "__main__":
    main(sys.argv[1])
