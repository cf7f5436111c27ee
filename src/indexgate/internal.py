"""Internal errors (bugs) reported, not thrown: exit 4, one line, and a JSON report.

A bug met on one package must not end a CI job with a bare traceback and no report. The
user gets one line saying what failed and on what (package, index, file, source), a hint
to report it, and a report with ``status: error``; the traceback only at ``-vv``.

What was being processed comes from notes put on the exception on its way up
(``errors.note_context``, by the index client and the source readers), else from the
indexgate frames the exception passed through: their distribution files, indexes,
candidates and requirements (typed values only, never arbitrary locals).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from types import TracebackType
from typing import Any, Literal

from indexgate.model import Problem, Report, TargetReport
from indexgate.redact import redact

EXIT_INTERNAL = 4
_KEYS = ("package", "index", "file", "source")
# Frame locals that name the project being processed, in these modules only.
_NAME_LOCALS = ("name", "identifier", "project")
_NAME_MODULES = ("indexgate.resolver.", "indexgate.index.client", "indexgate.drift")


def context_of(exc: BaseException) -> dict[str, str]:
    """What was being processed when ``exc`` was raised: package, index, file, source."""
    context = dict(getattr(exc, "indexgate_context", None) or {})
    for frame in reversed(_frames(exc.__traceback__)):  # innermost first
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith("indexgate."):
            continue
        for key, value in list(frame.f_locals.items()):
            for field, found in _facts(key, value, module):
                context.setdefault(field, found)
        if all(k in context for k in _KEYS[:3]):
            break
    return {k: redact(context[k]) for k in _KEYS if context.get(k)}


def _frames(tb: TracebackType | None) -> list[Any]:
    frames = []
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


def _facts(key: str, value: Any, module: str) -> list[tuple[str, str]]:
    """(field, text) pairs a frame local tells, by its type (imports kept lazy)."""
    from indexgate.dists.models import DistFile, parse_filename
    from indexgate.resolver.candidates import Candidate, Req
    from indexgate.resolver.finder import VersionEntry
    from indexgate.settings import IndexConfig

    if isinstance(value, DistFile):
        parsed = parse_filename(value.filename)
        out = [("file", value.filename)]
        return out + ([("package", parsed.name)] if parsed else [])
    if isinstance(value, Candidate):
        return [("package", value.name), ("index", value.index.name), ("file", value.file.filename)]
    if isinstance(value, VersionEntry):
        return [("index", value.index.name)]
    if isinstance(value, IndexConfig):
        return [("index", value.name)]
    if isinstance(value, Req):
        return [("package", value.name)]
    if key in _NAME_LOCALS and isinstance(value, str) and module.startswith(_NAME_MODULES):
        return [("package", value.split("[", 1)[0])]
    return []


def internal_message(exc: BaseException, context: dict[str, str]) -> str:
    """One line: the error, what it happened on, and what to do."""
    text = redact(f"{type(exc).__name__}: {exc}").replace("\n", " ")
    where = []
    if "package" in context:
        where.append(f"package {context['package']}")
    if "index" in context:
        where.append(f"index '{context['index']}'")
    if "file" in context:
        where.append(f"file {context['file']}")
    if "source" in context:
        where.append(f"reading {context['source']}")
    while_ = f" (while processing {', '.join(where)})" if where else ""
    return (
        f"internal error: {text}{while_}. This is a bug in indexgate: please report it with "
        "this message and the JSON report (run with -vv for the traceback)"
    )


def internal_problem(exc: BaseException) -> Problem:
    """The ``internal-error`` entry for ``exc`` (what was processed in its fields)."""
    context = context_of(exc)
    return Problem(
        kind="internal-error",
        message=internal_message(exc, context),
        package=context.get("package"),
        index=context.get("index"),
        file=context.get("source"),
    )


def internal_report(
    command: Literal["check", "drift"],
    problem: Problem,
    targets: Sequence[tuple[str, str]] = (),
) -> Report:
    """A report with ``status: error``: one target per (python, platform) when known,
    else one unnamed target, each carrying the problem."""
    pairs = list(targets) or [("", "")]
    return Report(
        command=command,
        targets=[TargetReport(py, plat, "error", errors=[problem]) for py, plat in pairs],
    )


def traceback_text(exc: BaseException) -> str:
    """The traceback, redacted (for ``-vv`` only)."""
    return redact("".join(traceback.format_exception(exc)))
