"""Layer-wise model descriptions for the Snake Learning cost model and planner.

A :class:`ModelSpec` lists a model layer by layer: parameters, activations kept for the
backward pass per sample, forward FLOPs per sample and the largest single parameter tensor.
Two models ship: the digits CNN (:func:`digits_cnn_spec`, the exact architecture of
:class:`genoffload.snake.digits.DigitsCNN`) and Gemma 3 270M (:func:`gemma_spec`, read from the
embedded GGUF's metadata with the ``gguf`` package, no weights loaded).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genoffload.errors import InputError


@dataclass(frozen=True)
class LayerSpec:
    """One layer (the unit a Snake node trains).

    Attributes
    ----------
    name : str
    params : int [1]
        Number of parameters.
    acts : float [1 per sample]
        Activation elements the layer keeps for its backward pass, per sample.
    flops : float [FLOP per sample]
        Forward floating-point operations per sample.
    largest_tensor : int [1]
        Elements of its largest parameter tensor (the optimizer step's temporary).
    trainable : bool
        Whether Snake Learning may assign it to a node (Gemma's embedding is frozen, as the
        paper trains the middle layers).
    """

    name: str
    params: int
    acts: float
    flops: float
    largest_tensor: int = 0
    trainable: bool = True


@dataclass(frozen=True)
class ModelSpec:
    """A model layer by layer, input to output.

    ``workspace`` [elements per sample] is what the loss keeps beyond the layers (logits, their
    log-softmax and its gradient).
    """

    name: str
    layers: tuple[LayerSpec, ...]
    workspace: float = 0.0
    tied_params: int = 0  # parameters shared by two layers (counted once in ``params``)
    meta: dict[str, float] = field(default_factory=dict)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def trainable(self) -> list[int]:
        """Indices of the layers Snake Learning may assign to a node (contiguous)."""
        return [i for i, lay in enumerate(self.layers) if lay.trainable]

    @property
    def params(self) -> int:
        return sum(lay.params for lay in self.layers)


def _conv(name: str, c_in: int, c_out: int, side: int) -> LayerSpec:
    """A 3x3 same-padding convolution with bias and ReLU on a ``side`` x ``side`` map."""
    params = 9 * c_in * c_out + c_out
    out = c_out * side * side
    # saved: the input (for the weight gradient) and the ReLU output
    return LayerSpec(name, params, acts=c_in * side * side + out, flops=2.0 * 9 * c_in * out,
                     largest_tensor=9 * c_in * c_out)


def _linear(name: str, n_in: int, n_out: int, relu: bool) -> LayerSpec:
    return LayerSpec(name, n_in * n_out + n_out, acts=n_in + (n_out if relu else 0),
                     flops=2.0 * n_in * n_out, largest_tensor=n_in * n_out)


DIGITS_CHANNELS = (32, 32, 32, 64, 64, 64, 64, 64)
"""Output channels of the digits CNN's eight convolutions (max-pool after the 3rd and 6th)."""
DIGITS_POOL_AFTER = (2, 5)
DIGITS_HIDDEN = 64


def digits_cnn_spec(classes: int = 10) -> ModelSpec:
    """The digits CNN (8x8 grey images): eight 3x3 convolutions and two linear layers.

    Ten layers, so that up to ten nodes each train one; matches
    :class:`genoffload.snake.digits.DigitsCNN` parameter for parameter (a test checks it).
    """
    layers, c_in, side = [], 1, 8
    for i, c_out in enumerate(DIGITS_CHANNELS):
        lay = _conv(f"conv{i + 1}", c_in, c_out, side)
        if i in DIGITS_POOL_AFTER:  # the pool keeps its input (the ReLU output, counted) and index
            side //= 2
            lay = LayerSpec(lay.name, lay.params, lay.acts + c_out * side * side, lay.flops,
                            lay.largest_tensor)
        layers.append(lay)
        c_in = c_out
    flat = c_in * side * side
    layers.append(_linear("fc1", flat, DIGITS_HIDDEN, relu=True))
    layers.append(_linear("fc2", DIGITS_HIDDEN, classes, relu=False))
    return ModelSpec("digits-cnn", tuple(layers), workspace=3.0 * classes)


# Gemma 3 decoder layer: activation elements kept per token, in units of the sizes below
# (counted from transformers' Gemma3DecoderLayer with eager attention: 4 RMSNorm inputs and the
# residual sums, q/k/v and their norms and rotary outputs, scores and probabilities, the MLP's
# gate, up, GELU and product); see docs/snake.md.
GEMMA_ACT_HIDDEN = 10  # x hidden size
GEMMA_ACT_Q = 4  # x heads * head_dim
GEMMA_ACT_KV = 4  # x kv heads * head_dim (k and v)
GEMMA_ACT_SCORES = 2  # x heads * sequence length (scores, probabilities)
GEMMA_ACT_FFN = 5  # x intermediate size
GEMMA_LOGIT_COPIES = 3  # logits, their fp32 log-softmax and its gradient


def gemma_layer_counts(hidden: int, inter: int, heads: int, kv_heads: int, head_dim: int,
                       vocab: int, n_layers: int, seq: int) -> ModelSpec:
    """Layer-wise description of a Gemma 3 model from its sizes (sequence ``seq`` tokens =
    one sample). Layer 0 is the (tied) embedding, frozen for Snake Learning."""
    q, kv = heads * head_dim, kv_heads * head_dim
    attn = hidden * q + 2 * hidden * kv + q * hidden + 2 * head_dim
    mlp = 3 * hidden * inter
    norms = 4 * hidden
    per_layer = attn + mlp + norms
    acts_tok = (GEMMA_ACT_HIDDEN * hidden + GEMMA_ACT_Q * q + GEMMA_ACT_KV * kv
                + GEMMA_ACT_SCORES * heads * seq + GEMMA_ACT_FFN * inter)
    flops_tok = 2.0 * (attn + mlp) + 4.0 * heads * head_dim * seq
    layers = [LayerSpec("embed", vocab * hidden + hidden, acts=hidden * seq,
                        flops=2.0 * vocab * hidden * seq, largest_tensor=vocab * hidden,
                        trainable=False)]
    layers += [LayerSpec(f"layer{i}", per_layer, acts=acts_tok * seq, flops=flops_tok * seq,
                         largest_tensor=hidden * inter) for i in range(n_layers)]
    return ModelSpec("gemma3-270m", tuple(layers), workspace=GEMMA_LOGIT_COPIES * vocab * seq,
                     tied_params=vocab * hidden,
                     meta={"hidden": hidden, "vocab": vocab, "seq": seq, "layers": n_layers})


def gemma_spec(seq: int = 64, path: Path | str | None = None) -> ModelSpec:
    """Gemma 3 270M from the embedded GGUF's metadata (``gguf.GGUFReader``; no weights loaded).

    Parameters
    ----------
    seq : int [tokens]
        Tokens per sample.
    path : path, optional
        A GGUF file; default the embedded model (``genoffload.llm.embedded_model_path``).
    """
    if seq < 2:
        raise InputError("model.seq", seq, "must be at least 2 tokens")
    from gguf import GGUFReader

    if path is None:
        from genoffload.llm.embedded import embedded_model_path

        path = embedded_model_path()
    reader = GGUFReader(str(path))
    arch = _field(reader, "general.architecture")

    def num(key: str) -> int:
        return int(_field(reader, f"{arch}.{key}"))

    vocab = len(reader.fields["tokenizer.ggml.tokens"].data)
    return gemma_layer_counts(hidden=num("embedding_length"), inter=num("feed_forward_length"),
                              heads=num("attention.head_count"), kv_heads=num("attention.head_count_kv"),
                              head_dim=num("attention.key_length"), vocab=vocab,
                              n_layers=num("block_count"), seq=seq)


def _field(reader: object, key: str) -> Any:
    return reader.fields[key].contents()  # type: ignore[attr-defined]


MODELS = ("digits-cnn", "gemma3-270m")


def model_spec(name: str, seq: int = 64) -> ModelSpec:
    """The spec of a shipped model by name (:data:`MODELS`)."""
    if name == "digits-cnn":
        return digits_cnn_spec()
    if name == "gemma3-270m":
        return gemma_spec(seq)
    raise InputError("model", name, f"unknown model (one of {', '.join(MODELS)})")


__all__ = ["MODELS", "LayerSpec", "ModelSpec", "digits_cnn_spec", "gemma_layer_counts", "gemma_spec",
           "model_spec"]
