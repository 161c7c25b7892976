"""LLM layer configurations and device profiles for split inference: data tables with sources.

The shipped tables live in the catalog (``genoffload/catalog/llm_configs.csv``,
``genoffload/catalog/devices.csv``; units in ``attributes.csv``). A user's own model comes from a
Hugging Face ``config.json`` (:func:`config_from_json`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from genoffload.errors import InputError
from genoffload.io import load_json, read_text

CONFIG_FIELDS = ("layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab")
"""Integer architecture fields every config must give."""
HF_KEYS = {
    "layers": "num_hidden_layers",
    "hidden": "hidden_size",
    "heads": "num_attention_heads",
    "intermediate": "intermediate_size",
    "vocab": "vocab_size",
}
"""``config.json`` key of each required field (``kv_heads`` and ``head_dim`` have defaults)."""
DTYPE_BYTES = {"float32": 4.0, "float16": 2.0, "bfloat16": 2.0, "int8": 1.0}


@dataclass(frozen=True)
class LLMConfig:
    """Architecture of a decoder-only transformer (gated MLP, grouped-query attention).

    Attributes
    ----------
    name : str
    layers : int [1]
        Decoder layers ``L``.
    hidden : int [1]
        Hidden size ``h``.
    heads, kv_heads, head_dim : int [1]
        Query heads, key/value heads, head dimension.
    intermediate : int [1]
        MLP intermediate size.
    vocab : int [token]
        Vocabulary size ``V``.
    tied_embeddings : bool
        Embedding and LM head share one matrix.
    weight_bytes : float [B/param]
    kv_bytes : float [B/element]
    source : str
    """

    name: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied_embeddings: bool = False
    weight_bytes: float = 2.0
    kv_bytes: float = 2.0
    source: str = ""

    @property
    def token_bits(self) -> int:
        """Bits of one token id, ``ceil(log2 V)`` [bit]."""
        return max(1, math.ceil(math.log2(self.vocab)))


@dataclass(frozen=True)
class Device:
    """Compute profile of a device (roofline parameters).

    Attributes
    ----------
    name, kind : str
        ``kind`` is ``ue`` or ``edge``.
    peak_flops : float [FLOP/s]
    mem_bandwidth : float [B/s]
    memory : float [B]
    power_w : float or None [W]
    source : str
    """

    name: str
    kind: str
    peak_flops: float
    mem_bandwidth: float
    memory: float
    power_w: float | None
    source: str = ""


def _table(name: str) -> pl.DataFrame:
    with resources.as_file(resources.files("genoffload.catalog") / name) as path:
        return pl.read_csv(path, infer_schema_length=None)


def _check_config(cfg: LLMConfig, where: str) -> LLMConfig:
    for f in CONFIG_FIELDS:
        v = getattr(cfg, f)
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise InputError(f"{where}.{f}", v, "must be a whole number >= 1")
    if cfg.heads % cfg.kv_heads:
        raise InputError(f"{where}.kv_heads", cfg.kv_heads, f"must divide heads ({cfg.heads})")
    for f in ("weight_bytes", "kv_bytes"):
        v = getattr(cfg, f)
        if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
            raise InputError(f"{where}.{f}", v, "must be a number > 0")
    return cfg


def shipped_configs() -> dict[str, LLMConfig]:
    """The shipped LLM configs by name (catalog ``llm_configs.csv``)."""
    out = {}
    for row in _table("llm_configs.csv").iter_rows(named=True):
        cfg = LLMConfig(
            name=row["name"],
            tied_embeddings=bool(row["tied_embeddings"]),
            weight_bytes=float(row["weight_bytes"]),
            kv_bytes=float(row["kv_bytes"]),
            source=row["source"],
            **{f: int(row[f]) for f in CONFIG_FIELDS},
        )
        out[cfg.name] = _check_config(cfg, f"llm_configs[{cfg.name}]")
    return out


def config_from_dict(data: Any, where: str = "config", name: str = "custom") -> LLMConfig:
    """An :class:`LLMConfig` from a Hugging Face ``config.json`` mapping.

    Multimodal configs keep the language model under ``text_config``; ``dtype`` or
    ``torch_dtype`` sets the weight bytes (default 2).

    Raises
    ------
    InputError
        A missing or non-integer field, named ``config.<key>``.
    """
    if not isinstance(data, dict):
        raise InputError(where, type(data).__name__, "must be a JSON object")
    if isinstance(data.get("text_config"), dict):
        data, where = data["text_config"], f"{where}.text_config"
    values: dict[str, Any] = {}
    for field, key in HF_KEYS.items():
        if key not in data:
            raise InputError(f"{where}.{key}", None, "missing field")
        values[field] = data[key]
    values["kv_heads"] = data.get("num_key_value_heads", values["heads"])
    hidden, heads = values["hidden"], values["heads"]
    default_hd = hidden // heads if isinstance(hidden, int) and isinstance(heads, int) and heads else 0
    values["head_dim"] = data.get("head_dim") or default_hd
    for field in CONFIG_FIELDS:
        v = values[field]
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            key = {**HF_KEYS, "kv_heads": "num_key_value_heads", "head_dim": "head_dim"}[field]
            raise InputError(f"{where}.{key}", v, "must be a whole number >= 1")
    dtype = str(data.get("dtype") or data.get("torch_dtype") or "bfloat16")
    if dtype not in DTYPE_BYTES:
        raise InputError(f"{where}.torch_dtype", dtype, f"must be one of {', '.join(DTYPE_BYTES)}")
    cfg = LLMConfig(
        name=name,
        tied_embeddings=bool(data.get("tie_word_embeddings", False)),
        weight_bytes=DTYPE_BYTES[dtype],
        kv_bytes=DTYPE_BYTES[dtype],
        source=f"config.json ({where})",
        **values,
    )
    return _check_config(cfg, where)


def config_from_json(path: Path | str) -> LLMConfig:
    """An :class:`LLMConfig` read from a ``config.json`` file (see :func:`config_from_dict`)."""
    p = Path(path)
    data = load_json(read_text(p, "config", "config.json"), "config", str(p))
    return config_from_dict(data, "config", name=p.parent.name or p.stem)


def get_config(name_or_path: str) -> LLMConfig:
    """A shipped config by name, or a ``config.json`` path.

    Raises
    ------
    InputError
        ``model``: neither a shipped name nor an existing file.
    """
    shipped = shipped_configs()
    if name_or_path in shipped:
        return shipped[name_or_path]
    if name_or_path.endswith(".json") or Path(name_or_path).is_file():
        return config_from_json(name_or_path)
    raise InputError(
        "model", name_or_path, f"unknown model (shipped: {', '.join(shipped)}; or a config.json path)"
    )


def devices() -> dict[str, Device]:
    """The device catalog by name (``devices.csv``)."""
    out = {}
    for row in _table("devices.csv").iter_rows(named=True):
        where = f"devices[{row['name']}]"
        if row["kind"] not in ("ue", "edge"):
            raise InputError(f"{where}.kind", row["kind"], "must be ue or edge")
        for col in ("peak_flops", "mem_bandwidth", "memory"):
            if not float(row[col]) > 0:
                raise InputError(f"{where}.{col}", row[col], "must be > 0")
        power = row["power_w"]
        out[row["name"]] = Device(
            row["name"],
            row["kind"],
            float(row["peak_flops"]),
            float(row["mem_bandwidth"]),
            float(row["memory"]),
            None if power is None else float(power),
            row["source"],
        )
    return out


def get_device(name: str, field: str = "device") -> Device:
    """A catalog device by name.

    Raises
    ------
    InputError
        ``field``: unknown device, with the known names.
    """
    table = devices()
    if name not in table:
        raise InputError(field, name, f"unknown device (known: {', '.join(table)})")
    return table[name]
