"""Split-inference equations (S1)-(S9): per-layer cost, roofline latency, delay, energy, memory.

The UE runs decoder layers ``1..l``, sends the hidden state (``b`` bits per element) on the
uplink, the edge runs ``l+1..L`` and the LM head and returns each token on the downlink.
``l = 0`` sends the token ids (edge-only), ``l = L`` sends nothing (UE-only). Every equation
of this family is here, numbered (S1)... as in ``docs/model.md`` ("Split inference").
The uplink rate comes from the toolkit's radio model (:func:`genoffload.delay.shannon_rate`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoffload.delay import radio_delay, shannon_rate
from genoffload.split.config import Device, LLMConfig

SCALE_BITS = 16
"""Per-token scale of a quantised hidden state, sent as bfloat16 [bit/token]."""


def layer_params(cfg: LLMConfig) -> int:
    """Parameters of one decoder layer, (S1a) [param].

    ``P = h n_h d + 2 h n_kv d + n_h d h + 3 h I + 2 h`` (query, key+value, output projection,
    gated MLP, two norms; biases and the small q/k norms ignored).
    """
    h, d = cfg.hidden, cfg.head_dim
    return h * cfg.heads * d + 2 * h * cfg.kv_heads * d + cfg.heads * d * h + 3 * h * cfg.intermediate + 2 * h


def embedding_params(cfg: LLMConfig) -> int:
    """Parameters of the token embedding ``V h`` (and as many again for an untied LM head) [param]."""
    return cfg.vocab * cfg.hidden


def kv_bytes_per_token(cfg: LLMConfig) -> float:
    """KV cache of one layer per token, (S1b): ``2 n_kv d s_kv`` [B/token]."""
    return 2 * cfg.kv_heads * cfg.head_dim * cfg.kv_bytes


def layer_flops(cfg: LLMConfig, tokens: int, context: int = 0) -> float:
    """FLOPs of one layer for ``tokens`` new tokens after ``context`` cached ones, (S1c) [FLOP].

    ``F = 2 P n + 4 n_h d sum_{i=1..n} (c + i)``: two FLOPs per weight and token, plus the
    attention scores and the weighted sum over every earlier position.
    """
    n = int(tokens)
    attended = n * context + n * (n + 1) / 2
    return 2.0 * layer_params(cfg) * n + 4.0 * cfg.heads * cfg.head_dim * attended


def layer_bytes(cfg: LLMConfig, tokens: int, context: int = 0) -> float:
    """Bytes one layer moves for ``tokens`` new tokens after ``context`` cached ones, (S1d) [B].

    ``B = P s_w + (c + n) s_KV + 2 n h s_w``: weights read once, the KV cache read and written,
    the hidden state in and out.
    """
    n = int(tokens)
    return (
        layer_params(cfg) * cfg.weight_bytes
        + (context + n) * kv_bytes_per_token(cfg)
        + 2 * n * cfg.hidden * cfg.weight_bytes
    )


def head_flops(cfg: LLMConfig, tokens: int) -> float:
    """FLOPs of the LM head for ``tokens`` positions, ``2 V h n`` [FLOP]."""
    return 2.0 * cfg.vocab * cfg.hidden * int(tokens)


def roofline_time(flops: float, nbytes: float, device: Device) -> float:
    """Roofline latency, (S2): ``t = max(F / Pi, B / beta)`` [s].

    Parameters
    ----------
    flops : float [FLOP]
    nbytes : float [B]
    device : Device
        ``Pi`` = ``peak_flops`` [FLOP/s], ``beta`` = ``mem_bandwidth`` [B/s].
    """
    return max(flops / device.peak_flops, nbytes / device.mem_bandwidth)


def layer_times(cfg: LLMConfig, device: Device, tokens: int, context: int = 0) -> np.ndarray:
    """Roofline time of each decoder layer, shape (L,) [s] (all layers alike)."""
    t = roofline_time(layer_flops(cfg, tokens, context), layer_bytes(cfg, tokens, context), device)
    return np.full(cfg.layers, t)


def head_time(cfg: LLMConfig, device: Device, tokens: int) -> float:
    """Roofline time of the final norm and LM head for ``tokens`` positions [s]."""
    return roofline_time(head_flops(cfg, tokens), embedding_params(cfg) * cfg.weight_bytes, device)


def payload_bits(cfg: LLMConfig, split: int, bits: int, tokens: int) -> float:
    """Uplink payload at split ``l``, (S3) [bit].

    ``D = n ceil(log2 V)`` for ``l = 0`` (token ids), ``D = n (h b + s)`` for ``0 < l < L`` with
    the per-token scale ``s`` = :data:`SCALE_BITS` when ``b < 16`` (bfloat16 needs none), ``0``
    for ``l = L``.
    """
    if split <= 0:
        return float(tokens * cfg.token_bits)
    if split >= cfg.layers:
        return 0.0
    return float(tokens * (cfg.hidden * bits + (SCALE_BITS if bits < 16 else 0)))


def uplink_rate(sinr_db: float, n_rb: int, rb_bandwidth: float = 180e3) -> float:
    """Uplink rate over ``n_rb`` RBs at one SINR, (S4) [bit/s]: ``R = N_RB b_q log2(1 + SINR)``.

    The summand of eq. (2) (:func:`genoffload.delay.shannon_rate`) times the RBs granted.
    """
    return float(n_rb * shannon_rate(rb_bandwidth, 10 ** (sinr_db / 10)))


@dataclass(frozen=True)
class SplitCost:
    """Delay, energy and memory of one split decision (S5)-(S9); see :func:`split_cost`."""

    ttft: float
    """Time to first token (S5) [s]."""
    tpot: float
    """Time per output token (S6) [s/token]."""
    request: float
    """Request delay (S7) [s]."""
    ue_compute: float
    """UE compute time of the request [s]."""
    uplink: float
    """Uplink air time of the request [s]."""
    ue_energy: float
    """UE energy (S8) [J] (NaN without a power figure)."""
    ue_memory: float
    """UE memory (S9) [B]."""


def split_cost(
    cfg: LLMConfig,
    ue: Device,
    edge: Device,
    split: int,
    bits: int,
    *,
    rate_up: float,
    rate_down: float,
    prompt: int,
    output: int,
    tx_power_w: float = 0.2,
    ue_times: np.ndarray | None = None,
) -> SplitCost:
    """Per-request delay, UE energy and UE memory of split ``l`` at ``b`` bits, (S5)-(S9).

    (S5) ``T_1 = sum_{i<=l} t^UE_i(n_p) + D(l,b,n_p)/R_up + sum_{i>l} t^E_i(n_p) + t_head``
    ``+ ceil(log2 V)/R_down``
    (S6) ``T_tok = sum_{i<=l} t^UE_i(1) + D(l,b,1)/R_up + sum_{i>l} t^E_i(1) + t_head(1)``
    ``+ ceil(log2 V)/R_down`` (decode at the mean context ``n_p + n_o/2``)
    (S7) ``T = T_1 + (n_o - 1) T_tok``
    (S8) ``E = P_UE t_UE + P_tx t_up``
    (S9) ``M = l (P s_w + (n_p + n_o) s_KV) + V h s_w [l >= 1 or l = L]`` (+ the LM head at ``l = L``).
    For ``l = L`` nothing crosses the link and the UE runs the head; for ``l = 0`` the edge
    embeds the token ids.

    Parameters
    ----------
    cfg : LLMConfig
    ue, edge : Device
    split : int [layer]
        ``l`` in ``0..L``.
    bits : int [bit/element]
        ``b`` of the hidden state.
    rate_up, rate_down : float [bit/s]
        Link rates, > 0.
    prompt, output : int [token]
        ``n_p`` prompt and ``n_o`` output tokens.
    tx_power_w : float [W]
        UE transmit power ``P_tx``.
    ue_times : ndarray, shape (L,), optional [s]
        Measured per-layer UE prefill times for ``prompt`` tokens (replaces the roofline of
        the UE prefill; decode stays roofline).
    """
    L = cfg.layers
    ctx = prompt + output // 2  # mean decode context [token]
    ue_pre = ue_times if ue_times is not None else layer_times(cfg, ue, prompt)
    edge_pre, edge_dec = layer_times(cfg, edge, prompt), layer_times(cfg, edge, 1, ctx)
    ue_dec = layer_times(cfg, ue, 1, ctx)
    on_ue = split >= L
    down = 0.0 if on_ue else float(radio_delay(cfg.token_bits, rate_down))
    up_pre = float(radio_delay(payload_bits(cfg, split, bits, prompt), rate_up))
    up_dec = float(radio_delay(payload_bits(cfg, split, bits, 1), rate_up))
    ue_c_pre = float(ue_pre[:split].sum()) + (head_time(cfg, ue, prompt) if on_ue else 0.0)
    ue_c_dec = float(ue_dec[:split].sum()) + (head_time(cfg, ue, 1) if on_ue else 0.0)
    edge_c_pre = float(edge_pre[split:].sum()) + (0.0 if on_ue else head_time(cfg, edge, prompt))
    edge_c_dec = float(edge_dec[split:].sum()) + (0.0 if on_ue else head_time(cfg, edge, 1))
    ttft = ue_c_pre + up_pre + edge_c_pre + down
    tpot = ue_c_dec + up_dec + edge_c_dec + down
    n_dec = max(output - 1, 0)
    ue_compute = ue_c_pre + n_dec * ue_c_dec
    uplink = up_pre + n_dec * up_dec
    energy = float("nan") if ue.power_w is None else ue.power_w * ue_compute + tx_power_w * uplink
    emb = embedding_params(cfg) * cfg.weight_bytes
    memory = split * (layer_params(cfg) * cfg.weight_bytes + (prompt + output) * kv_bytes_per_token(cfg))
    if split >= 1:
        memory += emb
    if on_ue and not cfg.tied_embeddings:
        memory += emb
    return SplitCost(ttft, tpot, ttft + n_dec * tpot, ue_compute, uplink, energy, float(memory))
