"""Errors raised on bad input: one line naming the field and the value."""

from __future__ import annotations

from typing import Any


class InputError(ValueError):
    """Bad user input (scenario, config, option).

    The CLI prints ``str(err)`` as one line and exits with code 2.

    Parameters
    ----------
    field : str
        Dotted name of the offending field, e.g. ``tasks[3].output_tokens``.
    value : Any
        The offending value.
    reason : str
        What is wrong, in a few words.
    """

    def __init__(self, field: str, value: Any, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
            value = value.item()  # numpy scalar: show the plain Python value
        shown = repr(value)
        if len(shown) > 80:  # keep both ends: a long path keeps its file name
            shown = shown[:38] + "..." + shown[-39:]
        message = f"{field}: {reason} (got {shown})"
        # one line whatever the input holds: control and line-break characters (a key "\x85" or
        # "a\nb" in a user's file) are shown escaped
        super().__init__("".join(c if c.isprintable() else c.encode("unicode_escape").decode()
                                 for c in message))


def validation_error(err: Any, prefix: str = "", unknown: str = "unknown key",
                     names: dict[str, str] | None = None, depth: int | None = None,
                     root: str = "") -> InputError:
    """The one conversion of a pydantic ``ValidationError`` into an :class:`InputError`.

    Parameters
    ----------
    err : pydantic.ValidationError
        The error; its first problem is reported.
    prefix : str
        Dotted field the validated object sits at (``config``, ``sweep[1]``); empty for a root.
    unknown : str
        Reason shown for a key the model does not know (``extra_forbidden``).
    names : dict, optional
        Field names shown instead of the model's (``{"token_noise": "token-noise"}``: CLI flags).
    depth : int, optional
        Keep only the first ``depth`` parts of the error's location.
    root : str
        Field shown for a problem of the whole object when ``prefix`` is empty (``study file``).

    Returns
    -------
    InputError
        ``{prefix}.{loc}: {reason} (got {value})``; list indices shown as ``[i]``.
    """
    first = err.errors()[0]
    parts = list(first["loc"])[:depth] if depth is not None else list(first["loc"])
    if names and parts and isinstance(parts[0], str):
        parts[0] = names.get(parts[0], parts[0])
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    message = str(first["msg"]).removeprefix("Value error, ")
    reason = unknown if first["type"] == "extra_forbidden" else message
    field = f"{prefix}.{loc}" if prefix and loc else (prefix or loc or root)
    return InputError(field.replace(".[", "["), first.get("input"), reason)
