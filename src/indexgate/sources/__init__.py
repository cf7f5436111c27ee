"""Requirement sources: pick the reader by file name and merge what they read, in order.

Besides the sources given, the working directory's uv configuration (uv.toml, and the
``[tool.uv]`` index setup of a pyproject.toml that is not itself a source) is read too,
as uv would, so a repository needs no second copy of its index setup.

The readers: ``requirements_txt.py`` (pip's syntax), ``pyproject.py`` (PEP 621
``[project]`` and PEP 735 groups), ``uv_settings.py`` (``[tool.uv]`` and uv.toml),
``locks.py`` (pylock.toml, uv.lock), with ``toml_text.py`` (TOML with file:line origins),
``locations.py`` (lines that name a location, not an index project, and the data they
become), ``projects.py`` (what local projects and direct references bring), ``names.py``
(names compared as the specs define them) and ``model.py`` (the plain data the readers
return).

Each reader is imported when a file of its kind is read: a ``check`` of a requirements
file never loads the TOML and lock-file readers.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from indexgate.errors import InputError, note_context
from indexgate.sources.model import SourceSet

SourceKind = Literal["pyproject", "uv-lock", "pylock", "requirements"]
_PYLOCK = re.compile(r"^pylock\.([^.]+\.)?toml$")

__all__ = ["SourceKind", "load_sources", "merge_into", "source_kind"]


def source_kind(path: str | Path) -> SourceKind:
    """Which reader a file takes, from its name alone (anything unknown is pip syntax)."""
    name = Path(path).name
    if name == "pyproject.toml":
        return "pyproject"
    if name == "uv.lock":
        return "uv-lock"
    if _PYLOCK.match(name):
        return "pylock"
    return "requirements"


def load_sources(
    paths: Sequence[str],
    *,
    cwd: Path,
    extras: Sequence[str] = (),
    all_extras: bool = False,
    groups: Sequence[str] = (),
    allow_locks: bool,
) -> SourceSet:
    """Read every source (or the one found in ``cwd``) into one SourceSet, in order."""
    given = [(os.path.normpath(p), _absolute(p, cwd)) for p in paths] or [_discover(cwd)]
    if (extras or all_extras or groups) and not any(
        source_kind(path) == "pyproject" for _, path in given
    ):
        raise InputError("--extra, --all-extras and --group need a pyproject.toml source")
    result = SourceSet()
    for display, path in given:
        try:
            part = _read(display, path, extras, all_extras, groups, allow_locks, cwd)
        except Exception as exc:  # a bug: the internal-error report names the file
            note_context(exc, source=display)
            raise
        merge_into(result, part)
    if result.local_projects or result.direct:
        from indexgate.sources.projects import read_static

        read_static(result, cwd)
    uv_toml = cwd / "uv.toml"
    if uv_toml.is_file():
        from indexgate.sources.uv_settings import parse_uv_toml

        result.uv_indexes.extend(parse_uv_toml(uv_toml, display="uv.toml"))
        result.files.append("uv.toml")
    project = cwd / "pyproject.toml"
    if project.is_file() and not any(_same(project, path) for _, path in given):
        from indexgate.sources.uv_settings import read_uv_settings

        merge_into(result, read_uv_settings(project, display="pyproject.toml"))
    return result


def merge_into(target: SourceSet, part: SourceSet) -> None:
    """Append ``part`` to ``target``; for single values (requires-python, pins) first wins."""
    target.requirements.extend(part.requirements)
    target.constraints.extend(part.constraints)
    target.index_hints.extend(part.index_hints)
    target.uv_indexes.extend(part.uv_indexes)
    for name, index in part.uv_sources.items():
        target.uv_sources.setdefault(name, index)
    if target.requires_python is None:
        target.requires_python = part.requires_python
    target.locked.extend(part.locked)
    target.files.extend(part.files)
    target.local_projects.extend(part.local_projects)
    target.direct.extend(part.direct)
    target.provided |= part.provided
    target.pending_builds.extend(part.pending_builds)
    target.local_python.extend(part.local_python)


def _read(
    display: str,
    path: Path,
    extras: Sequence[str],
    all_extras: bool,
    groups: Sequence[str],
    allow_locks: bool,
    cwd: Path,
) -> SourceSet:
    if not path.exists():
        raise InputError("file not found", file=display)
    if not path.is_file():
        raise InputError("not a file", file=display)
    kind = source_kind(path)
    if kind in ("uv-lock", "pylock") and not allow_locks:
        raise InputError(
            "lock files are read by `indexgate drift`; `indexgate check` takes "
            "requirements files and pyproject.toml",
            file=display,
        )
    if kind == "pyproject":
        from indexgate.sources.pyproject import parse_pyproject

        return parse_pyproject(
            path, extras=extras, all_extras=all_extras, groups=groups, display=display
        )
    if kind == "uv-lock":
        from indexgate.sources.locks import parse_uv_lock

        return parse_uv_lock(path, display=display)
    if kind == "pylock":
        from indexgate.sources.locks import parse_pylock

        return parse_pylock(path, display=display)
    from indexgate.sources.requirements_txt import parse_requirements_file

    return parse_requirements_file(path, display=display, cwd=cwd)


def _discover(cwd: Path) -> tuple[str, Path]:
    """pyproject.toml if it declares requirements, else requirements.txt, else either."""
    project, requirements = cwd / "pyproject.toml", cwd / "requirements.txt"
    if project.is_file():
        from indexgate.sources.pyproject import has_requirements

        if has_requirements(project) or not requirements.is_file():
            return "pyproject.toml", project
    if requirements.is_file():
        return "requirements.txt", requirements
    raise InputError(
        f"no requirement source found in {cwd}: give a requirements file or pyproject.toml"
    )


def _absolute(path: str, cwd: Path) -> Path:
    return Path(path) if os.path.isabs(path) else cwd / path


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False
