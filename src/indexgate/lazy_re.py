"""Regular expressions compiled on first use.

Start-up is part of every CI run, and compiling a pattern costs a tenth of a millisecond
or more: a module whose patterns serve only some runs (a block's answer, a config file's
``${VAR}``, a throttled answer's page) keeps them as ``LazyPattern`` objects,
compiled the first time one of their methods is asked for.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["LazyPattern"]


class LazyPattern:
    """A ``re.Pattern`` made on first use: ``match``, ``search``, ``sub``... as the
    compiled pattern's own."""

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str | bytes, flags: int = 0) -> None:
        self._args = (pattern, flags)
        self._compiled: re.Pattern[Any] | None = None

    def __getattr__(self, name: str) -> Any:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = re.compile(*self._args)
        return getattr(compiled, name)
