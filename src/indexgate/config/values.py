"""Values written in the inputs: ``${VAR}`` expansion, sizes, enum choices, name sets.

Shared by the config loader and the Action's masking (which expands leniently, before any
check can print an error).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from packaging.utils import canonicalize_name

from indexgate.errors import InputError
from indexgate.lazy_re import LazyPattern

# ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset), ``$${`` (a
# literal ``${``), and any other ``${`` (a mistake, e.g. GitHub's ``${{ }}``, in strict mode).
_VAR = LazyPattern(  # only for values that hold a $
    r"\$(?:(?P<escape>\$)(?=\{)|\{(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?-)(?P<default>[^}]*))?\})?)"
)


def expand_vars(
    value: str,
    env: Mapping[str, str],
    *,
    file: str | None = None,
    line: int | None = None,
    what: str = "",
    strict: bool = True,
) -> str:
    """Expand ``${VAR}`` references as a shell does, or say exactly which one is missing.

    ``${VAR:-default}`` uses the default when VAR is unset or empty, ``${VAR-default}`` only
    when it is unset; ``$${`` is a literal ``${``. In strict mode (config files) a plain
    ``${VAR}`` that is unset or empty is an InputError naming the file, line and variable:
    an empty password would only fail later, as the server's auth failure (and GitHub passes
    a secret that does not exist as an empty string). ``${VAR:-}`` says empty is meant.
    With ``strict=False`` (masking secrets before anything else runs) nothing raises and
    a missing variable is empty.
    """
    prefix = f"{what}: " if what else ""

    def one(m: re.Match[str]) -> str:
        if m["escape"]:
            return "$"
        name = m["name"]
        if name is None:
            if not strict:
                return m[0]
            hint = (
                " (GitHub's ${{ }} is not expanded here: pass the value in `env:` and write ${VAR})"
                if value[m.end() : m.end() + 1] == "{"
                else " (write ${VAR}, ${VAR:-default}, or $${ for a literal ${)"
            )
            raise InputError(f"{prefix}malformed variable reference{hint}", file=file, line=line)
        current = env.get(name)
        op = m["op"]
        if (op == ":-" and not current) or (op == "-" and current is None):
            return m["default"]
        if op or current or not strict:
            return current or ""
        state = "is not set" if current is None else "is set but empty"
        raise InputError(
            f"{prefix}environment variable {name} {state} (needed by ${{{name}}}; "
            f"write ${{{name}:-}} if empty is meant)",
            file=file,
            line=line,
        )

    return _VAR.sub(one, value)


_SIZE = LazyPattern(r"(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(value: object, what: str, file: str | None = None, line: int | None = None) -> int:
    """A size in bytes from ``200M``, ``20MB``, ``1.5G``, ``512k`` (binary multiples, as
    curl reads them) or a whole number of bytes; InputError (exit 2) otherwise."""
    text = str(value).strip() if isinstance(value, (int, float, str)) else ""
    m = _SIZE.fullmatch(text) if not isinstance(value, bool) else None
    size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]) if m else 0
    if size < 1:
        raise InputError(
            f"`{what}` must be a size such as 200M, 20MB, 1G or a number of bytes (got {value!r})",
            file=file,
            line=line,
        )
    return size


def enum_value(kind: type, value: Any, what: str) -> Any:
    """A command-line (or already checked config) value; the first member when not given."""
    if value is None:
        return next(iter(kind))
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError(f"{what} must be one of {allowed}, not {value!r}") from None


def binary_set(values: Sequence[str]) -> frozenset[str]:
    out: set[str] = set()
    for v in values:
        for item in v.split(","):
            item = item.strip()
            if item == ":none:":
                out.clear()
            elif item:
                out.add(item if item == ":all:" else canonicalize_name(item))
    return frozenset(out)
