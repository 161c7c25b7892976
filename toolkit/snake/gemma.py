"""Gemma 3 270M (the embedded GGUF, read by transformers) fine-tuned per node: FedAvg (full
fine-tuning on every node) against Snake slices, memory measured in each node's own process.

Text: Python's ``pydoc_data.topics`` (the language reference, ~465 k characters, ships with
Python), topics in key order, tokenized by the GGUF's tokenizer. The last ``eval_seqs``
sequences are held out; the rest is cut into one contiguous shard per node.

Cache (``~/.cache/genoffload/snake``, or ``$GENOFFLOAD_CACHE/snake``): the de-quantised float32
weights (``torch.save``, the tied ``lm_head`` left out), the non-persistent buffers, the config
and the token ids -- the GGUF is read once (~70 s).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from genoffload.errors import InputError


def cache_dir() -> Path:
    root = Path(os.environ.get("GENOFFLOAD_CACHE", Path.home() / ".cache" / "genoffload"))
    return root / "snake"


def _files(root: Path) -> dict[str, Path]:
    return {k: root / f"gemma3-270m-{k}" for k in ("state.pt", "buffers.pt", "config.json", "tokens.pt")}


def prepare(root: Path | None = None) -> dict[str, Path]:
    """The cached float32 weights, buffers, config and tokens (made on first use)."""
    import torch

    root = root or cache_dir()
    files = _files(root)
    if all(p.is_file() for p in files.values()):
        return files
    from pydoc_data.topics import topics

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genoffload.llm.embedded import embedded_model_path

    path = embedded_model_path()
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                 dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    root.mkdir(parents=True, exist_ok=True)
    text = "\n\n".join(topics[k] for k in sorted(topics))
    ids = torch.tensor(tok(text)["input_ids"], dtype=torch.int32)
    state = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    persistent = set(model.state_dict())
    buffers = {k: v for k, v in model.named_buffers() if k not in persistent}
    cfg = {"class": type(model).__name__, "config": model.config.to_dict()}
    for key, obj in (("state.pt", state), ("buffers.pt", buffers), ("tokens.pt", ids)):
        tmp = files[key].with_suffix(".tmp")
        torch.save(obj, tmp)
        os.replace(tmp, files[key])
    files["config.json"].write_text(json.dumps(cfg, default=str))
    return files


def build_model(files: dict[str, Path], state: dict[str, Any]) -> Any:
    """A Gemma3ForCausalLM on the given tensors (built on the meta device, then assigned:
    no second copy of the weights), eager attention, ``lm_head`` tied to the embedding."""
    import torch
    import transformers

    info = json.loads(files["config.json"].read_text())
    cfg_dict = dict(info["config"])
    cls = getattr(transformers, info["class"])
    config = cls.config_class.from_dict(cfg_dict)
    config._attn_implementation = "eager"
    with torch.device("meta"):
        model = cls(config)
    model.load_state_dict(state, strict=False, assign=True)
    for name, buf in torch.load(files["buffers.pt"], weights_only=True).items():
        mod, _, attr = name.rpartition(".")
        model.get_submodule(mod)._buffers[attr] = buf
    model.lm_head.weight = model.model.embed_tokens.weight
    return model


@dataclass(frozen=True)
class GemmaRun:
    """One language-model comparison (sizes in tokens / steps)."""

    nodes: int = 6
    steps: int = 5
    batch: int = 1
    seq: int = 64
    lr: float = 5e-5
    eval_seqs: int = 16
    frozen_dtype: str = "bfloat16"  # Snake's frozen layers (the paper's fp16); "float32" too

    def check(self, n_layers: int = 18) -> None:
        if self.nodes < 1:
            raise InputError("nodes.count", self.nodes, "must be at least 1")
        if self.nodes > n_layers:
            raise InputError("nodes.count", self.nodes, f"more nodes than decoder layers ({n_layers})")
        for name in ("steps", "batch", "eval_seqs"):
            if getattr(self, name) < 1:
                raise InputError(name, getattr(self, name), "must be at least 1")
        if not 8 <= self.seq <= 1024:
            raise InputError("seq", self.seq, "must be in [8, 1024] tokens")
        if self.frozen_dtype not in ("bfloat16", "float32"):
            raise InputError("frozen_dtype", self.frozen_dtype, "must be bfloat16 or float32")


def sequences(ids: Any, start: int, count: int, seq: int, bos: int) -> Any:
    """``count`` samples of ``seq`` tokens from ``ids[start:]``: ``<bos>`` and ``seq - 1`` text
    tokens each (Gemma scores a text without ``<bos>`` far worse: held-out loss 7.0 against 4.1
    measured mid-text)."""
    import torch

    body = ids[start:start + count * (seq - 1)].long().view(count, seq - 1)
    return torch.cat([torch.full((count, 1), bos, dtype=torch.long), body], dim=1)


def bos_id(files: dict[str, Path]) -> int:
    return int(json.loads(files["config.json"].read_text())["config"].get("bos_token_id", 2))


def node_shards(n_tokens: int, run: GemmaRun) -> tuple[list[tuple[int, int]], tuple[int, int]]:
    """Token ranges [start, stop) of each node's shard and of the held-out part."""
    held = run.eval_seqs * (run.seq - 1)
    need = run.steps * run.batch * (run.seq - 1)
    usable = n_tokens - held
    if usable < run.nodes * need:
        raise InputError("steps", run.steps, f"the text has {usable} training tokens, "
                         f"{run.nodes} nodes x {need} are needed")
    size = usable // run.nodes
    return [(k * size, k * size + need) for k in range(run.nodes)], (usable, n_tokens)


def run_node(job: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """Run one node's job in a fresh Python process (its memory measured there)."""
    spec = workdir / f"job-{job['node']}.json"
    spec.write_text(json.dumps(job))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-m", "genoffload.snake.gemma_node", str(spec)],
                         capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        tail = " | ".join(out.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"node {job['node']} failed (exit {out.returncode}): {tail}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def eval_loss(model: Any, ids: Any, run: GemmaRun, held: tuple[int, int], bos: int) -> float:
    """Mean next-token cross-entropy [nat] on the held-out sequences."""
    import torch

    xs = sequences(ids, held[0], run.eval_seqs, run.seq, bos)
    losses = []
    with torch.no_grad():
        for k in range(run.eval_seqs):
            x = xs[k:k + 1]
            losses.append(float(model(input_ids=x, labels=x).loss))
    return sum(losses) / len(losses)


def job_base(run: GemmaRun, files: dict[str, Path]) -> dict[str, Any]:
    return {**asdict(run), "files": {k: str(v) for k, v in files.items()}, "bos": bos_id(files)}


__all__ = [
    "GemmaRun",
    "bos_id",
    "build_model",
    "cache_dir",
    "eval_loss",
    "job_base",
    "node_shards",
    "prepare",
    "run_node",
    "sequences",
]
