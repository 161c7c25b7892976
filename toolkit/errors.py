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
