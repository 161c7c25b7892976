"""The ICL policy in the registry: its study options, their check, and the online policy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from genoffload.errors import InputError
from genoffload.io import check_model_file
from genoffload.llm import chat_model, parse_llm_spec
from genoffload.policies.icl.policy import ICLPolicy
from genoffload.policies.icl.settings import ICLSettings
from genoffload.policy import OnlinePolicy, PolicyEntry
from genoffload.scenario import ScenarioConfig

OPTIONS = ("llm", "replay", "epsilon", "examples", "explore", "clock", "calibrate", "scoring", "extras",
           "deadline_s")
"""Study options of ``icl`` (``genoffload icl run`` has the same ones)."""
_SETTING = {"examples": "max_examples"}
_OPTION = {"keywords": "extras", "max_examples": "examples"}


def icl_settings(options: Mapping[str, Any]) -> ICLSettings:
    """The :class:`ICLSettings` of study options (every option but ``llm``)."""
    kw: dict[str, Any] = {}
    for opt in OPTIONS[1:]:
        value = options.get(opt)
        if value is not None:
            kw[_SETTING.get(opt, opt)] = tuple(value) if opt == "extras" else value
    return ICLSettings(**kw)


def check(options: Mapping[str, Any], where: str) -> None:
    """Validate the LLM spec (and its GGUF file) and the settings, naming ``{where}.{option}``."""
    spec = options.get("llm") or "embedded"
    try:
        parsed = parse_llm_spec(spec)
    except InputError as err:
        raise InputError(f"{where}.llm", err.value, err.reason) from None
    if parsed.provider == "embedded" and parsed.model:
        check_model_file(parsed.model, f"{where}.llm", spec)
    try:
        icl_settings(options)
    except InputError as err:
        field = _OPTION.get(err.field, err.field)
        raise InputError(f"{where}.{field}", err.value, err.reason) from None


def online(options: Mapping[str, Any], base: ScenarioConfig, seed: int) -> OnlinePolicy:
    """The ICL policy with the process's chat model for ``llm`` (default: the embedded one)."""
    return ICLPolicy(chat_model(options.get("llm") or "embedded"), icl_settings(options))


ICL = PolicyEntry("icl", "icl", online=online, options=OPTIONS, check=check,
                  warm_up=lambda options: True,
                  description="in-context learning with an LLM (paper Sec. III)")
"""Registry entry (declared in ``pyproject.toml``, group ``genoffload.policies``)."""
