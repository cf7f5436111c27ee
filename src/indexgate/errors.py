"""Exceptions that cross module boundaries, each mapped to one exit code by the CLI, and
the ``Origin`` (file and line) that errors and annotations name."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Origin:
    """Where a requirement (or option) was written: for errors and annotations. It lives
    here, at the bottom, because every layer that reports a problem names the line."""

    file: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class IndexgateError(Exception):
    """Base class; ``str()`` is always safe to show a user (no credentials)."""

    exit_code = 1


class InputError(IndexgateError):
    """Bad input or configuration: exit 2, message names the file and line."""

    exit_code = 2

    def __init__(self, message: str, file: str | None = None, line: int | None = None) -> None:
        self.file = file
        self.line = line
        self.problem = message
        where = file if line is None or file is None else f"{file}:{line}"
        super().__init__(f"{where}: {message}" if where else message)


class IndexUnreachable(IndexgateError):
    """An index could not be reached after retries: exit 3."""

    exit_code = 3


class DeadlineExceeded(IndexUnreachable):
    """A request's total deadline (``--timeout``) or the run's (``--max-time``) ran out:
    exit 3. ``limit`` names the option whose deadline it was."""

    def __init__(self, message: str, limit: str) -> None:
        self.limit = limit
        super().__init__(message)


class Throttled(DeadlineExceeded):
    """The index was still throttling (429, or 503 with ``Retry-After``) when a deadline or
    the bounded number of throttle retries ran out: exit 3, with the index's own words."""


def name_index(exc: IndexUnreachable, index: str) -> IndexUnreachable:
    """Say which index an unreachable URL belongs to (once: memoized fetches share one
    exception object between every caller)."""
    if getattr(exc, "index", None) is None:
        exc.index = index  # type: ignore[attr-defined]
        exc.args = (f"index '{index}': {exc}",)
    return exc


def note_context(exc: BaseException, **where: str | None) -> None:
    """Record on an exception on its way up what was being processed when it happened
    (``package``, ``index``, ``file``, ``source``): the innermost note of each wins.

    Only for errors that are bugs (not IndexgateError): the internal-error report names
    them, so that a user can file a useful report without a traceback.
    """
    if isinstance(exc, IndexgateError):
        return
    context = getattr(exc, "indexgate_context", None)
    if not isinstance(context, dict):
        context = {}
        try:
            exc.indexgate_context = context  # type: ignore[attr-defined]
        except AttributeError:  # an exception type without a __dict__
            return
    for key, value in where.items():
        if value and key not in context:
            context[key] = str(value)


def read_input_bytes(path: Path, display: str, what: str) -> bytes:
    """The bytes of an input file (``what``: "a TOML file", ...); every failure to read it
    is an InputError that names the file as the user wrote it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError("file not found", file=display) from None
    except IsADirectoryError:
        raise InputError(f"is a directory, not {what}", file=display) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=display) from None
