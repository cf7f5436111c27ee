"""TOML sources read with file:line origins: the file read (every failure an InputError
naming the file and line) and ``TomlText``, which finds where a value was written.

tomllib gives no positions, so ``TomlText`` finds where a value was written by searching
the text after its table header; a line that cannot be found falls back to the header.
Shared by pyproject.toml, uv.toml (``uv_settings.py``) and the lock files (``locks.py``).
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexgate.errors import InputError, Origin, read_input_bytes

_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)$")


def load_toml(path: Path, display: str) -> tuple[dict[str, Any], TomlText]:
    """Parse a TOML file; every failure becomes an InputError naming file and line."""
    try:
        text = read_input_bytes(path, display, "a TOML file").decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 text: {exc.reason}", file=display) from None
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0]
        match = _TOML_POSITION.search(message)
        line: int | None = getattr(exc, "lineno", None)
        if match is not None:
            message = message[: match.start()]
            line = int(match.group(1)) if match.group(1) else max(text.count("\n"), 1)
        raise InputError(f"invalid TOML: {message}", file=display, line=line) from None
    return data, TomlText(text, display)


class TomlText:
    """Finds the line a TOML value was written on, by searching the file's text."""

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display
        self._starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(self, offset: int | None) -> int | None:
        return None if offset is None else bisect.bisect_right(self._starts, offset)

    def origin(self, offset: int | None) -> Origin:
        return Origin(self.display, self.line_of(offset))

    def headers(self, table: str, array: bool = False) -> list[int]:
        """Offsets of every ``[table]`` (or ``[[table]]``) header line."""
        dotted = r"[ \t]*\.[ \t]*".join(_key(part) for part in table.split("."))
        open_, close = (r"\[\[", r"\]\]") if array else (r"\[(?!\[)", r"\](?!\])")
        pattern = rf"^[ \t]*{open_}[ \t]*{dotted}[ \t]*{close}"
        return [m.start() for m in re.finditer(pattern, self.text, re.MULTILINE)]

    def header(self, table: str) -> int | None:
        found = self.headers(table)
        return found[0] if found else None

    def key(self, name: str, start: int | None, end: int | None = None) -> int | None:
        """Offset of the line ``name = ...`` (possibly dotted: ``x.name = ...``) after start."""
        pattern = re.compile(rf"^[ \t]*(?:[^=\n\[]*\.[ \t]*)?{_key(name)}[ \t]*=", re.MULTILINE)
        match = pattern.search(self.text, start or 0, len(self.text) if end is None else end)
        return None if match is None else match.start()

    def string(self, value: str, start: int | None, end: int | None = None) -> int | None:
        """Offset of the first quoted ``value`` after start (either quote style)."""
        stop = len(self.text) if end is None else end
        hits = [self.text.find(f"{quote}{value}{quote}", start or 0, stop) for quote in ('"', "'")]
        hits = [hit for hit in hits if hit >= 0]
        return min(hits) if hits else None


def _key(part: str) -> str:
    escaped = re.escape(part)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


@dataclass
class ListCursor:
    """Walks one list's strings in order, so a repeated string gets its own line."""

    toml: TomlText
    fallback: int | None
    position: int | None

    def here(self) -> Origin:
        """Where the list itself is: its key's line, else its table header's."""
        return self.toml.origin(self.fallback)

    def origin(self, value: str) -> Origin:
        hit = self.toml.string(value, self.position)
        if hit is None:
            return self.toml.origin(self.fallback)
        self.position = hit + len(value) + 2
        return self.toml.origin(hit)


def list_cursor(toml: TomlText, tables: Sequence[str], key: str) -> ListCursor:
    header = next((h for t in tables if (h := toml.header(t)) is not None), None)
    at = toml.key(key, header)
    return ListCursor(toml, at if at is not None else header, at if at is not None else header)


def file_line(origin: Origin) -> tuple[str, int | None]:
    """An origin as InputError's ``file, line`` arguments."""
    return origin.file, origin.line


def toml_table(data: dict[str, Any], key: str, what: str, toml: TomlText) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a table", toml.display, toml.line_of(toml.key(key, 0)))
    return value


def toml_list(value: Any, what: str, origin: Origin) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be an array", *file_line(origin))
    return value
