"""The one writer of the Markdown summary file, for the CLI and the Action alike.

GitHub's runner refuses a step summary larger than 1 MiB (and then shows none at all), and
the steps after a Docker action run as another user than the container's root: so the text
is cut to what is left of the limit, and a file this process creates is made readable by
everyone (``REPORT_MODE``, as the JSON report). A file that was already there (the runner
creates ``$GITHUB_STEP_SUMMARY`` for each step) keeps its mode.
"""

from __future__ import annotations

import os

from indexgate.redact import redact
from indexgate.report.json_report import REPORT_MODE

SUMMARY_LIMIT = 1024 * 1024  # the runner refuses a step summary larger than 1 MiB
SUMMARY_TARGET = 1_000_000  # what render_markdown aims for, with room to spare


def _used(path: str | os.PathLike[str], append: bool) -> int:
    if not append:
        return 0
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def summary_budget(path: str | os.PathLike[str] | None, *, append: bool = True) -> int:
    """How many bytes ``render_markdown`` may use, given what the file already holds."""
    used = _used(path, append) if path else 0
    return max(min(SUMMARY_TARGET, SUMMARY_LIMIT - used - 64), 0)


def write_summary(path: str | os.PathLike[str], text: str, *, append: bool = True) -> None:
    """Write ``text`` (redacted, ending in a newline) without passing the 1 MiB limit.

    ``append``: add to the file (``$GITHUB_STEP_SUMMARY``, which earlier steps or runs may
    have written to), else replace it (``--summary PATH``)."""
    data = redact(text)
    data = (data if data.endswith("\n") else data + "\n").encode("utf-8")
    room = SUMMARY_LIMIT - _used(path, append) - 1
    if len(data) > room:
        data = data[: max(room, 0)].decode("utf-8", errors="ignore").encode("utf-8")
    created = not os.path.exists(path)
    with open(path, "ab" if append else "wb") as fh:
        if created:
            os.fchmod(fh.fileno(), REPORT_MODE)
        fh.write(data)
