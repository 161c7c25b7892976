"""The one place that builds a chat model for an ``--llm`` spec and keeps it for the process.

The CLI (``genoffload icl run``), the studies (a Dask worker keeps its embedded LLM across
cells) and the ICL registry entry all call :func:`chat_model`.
"""

from __future__ import annotations

from typing import Any

from genoffload.errors import InputError
from genoffload.io import check_model_file
from genoffload.llm.deps import MissingDependencyError
from genoffload.llm.spec import build_chat_model, parse_llm_spec

_MODELS: dict[tuple[str, int | None], Any] = {}
"""Embedded chat models loaded in this process, by (spec, threads)."""


def chat_model(spec: str, threads: int | None = None, where: str = "llm") -> Any:
    """A LangChain chat model for an ``--llm`` spec; an embedded one is loaded once per process.

    The embedded GGUF is loaded now, so that a bad file fails before any decision. Stateful
    test models (``fake:``) and served models are built anew at every call, so results never
    depend on what the process ran before.

    Parameters
    ----------
    spec : str
        ``embedded[:PATH]``, ``openai:MODEL[@URL]``, ``ollama:...``, ``fake:...``.
    threads : int, optional
        CPU threads of the embedded model [threads] (default: its own choice).
    where : str
        Field named by errors.

    Raises
    ------
    InputError
        ``where``: bad spec, missing file or package, a GGUF llama.cpp cannot load.
    """
    parsed = parse_llm_spec(spec)
    key = (spec, threads)
    if parsed.provider == "embedded" and key in _MODELS:
        return _MODELS[key]
    if parsed.provider == "embedded" and parsed.model:
        check_model_file(parsed.model, where, spec)
    try:
        if parsed.provider != "embedded":
            return build_chat_model(parsed)
        model = build_chat_model(parsed, n_threads=threads)
        _ = model.llama  # load the GGUF now: a bad file fails at start, not at the first call
    except (MissingDependencyError, FileNotFoundError) as err:
        raise InputError(where, spec, str(err).removeprefix("llm: ")) from None
    except (ValueError, RuntimeError) as err:  # llama.cpp: "Failed to load model from file"
        reason = (str(err).splitlines() or [type(err).__name__])[0][:100]
        raise InputError(where, spec, f"cannot load the GGUF model ({reason})") from None
    _MODELS[key] = model
    return model


def loaded_models() -> int:
    """Embedded chat models loaded in this process so far."""
    return len(_MODELS)
