"""Requirement lines that name a location instead of an index project (pip's forms).

``-e .``, ``-e ./lib``, ``./lib``, ``file:...`` (local projects: their own dependencies are
gated), ``pkg @ https://...``, ``https://.../pkg-1.0-py3-none-any.whl``, ``git+https://...``
(with or without ``name @``, with ``#egg=``), and local archives (not from an index: each is
a ``not-from-index`` warning). The syntax follows pip's ``constructors.py``: a URL's marker
follows ``"; "`` (a ``;`` may be part of a URL), extras follow a path in ``[...]``.

Relative paths are read from the working directory, as pip reads them, else from the
requirements file's folder.

What such a line becomes (``LocalProject``, ``DirectReference``) is defined here, not in
model.py: a requirements file of project names (and every check that reuses its previous
outcome) then never creates these classes at start-up.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.dists.models import parse_filename
from indexgate.errors import InputError, Origin
from indexgate.lazy_re import LazyPattern
from indexgate.redact import redact, strip_userinfo

VCS_SCHEMES = ("git+", "hg+", "svn+", "bzr+")
ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")
_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_EXTRAS = LazyPattern(r"^(.+?)(\[[^\]]*\])$")
_EGG = LazyPattern(r"(?:^|&)egg=([^&]+)")


@dataclass(frozen=True)
class LocalProject:
    """``-e <path>`` or a local project path: its own dependencies are gated, from its
    static metadata (PEP 621), or built with ``--allow-build`` when they are dynamic."""

    path: Path  # the project's folder
    display: str  # the folder as a user reads it (relative to the working directory)
    origin: Origin
    extras: frozenset[str] = frozenset()
    marker: Marker | None = None
    editable: bool = False


@dataclass(frozen=True)
class DirectReference:
    """A direct URL, VCS or local archive requirement: not from an index (``not-from-index``).

    ``url`` is as written (it may carry credentials: never shown; ``shown`` is safe).
    """

    url: str
    shown: str
    kind: Literal["url", "vcs", "archive"]
    origin: Origin
    name: NormalizedName | None = None
    marker: Marker | None = None
    gated: bool = False  # its own dependencies were read and are resolved with the rest
    extras: frozenset[str] = frozenset()


Location = LocalProject | DirectReference


def is_url(text: str) -> bool:
    """A URL (``https://``, ``git+ssh://``, ``file:``), not a Windows drive letter."""
    return bool(_URL.match(text)) and not re.match(r"^[a-zA-Z]:[\\/]", text)


def unnamed_location(
    text: str, origin: Origin, *, editable: bool, base: Path, cwd: Path
) -> Location:
    """A line that is only a location (``./lib[dev]``, ``git+https://...#egg=x``, a URL)."""
    url_like = is_url(text)
    location, _, marker_text = text.partition("; " if url_like else ";")
    location = location.strip()
    extras: frozenset[str] = frozenset()
    if not url_like:
        match = _EXTRAS.match(location)
        if match is not None:
            location = match.group(1)
            extras = frozenset(
                canonicalize_name(e.strip()) for e in match.group(2)[1:-1].split(",") if e.strip()
            )
    marker = _marker(marker_text, origin)
    return classify(
        location,
        origin,
        name=None,
        extras=extras,
        marker=marker,
        editable=editable,
        base=base,
        cwd=cwd,
    )


def classify(
    location: str,
    origin: Origin,
    *,
    name: str | None,
    extras: frozenset[str],
    marker: Marker | None,
    editable: bool,
    base: Path,
    cwd: Path,
) -> Location:
    """What a location is: a VCS or URL reference, a local archive, or a local project."""
    shown = redact(strip_userinfo(location))
    if location.lower().startswith(VCS_SCHEMES):
        named = name or _egg(location)
        return DirectReference(location, shown, "vcs", origin, _name(named), marker)
    if is_url(location) and not location.lower().startswith("file:"):
        if not location.lower().startswith(("http://", "https://")):
            scheme = location.split(":", 1)[0]
            raise _error(f"unsupported URL scheme '{scheme}:' in '{shown}'", origin)
        named = name or _egg(location) or _archive_name(urlsplit(location).path)
        return DirectReference(location, shown, "url", origin, _name(named), marker, extras=extras)
    path = _local_path(location, origin, base, cwd)
    if path.is_dir():
        display = display_path(path, cwd)
        return LocalProject(path, display, origin, extras, marker, editable)
    if path.is_file() and path.name.lower().endswith(ARCHIVES):
        named = name or _archive_name(path.name)
        shown = display_path(path, cwd)
        return DirectReference(
            str(path), shown, "archive", origin, _name(named), marker, extras=extras
        )
    if path.exists():
        raise _error(f"'{location}' is neither a project folder nor a wheel or sdist", origin)
    raise _error(
        f"'{location}' does not exist (relative paths are read from the working directory, "
        "as pip reads them, then from the requirements file's folder)",
        origin,
    )


def _local_path(location: str, origin: Origin, base: Path, cwd: Path) -> Path:
    if location.lower().startswith("file:"):
        parts = urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise _error(f"'{location}': a file: URL on another host cannot be read", origin)
        from urllib.request import url2pathname  # ~8 ms of imports (http.client): only here

        path = url2pathname(unquote(parts.path))
        if not os.path.isabs(path):  # file:./lib, as uv and pip accept it
            path = parts.path
        location = path
    location = os.path.expanduser(location)
    if os.path.isabs(location):
        return Path(location).resolve()
    here = cwd / location
    if here.exists():
        return here.resolve()
    return (base / location).resolve()


def display_path(path: Path, cwd: Path) -> str:
    """The path as a user reads it: relative to the working directory when under it."""
    try:
        return os.path.relpath(path, cwd) if path.is_relative_to(cwd.resolve()) else str(path)
    except ValueError:  # another drive
        return str(path)


def _egg(url: str) -> str | None:
    fragment = urlsplit(url).fragment
    match = _EGG.search(fragment)
    return match.group(1) if match else None


def _archive_name(path: str) -> str | None:
    filename = unquote(path.rsplit("/", 1)[-1])
    parsed = parse_filename(filename)
    if parsed is not None:
        return parsed.name
    for suffix in ARCHIVES:  # an sdist of another archive kind: name-version.tgz
        if filename.lower().endswith(suffix):
            stem = filename[: -len(suffix)]
            return stem.rpartition("-")[0] or None
    return None


def _name(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return canonicalize_name(text, validate=True)
    except ValueError:
        return None


def _marker(text: str, origin: Origin) -> Marker | None:
    text = text.strip()
    if not text:
        return None
    try:
        return Marker(text)
    except InvalidMarker as exc:
        reason = str(exc).splitlines()[0]
        raise _error(f"invalid marker '{text}': {reason}", origin) from None


def _error(message: str, origin: Origin) -> InputError:
    return InputError(redact(message), file=origin.file, line=origin.line)
