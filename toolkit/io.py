"""File input and output shared by the package.

Output: :func:`write_atomic` (temporary file, then rename) and :func:`check_output` (refuse, before
any work, an output that cannot or must not be written). Input: :func:`load_json` and
:func:`load_toml`, the only readers of user JSON and TOML text (duplicate keys and nesting deeper
than :data:`MAX_DEPTH` refused, one-line :class:`~genoffload.errors.InputError`).

What an output path may be (docs/robustness.md):

- a regular file or a new name: replaced atomically (nothing half-written);
- a symbolic link: followed, the file it points to is replaced (the link stays a link);
- a character device or a FIFO (``/dev/null``, ``/dev/stdout``, a named pipe): written through,
  in one stream (never replaced by a regular file);
- a folder, a socket or a block device: refused;
- the same file as an input of the command, or a file a study folder owns: refused.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from genoffload.errors import InputError
from genoffload.sizes import MAX_TEXT_BYTES

MAX_DEPTH = 64
"""Deepest nesting of lists and tables accepted in a JSON or TOML input [levels]."""
STUDY_FOLDER_FILES = ("study.toml", "study.json", ".lock", "summary.parquet", "curves.parquet",
                      "results.nc", "metadata.json")
"""Files a study folder owns (``genoffload.studies.run``, ``results``); ``cells/`` too."""


def _is_stream(mode: int) -> bool:
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _target(path: Path, field: str) -> tuple[Path, os.stat_result | None]:
    """The file a write to ``path`` lands in (symlinks followed) and its status (None if new)."""
    real = Path(os.path.realpath(path))
    try:
        st = os.stat(real)
    except (FileNotFoundError, NotADirectoryError):
        return real, None
    except OSError as err:
        raise InputError(field, str(path), err.strerror or str(err)) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError(field, str(path), "is a folder, expected a file")
    if not (stat.S_ISREG(mode) or _is_stream(mode)):
        raise InputError(field, str(path), "is neither a file, a character device nor a FIFO")
    return real, st


def _same_file(a: os.stat_result, path: Path) -> bool:
    try:
        b = os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _in_study_folder(real: Path) -> bool:
    """True if ``real`` is a file a study folder owns (or lies in its ``cells/``)."""
    for folder in (real.parent, real.parent.parent):
        if (folder / "study.json").is_file() and (folder / "study.toml").is_file():
            if folder == real.parent and real.name in STUDY_FOLDER_FILES:
                return True
            if folder == real.parent.parent and real.parent.name == "cells":
                return True
    return False


def check_output(path: Path | str, field: str = "output", inputs: Iterable[Path | str] = ()) -> Path:
    """Check, before any work, that ``path`` can be written as an output; return it.

    Raises
    ------
    InputError
        Naming ``field`` and the path as given: not valid UTF-8, a folder (or another kind of
        file that cannot be written through), an input of the same command, a file a study
        folder owns, or a folder that cannot be written.
    """
    given = Path(path)
    try:
        str(given).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(field, str(given), "is not valid UTF-8 (file formats store text paths)") from None
    real, st = _target(given, field)
    for inp in inputs:
        if st is not None and _same_file(st, Path(inp)):
            raise InputError(field, str(given), f"is an input of this command ({inp}); "
                             "choose another output file")
    if _in_study_folder(real):
        raise InputError(field, str(given), "is a file of a study folder (it holds the study's results); "
                         "choose another output file")
    if st is not None and _is_stream(st.st_mode):
        if not os.access(real, os.W_OK):
            raise InputError(field, str(given), "is not writable")
        return given
    _probe_writable(real.parent, given, field)
    return given


def check_output_folder(path: Path | str, field: str = "output") -> Path:
    """Check, before any work, that the folder ``path`` can be created or written; return it.

    Raises
    ------
    InputError
        Not valid UTF-8, an existing non-folder, or a parent that cannot be written.
    """
    given = Path(path)
    try:
        str(given).encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(field, str(given), "is not valid UTF-8 (file formats store text paths)") from None
    if given.exists() and not given.is_dir():
        raise InputError(field, str(given), "exists and is not a folder")
    _probe_writable(given, given, field)
    return given


def _probe_writable(start: Path, given: Path, field: str) -> None:
    """Refuse ``given`` unless the nearest existing folder at or above ``start`` takes a new file."""
    folder = start
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise InputError(field, str(given), f"cannot be created ({folder} is not a folder)")
    try:  # a real probe: os.access is always True for root and ignores read-only mounts
        fd, probe = tempfile.mkstemp(prefix=".genoffload-probe.", dir=folder)
    except OSError as err:
        raise InputError(field, str(given), f"folder is not writable ({err.strerror or err})") from None
    os.close(fd)
    os.unlink(probe)


def write_atomic(path: Path | str, writer: Callable[[Path], None], field: str = "output") -> Path:
    """Call ``writer(tmp)`` on a temporary file, then move it into place; return ``path``.

    Nothing is half-written: on any error the temporary file is removed and ``path`` is
    untouched. A new or regular file gets the permissions of a normally created file (umask
    applied); a symlink is followed; a character device or FIFO is written through (see the
    module docstring).

    Raises
    ------
    InputError
        ``field`` and the path as given (never the temporary file) when it cannot be written.
    """
    given = Path(path)
    real, st = _target(given, field)
    stream = st is not None and _is_stream(st.st_mode)
    try:
        if not stream:
            real.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".genoffload.", suffix=".tmp", dir=None if stream else real.parent)
    except OSError as err:
        raise InputError(field, str(given), err.strerror or str(err)) from None
    os.close(fd)
    try:
        writer(Path(tmp))
        if stream:
            with open(tmp, "rb") as src, open(real, "wb") as dst:
                shutil.copyfileobj(src, dst)
            Path(tmp).unlink()
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
            os.replace(tmp, real)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        if err.errno == errno.EPIPE:
            raise InputError(field, str(given), "reader closed the pipe") from None
        raise InputError(field, str(given), err.strerror or str(err)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return given


def _depth(value: Any) -> int:
    """Deepest nesting of lists / dicts in ``value`` (iterative: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            if level > MAX_DEPTH:
                return level
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _check_depth(value: Any, field: str, where: str) -> Any:
    if _depth(value) > MAX_DEPTH:
        raise InputError(field, where, f"nested deeper than {MAX_DEPTH} levels")
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def load_json(text: str, field: str, where: str) -> Any:
    """Parse JSON text: duplicate keys and nesting deeper than :data:`MAX_DEPTH` are refused.

    ``NaN`` and ``Infinity`` are read as floats (the fields refuse them, naming themselves).

    Raises
    ------
    InputError
        ``field`` with ``where`` (a file name) and the reason, one line.
    """
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as dup:
        raise InputError(field, where, f"duplicate key {dup.key!r} in a JSON object") from None
    except RecursionError:
        raise InputError(field, where, f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as err:
        raise InputError(field, where, f"not valid JSON ({err.msg} at line {err.lineno} "
                         f"column {err.colno})") from None
    return _check_depth(value, field, where)


def load_toml(text: str, field: str, where: str) -> dict[str, Any]:
    """Parse TOML text (``tomllib``: duplicate keys are errors); deep nesting refused.

    Raises
    ------
    InputError
        ``field`` with ``where`` and the reason, one line.
    """
    try:
        value = tomllib.loads(text)
    except RecursionError:
        raise InputError(field, where, f"nested deeper than {MAX_DEPTH} levels") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(field, where, f"not valid TOML: {err}") from None
    return _check_depth(value, field, where)


def read_text(path: Path | str, field: str, what: str = "file") -> str:
    """The UTF-8 text of an input file (undecodable bytes replaced).

    Raises
    ------
    InputError
        No such file, a folder, or unreadable.
    """
    p = Path(path)
    if p.is_dir():
        raise InputError(field, str(p), f"is a folder, expected a {what}")
    if not p.is_file():
        raise InputError(field, str(p), "no such file")
    if p.stat().st_size > MAX_TEXT_BYTES:
        raise InputError(field, str(p), f"too large for a {what} (more than {MAX_TEXT_BYTES // 2**20} MB)")
    try:
        return p.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise InputError(field, str(p), err.strerror or str(err)) from None


def check_model_file(path: Path | str, field: str, spec: str) -> Path:
    """A GGUF model file must exist and start with the GGUF magic bytes (checked at start, before
    any LLM call is needed; llama.cpp's own error on a garbage file is a bare ValueError).

    Raises
    ------
    InputError
        ``field`` with the spec as given.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        raise InputError(field, spec, "GGUF model path is a folder")
    if not p.is_file():
        raise InputError(field, spec, "GGUF model file not found")
    try:
        with open(p, "rb") as fh:
            magic = fh.read(4)
    except OSError as err:
        raise InputError(field, spec, f"GGUF model file unreadable ({err.strerror or err})") from None
    if magic != b"GGUF":
        raise InputError(field, spec, "not a GGUF model file (no GGUF header)")
    return p
