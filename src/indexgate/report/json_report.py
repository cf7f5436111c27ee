"""The contract JSON (``indexgate-report/1``) and its atomic file write.

Apart from the text and Markdown renderers, because every ``check`` in CI writes the
JSON report and few print the other two: this module is all such a run imports.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from indexgate.model import Report

__all__ = ["make_dirs", "to_json", "write_json", "write_text"]


def to_json(report: Report) -> str:
    """The contract JSON, keys in model order, newline-terminated."""
    return json.dumps(report.to_dict(), indent=2) + "\n"


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
    folders created for it: ``mkstemp`` alone would leave it 0600.
    """
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            os.fchmod(f.fileno(), REPORT_MODE)
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_dirs(folder: Path) -> None:
    """``mkdir -p`` whose new folders are ``DIR_MODE`` whatever the umask."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        os.chmod(new, DIR_MODE)
