"""The contract JSON (``indexgate-report/1``) and its atomic file write.

Apart from the text and Markdown renderers, because every ``check`` in CI writes the
JSON report and few print the other two: this module is all such a run imports.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from indexgate.model import Report

__all__ = ["dumps_indented", "make_dirs", "to_json", "write_json", "write_text"]


def to_json(report: Report) -> str:
    """The contract JSON, keys in model order, newline-terminated."""
    return dumps_indented(report.to_dict()) + "\n"


def dumps_indented(data: Any) -> str:
    """``json.dumps(data, indent=2)``, to the byte, at a third of its CPU.

    With ``indent``, ``json`` encodes in pure Python, through a generator per container;
    this joins strings per container instead, and still escapes each string and key with
    ``json``'s own C function. Anything but the JSON types (dict with str keys, list,
    tuple, str, int, float, bool, None; NaN and infinities included) goes to
    ``json.dumps`` itself, which writes it (or refuses it) as it always did."""
    try:
        return _encode(data, "\n")
    except (_Unusual, RecursionError):  # a cycle: json.dumps says so in its own words
        return json.dumps(data, indent=2)


class _Unusual(Exception):
    """A value ``_encode`` leaves to ``json.dumps``."""


_ESCAPE = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]
_FLOAT_WORDS = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _encode(o: Any, indent: str) -> str:
    """``o`` as ``json.dumps(o, indent=2)`` writes it where ``indent`` is the newline and
    spaces before its own line."""
    kind = type(o)
    if kind is str:
        return _ESCAPE(o)  # type: ignore[no-any-return]
    if o is None:
        return "null"
    if o is True:
        return "true"
    if o is False:
        return "false"
    if kind is int:
        return int.__repr__(o)
    if kind is float:
        text = float.__repr__(o)
        return _FLOAT_WORDS.get(text, text)
    inner = indent + "  "
    if kind is dict:
        if not o:
            return "{}"
        items = []
        for key, value in o.items():
            if type(key) is not str:
                raise _Unusual
            items.append(f"{_ESCAPE(key)}: {_encode(value, inner)}")
        return "{" + inner + ("," + inner).join(items) + indent + "}"
    if kind is list or kind is tuple:
        if not o:
            return "[]"
        return "[" + inner + ("," + inner).join([_encode(v, inner) for v in o]) + indent + "]"
    raise _Unusual


#: A report holds no credential, and the steps after the Action run as another user than
#: the container's root: they must be able to read it (upload it, copy it for the next run).
REPORT_MODE = 0o644
DIR_MODE = 0o755


def write_json(report: Report, path: Path) -> None:
    """Write the JSON report atomically, so a reader never sees half a report."""
    write_text(Path(path), to_json(report))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (an already rendered report) atomically, creating parent folders.

    The file is readable by everyone (``REPORT_MODE``) whatever the umask, and so are the
    folders created for it: the temporary file alone would leave it 0600.
    """
    make_dirs(path.parent)
    fd, tmp = _temp_file(path)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), REPORT_MODE)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


_TEMP_FLAGS = (
    os.O_RDWR
    | os.O_CREAT
    | os.O_EXCL
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def _temp_file(path: Path) -> tuple[int, str]:
    """A new private file (0600) beside ``path``, named ``.<name>.<random>.tmp``: what
    ``tempfile.mkstemp`` makes, without importing tempfile (with shutil, bz2 and lzma,
    ~2 ms of every run's start-up)."""
    for _ in range(100):
        tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp, _TEMP_FLAGS, 0o600), tmp
        except FileExistsError:
            continue  # another writer's name: draw again
    raise FileExistsError(f"no free temporary name beside {path}")


def make_dirs(folder: Path) -> None:
    """``mkdir -p`` whose new folders are ``DIR_MODE`` whatever the umask."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        os.chmod(new, DIR_MODE)
