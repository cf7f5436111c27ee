"""The contract JSON (``indexgate-report/1``) and its atomic file write.

Apart from the text and Markdown renderers, because every ``check`` in CI writes the
JSON report and few print the other two: this module is all such a run imports.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from indexgate.report.model import Report

__all__ = ["to_json", "write_json", "write_text"]


def to_json(report: Report) -> str:
    """The contract JSON, keys in model order, newline-terminated."""
    return json.dumps(report.to_dict(), indent=2) + "\n"


def write_json(report: Report, path: Path) -> None:
    """Write the JSON report atomically, so a reader never sees half a report."""
    write_text(Path(path), to_json(report))


def write_text(path: Path, text: str) -> None:
    """Write ``text`` (an already rendered report) atomically, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
