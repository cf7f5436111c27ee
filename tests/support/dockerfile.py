"""The Action's Dockerfile as the tests read it: its instructions and its ENTRYPOINT.

Tests that run the entrypoint take its command line from here, so the flags the image
runs with (``python -I``: nothing imported from the workspace) are the flags tested.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(KEYWORD, rest) per instruction, continuation lines joined, comments left out."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def entrypoint() -> list[str]:
    """The last stage's ENTRYPOINT (exec form), as the image runs it."""
    entries = [json.loads(rest) for keyword, rest in instructions() if keyword == "ENTRYPOINT"]
    assert len(entries) == 1, entries
    return entries[0]


def entrypoint_here() -> list[str]:
    """The ENTRYPOINT with this interpreter in place of the image's virtualenv Python."""
    entry = entrypoint()
    assert Path(entry[0]).name.startswith("python"), entry
    return [sys.executable, *entry[1:]]
