"""Lock files (PEP 751 pylock.toml, uv.lock): the pinned files ``drift`` re-checks.

Each index-hosted package becomes a LockedPackage with its files, and also a
``name==version`` SourceRequirement (with the file hashes) so a lock can be resolved
like a fully pinned requirements file. Packages that do not come from an index are not
pinned: VCS and remote archives become ``not-from-index`` references (``projects.py``),
the project itself and local folders are skipped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import InputError, Origin
from indexgate.redact import redact, strip_userinfo
from indexgate.sources.locations import DirectReference
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.sources.toml_text import TomlText, file_line, load_toml

# Marker variables that only mean something inside a lock (PEP 751 ``extras`` /
# ``dependency_groups``, uv's conflict markers on ``extra``/``group``): a requirement
# marker cannot carry them, so such a condition is dropped, which only widens it.
_LOCK_ONLY_VARIABLES = re.compile(r"\b(extras?|dependency_groups|group)\b")
_MAX_CLAUSES = 32


@dataclass(frozen=True)
class LockedFile:
    """One file of a locked package, as the lock file names it."""

    filename: str
    url: str | None = None
    hashes: dict[str, str] = field(default_factory=dict)  # algorithm -> hex digest
    size: int | None = None
    upload_time: str | None = None


@dataclass(frozen=True)
class LockedPackage:
    """A pinned package from a lock file or a ``==``-pinned requirements line (drift)."""

    name: NormalizedName
    version: str
    origin: Origin
    index: str | None = None  # index URL the lock names, if any
    files: tuple[LockedFile, ...] = ()
    marker: Marker | None = None


def parse_pylock(path: Path, *, display: str | None = None) -> SourceSet:
    """A PEP 751 lock: ``[[packages]]`` with ``index``, ``wheels`` and ``sdist``."""
    display = display or str(path)
    data, toml = load_toml(path, display)
    version = data.get("lock-version")
    if not isinstance(version, str) or version.split(".")[0] != "1":
        at = toml.origin(toml.key("lock-version", 0))
        raise InputError(f"unsupported lock-version {version!r} (expected 1.x)", *file_line(at))
    out = SourceSet(files=[display], requires_python=_requires_python(data, toml))
    packages = _entries(data, "packages", toml)
    headers = toml.headers("packages", array=True)
    for number, package in enumerate(packages):
        name, origin = _name(package, number, headers, toml, "packages")
        if any(key in package for key in ("vcs", "directory", "archive")):
            marker = _marker(package.get("marker"), name, origin)
            out.direct.extend(_pylock_direct(package, name, origin, marker))
            continue  # a local folder is the project's own: nothing to gate
        version = package.get("version")
        if not isinstance(version, str):
            raise InputError(f"package '{name}' has no version", *file_line(origin))
        files: list[LockedFile] = []
        if "sdist" in package:
            files.append(_pylock_file(package["sdist"], name, "sdist", origin))
        wheels = package.get("wheels", [])
        if not isinstance(wheels, list):
            raise InputError(f"package '{name}': 'wheels' must be an array", *file_line(origin))
        files.extend(_pylock_file(wheel, name, "wheel", origin) for wheel in wheels)
        marker = _marker(package.get("marker"), name, origin)
        index = package.get("index")
        locked = LockedPackage(
            name=canonicalize_name(name),
            version=version,
            origin=origin,
            index=index if isinstance(index, str) else None,
            files=tuple(files),
            marker=marker,
        )
        out.locked.append(locked)
        out.requirements.append(_pin(locked, _requirement_marker(package.get("marker"))))
    return out


def _pylock_file(entry: Any, package: str, kind: str, origin: Origin) -> LockedFile:
    if not isinstance(entry, dict):
        raise InputError(f"package '{package}': {kind} must be a table", *file_line(origin))
    filename = _file_name(entry, "name")
    if not isinstance(filename, str) or not filename:
        raise InputError(
            f"package '{package}': a {kind} has no name, url or path", *file_line(origin)
        )
    hashes = entry.get("hashes", {})
    if not isinstance(hashes, dict) or not all(isinstance(v, str) for v in hashes.values()):
        message = f"package '{package}': {filename}: 'hashes' must map algorithm to hex digest"
        raise InputError(message, *file_line(origin))
    lowered = {algorithm.lower(): digest.lower() for algorithm, digest in hashes.items()}
    return _locked_file(entry, filename, lowered)


def parse_uv_lock(path: Path, *, display: str | None = None) -> SourceSet:
    """A uv.lock: ``[[package]]`` entries whose ``source`` is a ``registry``."""
    display = display or str(path)
    data, toml = load_toml(path, display)
    version = data.get("version")
    if version != 1:
        at = toml.origin(toml.key("version", 0))
        raise InputError(f"unsupported uv.lock version {version!r} (expected 1)", *file_line(at))
    out = SourceSet(files=[display], requires_python=_requires_python(data, toml))
    packages = _entries(data, "package", toml)
    headers = toml.headers("package", array=True)
    markers = _uv_markers(packages)
    for number, package in enumerate(packages):
        name, origin = _name(package, number, headers, toml, "package")
        source = package.get("source")
        registry = source.get("registry") if isinstance(source, dict) else None
        if not isinstance(registry, str):
            # the project itself or a path source (local), or a git / url source: reported
            out.direct.extend(_uv_direct(source, name, origin, markers.get(number)))
            continue
        version = package.get("version")
        if not isinstance(version, str):
            raise InputError(f"package '{name}' has no version", *file_line(origin))
        files: list[LockedFile] = []
        if "sdist" in package:
            files.append(_uv_file(package["sdist"], name, origin))
        wheels = package.get("wheels", [])
        if not isinstance(wheels, list):
            raise InputError(f"package '{name}': 'wheels' must be an array", *file_line(origin))
        files.extend(_uv_file(wheel, name, origin) for wheel in wheels)
        marker = _marker(markers.get(number), name, origin)
        locked = LockedPackage(
            name=canonicalize_name(name),
            version=version,
            origin=origin,
            index=registry,
            files=tuple(files),
            marker=marker,
        )
        out.locked.append(locked)
        out.requirements.append(_pin(locked, marker))
    return out


def _pylock_direct(
    package: dict[str, Any], name: str, origin: Origin, marker: Marker | None
) -> list[DirectReference]:
    """A PEP 751 ``vcs`` or remote ``archive`` package: not from an index."""
    vcs, archive = package.get("vcs"), package.get("archive")
    if isinstance(vcs, dict) and isinstance(vcs.get("url"), str):
        kind = str(vcs.get("type") or "git")
        url = f"{kind}+{vcs['url']}"
        commit = vcs.get("commit-id")
        url += f"@{commit}" if isinstance(commit, str) else ""
        return [_direct(url, "vcs", name, origin, marker)]
    if isinstance(archive, dict) and isinstance(archive.get("url"), str):
        return [_direct(archive["url"], "url", name, origin, marker)]
    return []


def _uv_direct(
    source: Any, name: str, origin: Origin, marker_text: str | None
) -> list[DirectReference]:
    """A uv.lock ``git`` or ``url`` source: not from an index."""
    if not isinstance(source, dict):
        return []
    marker = _marker(marker_text, name, origin)
    if isinstance(source.get("git"), str):
        return [_direct(f"git+{source['git']}", "vcs", name, origin, marker)]
    if isinstance(source.get("url"), str):
        return [_direct(source["url"], "url", name, origin, marker)]
    return []


def _direct(
    url: str, kind: Literal["url", "vcs"], name: str, origin: Origin, marker: Marker | None
) -> DirectReference:
    shown = redact(strip_userinfo(url))
    return DirectReference(url, shown, kind, origin, canonicalize_name(name), marker)


def _uv_file(entry: Any, package: str, origin: Origin) -> LockedFile:
    if not isinstance(entry, dict):
        raise InputError(f"package '{package}': a file entry must be a table", *file_line(origin))
    filename = _file_name(entry, "filename")
    if not isinstance(filename, str) or not filename:
        raise InputError(f"package '{package}': a file has no url or path", *file_line(origin))
    hashes: dict[str, str] = {}
    written = entry.get("hash")
    if written is not None:
        algorithm, _, digest = str(written).partition(":")
        if not digest:
            message = f"package '{package}': {filename}: hash {written!r} is not algorithm:hex"
            raise InputError(message, *file_line(origin))
        hashes[algorithm.lower()] = digest.lower()
    return _locked_file(entry, filename, hashes)


def _file_name(entry: dict[str, Any], key: str) -> Any:
    """A lock's file entry's filename: as written under ``key`` (the two formats name it
    differently), else the last segment of its url, else of its path."""
    url = entry.get("url")
    return entry.get(key) or _last_segment(url if isinstance(url, str) else entry.get("path"))


def _locked_file(entry: dict[str, Any], filename: str, hashes: dict[str, str]) -> LockedFile:
    """The fields both lock formats spell alike: url, size and upload time."""
    url = entry.get("url")
    return LockedFile(
        filename=filename,
        url=url if isinstance(url, str) else None,
        hashes=hashes,
        size=_size(entry.get("size")),
        upload_time=_time(entry.get("upload-time")),
    )


def _uv_markers(packages: list[dict[str, Any]]) -> dict[int, str]:
    """When each package is installed, from the dependency edges of the lock's graph.

    uv.lock keeps markers on edges, not packages: a package applies where some path from
    the project reaches it with every edge marker true, within the resolution fork that
    chose it. Conditions that cannot be expressed, or too many paths, mean "always",
    which can only over-include a pin, never hide one.
    """
    by_name: dict[NormalizedName, list[int]] = {}
    for number, package in enumerate(packages):
        if isinstance(package.get("name"), str):
            by_name.setdefault(canonicalize_name(package["name"]), []).append(number)
    edges = {
        number: list(_edges(package, packages, by_name)) for number, package in enumerate(packages)
    }
    roots = [
        number
        for number, package in enumerate(packages)
        if isinstance(package.get("source"), dict)
        and ({"editable", "virtual"} & set(package["source"]))
    ]
    always: frozenset[str] = frozenset()
    reach: dict[int, set[frozenset[str]]] = {
        number: {always} for number in (roots or range(len(packages)))
    }
    queue = deque(reach)
    while queue:
        parent = queue.popleft()
        for child, condition in edges[parent]:
            new = {clause | condition for clause in reach[parent]}
            current = reach.get(child, set())
            merged = _merge(current, new)
            if merged != current:
                reach[child] = merged
                queue.append(child)
    out: dict[int, str] = {}
    for number, package in enumerate(packages):
        clauses = reach.get(number, {always})
        parts = []
        if always not in clauses:
            parts.append(" or ".join(_conjunction(c) for c in sorted(clauses, key=sorted)))
        forks = _fork_markers(package.get("resolution-markers"))
        # A fork marker that every path already implies adds nothing: leave it out.
        if forks and not (
            always not in clauses and all(any(f in c for f in forks) for c in clauses)
        ):
            parts.append(" or ".join(f"({marker})" for marker in forks))
        if parts:
            out[number] = (
                " and ".join(f"({part})" for part in parts) if len(parts) > 1 else parts[0]
            )
    return out


def _edges(
    package: dict[str, Any],
    packages: list[dict[str, Any]],
    by_name: dict[NormalizedName, list[int]],
) -> Iterator[tuple[int, frozenset[str]]]:
    lists: list[Any] = [package.get("dependencies", [])]
    for table in ("optional-dependencies", "dev-dependencies"):
        groups = package.get(table, {})
        if isinstance(groups, dict):
            lists.extend(groups.values())
    for entries in lists:
        for dep in entries if isinstance(entries, list) else []:
            if not isinstance(dep, dict) or not isinstance(dep.get("name"), str):
                continue
            marker = dep.get("marker")
            condition: frozenset[str] = frozenset()
            if isinstance(marker, str) and not _LOCK_ONLY_VARIABLES.search(marker):
                condition = frozenset({marker})
            for target in by_name.get(canonicalize_name(dep["name"]), []):
                candidate = packages[target]
                if "version" in dep and candidate.get("version") != dep["version"]:
                    continue
                if "source" in dep and candidate.get("source") != dep["source"]:
                    continue
                yield target, condition


def _merge(current: set[frozenset[str]], new: set[frozenset[str]]) -> set[frozenset[str]]:
    merged = current | new
    if frozenset() in merged or len(merged) > _MAX_CLAUSES:
        return {frozenset()}
    return merged


def _conjunction(clause: frozenset[str]) -> str:
    return " and ".join(f"({marker})" for marker in sorted(clause))


def _fork_markers(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    if any(not isinstance(m, str) or _LOCK_ONLY_VARIABLES.search(m) for m in value):
        return []
    return value


def _pin(locked: LockedPackage, marker: Marker | None) -> SourceRequirement:
    try:
        requirement = Requirement(f"{locked.name}=={locked.version}")
    except InvalidRequirement:
        message = f"package '{locked.name}': invalid version {locked.version!r}"
        raise InputError(message, *file_line(locked.origin)) from None
    requirement.marker = marker
    hashes = sorted(
        {
            f"{algorithm}:{digest}"
            for file in locked.files
            for algorithm, digest in file.hashes.items()
        }
    )
    return SourceRequirement(requirement, locked.origin, hashes=tuple(hashes))


def _requirement_marker(value: Any) -> Marker | None:
    if not isinstance(value, str) or _LOCK_ONLY_VARIABLES.search(value):
        return None
    return Marker(value)


def _marker(value: Any, name: str, origin: Origin) -> Marker | None:
    if value is None:
        return None
    try:
        if not isinstance(value, str):
            raise InvalidMarker(repr(value))
        return Marker(value)
    except InvalidMarker as exc:
        reason = str(exc).splitlines()[0]
        raise InputError(
            f"package '{name}': invalid marker: {reason}", *file_line(origin)
        ) from None


def _entries(data: dict[str, Any], key: str, toml: TomlText) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        at = toml.origin(toml.key(key, 0))
        raise InputError(f"'{key}' must be an array of tables", *file_line(at))
    return entries


def _name(
    package: dict[str, Any], number: int, headers: list[int], toml: TomlText, table: str
) -> tuple[str, Origin]:
    """The package's name and the line of its ``name = ...`` key."""
    start = headers[number] if number < len(headers) else None
    end = headers[number + 1] if number + 1 < len(headers) else None
    name = package.get("name")
    at = toml.key("name", start, end) if start is not None else None
    if at is None and isinstance(name, str):
        match = re.search(rf"^[ \t]*name[ \t]*=[ \t]*[\"']{re.escape(name)}[\"']", toml.text, re.M)
        at = match.start() if match else None
    origin = toml.origin(at if at is not None else start)
    if not isinstance(name, str) or not name:
        raise InputError(f"[[{table}]] entry {number + 1} has no name", *file_line(origin))
    try:
        Requirement(name)
    except InvalidRequirement:
        raise InputError(f"invalid package name {name!r}", *file_line(origin)) from None
    return name, origin


def _requires_python(data: dict[str, Any], toml: TomlText) -> SpecifierSet | None:
    value = data.get("requires-python")
    if value is None:
        return None
    try:
        return SpecifierSet(str(value))
    except InvalidSpecifier:
        at = toml.origin(toml.key("requires-python", 0))
        raise InputError(f"invalid requires-python {value!r}", *file_line(at)) from None


def _last_segment(location: Any) -> str | None:
    if not isinstance(location, str):
        return None
    path = urlsplit(location).path if "://" in location else location
    return unquote(path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]) or None


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _time(value: Any) -> str | None:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value if isinstance(value, str) else None
