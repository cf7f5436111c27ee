"""The table and Markdown helpers every renderer shares (render.py, drift.py).

Text that comes from outside (firewall reasons, error messages, file names) goes through
these: ``flat`` keeps escape sequences off a terminal, ``md`` keeps pipes, HTML, code
spans and links out of a job-summary cell, ``md_link`` writes only http(s) links, encoded
so they cannot close early. A hostile or merely odd index must not be able to break a
table, inject HTML into the summary or rewrite a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote, urlsplit

__all__ = ["MAX_CELL", "flat", "md", "md_link", "md_row", "plural", "text_table"]

MAX_CELL = 2000  # characters of one Markdown cell
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")
_MD_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "&#124;",
    "`": "&#96;",
    "\\": "&#92;",
    "[": "&#91;",
    "]": "&#93;",
    "*": "&#42;",
}
# Percent-encode everything else (spaces, parentheses, pipes, angle brackets, backticks).
_URL_SAFE = ":/?#@!$&'+,;=%~"
_MD_ESCAPE = re.compile("|".join(re.escape(c) for c in _MD_ESCAPES))


def plural(n: int, word: str) -> str:
    """``1 pin``, ``2 pins``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- text -------------------------------------------------------------------------------


def flat(value: object) -> str:
    """One line, no control characters (no escape sequences reach the terminal)."""
    return "" if value is None else _CONTROL.sub(" ", str(value)).strip()


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], indent: str) -> str:
    """Column-aligned rows; the last column is free text and is not padded."""
    cells = [list(header), *([flat(c) or "-" for c in row] for row in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header) - 1)]
    lines = []
    for row in cells:
        padded = [c.ljust(w) for c, w in zip(row, widths, strict=False)] + [row[-1]]
        lines.append(indent + "  ".join(padded).rstrip())
    return "\n".join(lines)


# --- Markdown ---------------------------------------------------------------------------


def md(value: object) -> str:
    """Escape user text for a Markdown table cell: no pipes, HTML, code spans or links.

    Cells are cut at ``MAX_CELL`` characters so one runaway message cannot crowd every
    other row out of a size-limited summary.
    """
    if value is None:
        return ""
    text = str(value)
    if len(text) > MAX_CELL:
        text = text[: MAX_CELL - 1] + "…"
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    escaped = (
        _MD_ESCAPE.sub(lambda m: _MD_ESCAPES[m.group()], _CONTROL.sub(" ", line)) for line in lines
    )
    return "<br>".join(line.strip() for line in escaped if line.strip())


def md_link(text: str, url: str | None) -> str:
    """A Markdown link to an http(s) URL, percent-encoded so it cannot close the link early."""
    if not url:
        return ""
    if urlsplit(url).scheme not in ("http", "https"):
        return md(url)
    return f"[{text}]({quote(url, safe=_URL_SAFE)})"


def md_row(cells: Sequence[str]) -> str:
    """One table row of already escaped cells; an empty cell stays a cell."""
    return "| " + " | ".join(c or " " for c in cells) + " |"
