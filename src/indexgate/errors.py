"""Exceptions that cross module boundaries, each mapped to one exit code by the CLI."""

from __future__ import annotations


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
