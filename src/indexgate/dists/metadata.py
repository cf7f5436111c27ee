"""Core metadata from bytes: METADATA / PKG-INFO files, sdist archives, and hash checks.

Pure functions, no I/O: the resolver must read dependencies without running package code,
so metadata is only ever parsed here, never produced by a build.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from functools import lru_cache
from pathlib import PurePosixPath

from packaging.markers import (
    Marker,
    UndefinedComparison,
    UndefinedEnvironmentName,
    default_environment,
)
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidName, canonicalize_name
from packaging.version import InvalidVersion, Version

from indexgate.dists.models import CoreMetadata, requires_python_text
from indexgate.lazy_re import LazyPattern

__all__ = [
    "HashMismatch",
    "MetadataError",
    "check_hash",
    "header_section",
    "parse_core_metadata",
    "read_sdist_pkg_info",
    "static_sdist_metadata",
]

MAX_PKG_INFO_SIZE = 10 * 1024 * 1024  # a PKG-INFO larger than this is not a real one
MAX_SDIST_UNPACKED = 1024 * 1024 * 1024  # stop inflating a tarball past this (gzip bombs)
_STRONG_HASHES = ("sha512", "sha384", "sha256")  # strongest first


class MetadataError(ValueError):
    """Metadata, or the archive that holds it, is malformed or cannot be trusted."""


class HashMismatch(MetadataError):
    """Downloaded bytes do not match the hash the index published."""


def parse_core_metadata(data: bytes) -> CoreMetadata:
    """The resolver's view of a METADATA / PKG-INFO file (email-header format).

    Only ``header_section(data)`` is read: the description after it never matters.
    """
    headers = _headers(data)
    name = _single(headers, "name")
    version = _single(headers, "version")
    if not name or not version:
        raise MetadataError("metadata has no Name or no Version field")
    try:
        normalized = canonicalize_name(name, validate=True)
    except InvalidName as exc:
        raise MetadataError(f"invalid Name {name!r}") from exc
    try:
        parsed_version = Version(version)
    except InvalidVersion as exc:
        raise MetadataError(f"invalid Version {version!r} for {normalized}") from exc

    requirements = []
    for line in headers.get("requires-dist", []):
        try:
            req = _requirement(line)
        except (InvalidRequirement, SyntaxError) as exc:  # packaging: SyntaxError on a NUL
            raise MetadataError(f"invalid Requires-Dist {line!r} for {normalized}: {exc}") from exc
        if req is None:
            raise MetadataError(
                f"invalid Requires-Dist {line!r} for {normalized}: its marker cannot be "
                "evaluated (a comparison that PEP 508 does not define)"
            )
        requirements.append(req)

    requires_python = _single(headers, "requires-python")
    return CoreMetadata(
        name=normalized,
        version=parsed_version,
        requires_dist=tuple(requirements),
        requires_python=_specifier(requires_python, normalized) if requires_python else None,
        provides_extra=frozenset(canonicalize_name(e) for e in headers.get("provides-extra", [])),
        metadata_version=_single(headers, "metadata-version") or "1.0",
        dynamic=frozenset(d.lower() for d in headers.get("dynamic", [])),
    )


def static_sdist_metadata(pkg_info: bytes) -> CoreMetadata:
    """PKG-INFO metadata, only if PEP 643 lets us trust it without building the sdist."""
    meta = parse_core_metadata(pkg_info)
    where = f"{meta.name} {meta.version} sdist"
    try:
        metadata_version = Version(meta.metadata_version)
    except InvalidVersion as exc:
        raise MetadataError(f"{where}: invalid Metadata-Version {meta.metadata_version!r}") from exc
    if metadata_version < Version("2.2"):
        raise MetadataError(
            f"{where}: Metadata-Version {meta.metadata_version} predates PEP 643 (needs 2.2),"
            " so its dependencies are not known without a build"
        )
    dynamic = sorted(meta.dynamic & {"requires-dist", "requires-python"})
    if dynamic:
        raise MetadataError(f"{where}: {', '.join(dynamic)} declared Dynamic, needs a build")
    return meta


def read_sdist_pkg_info(data: bytes, filename: str) -> bytes:
    """The top-level ``<dir>/PKG-INFO`` of a .tar.gz or .zip sdist, read in memory."""
    lower = filename.lower()
    try:
        if lower.endswith((".tar.gz", ".tgz")):
            found = _tar_pkg_infos(data)
        elif lower.endswith(".zip"):
            found = _zip_pkg_infos(data)
        else:
            raise MetadataError(f"{filename}: not a .tar.gz or .zip sdist")
    except MetadataError:
        raise
    except (NotImplementedError, RuntimeError) as exc:  # zip: odd compression, encryption
        raise MetadataError(f"{filename}: unsupported sdist archive: {exc}") from exc
    except Exception as exc:  # tarfile/zipfile/gzip fail on crafted input in many ways
        raise MetadataError(f"{filename}: unreadable sdist archive: {exc}") from exc
    if not found:
        raise MetadataError(f"{filename}: no top-level PKG-INFO in the sdist")
    # Several top-level directories: prefer the one named like the file.
    stem = filename[: -len(".tar.gz")] if lower.endswith(".tar.gz") else filename.rsplit(".", 1)[0]
    for top, content in found:
        if top.lower() == stem.lower():
            return content
    return found[0][1]


def check_hash(data: bytes, hashes: Mapping[str, str]) -> None:
    """Verify the strongest SHA-2 hash offered; weaker or unknown hashes are not checked."""
    known = {k.lower(): v.strip().lower() for k, v in hashes.items()}
    for algorithm in _STRONG_HASHES:
        if algorithm in known:
            actual = hashlib.new(algorithm, data).hexdigest()
            if actual != known[algorithm]:
                raise HashMismatch(
                    f"{algorithm} mismatch: index says {known[algorithm]}, got {actual}"
                )
            return


# --- helpers ------------------------------------------------------------------------------


def _headers(data: bytes) -> dict[str, list[str]]:
    """Header values by lower-cased name, decoded as UTF-8 (latin-1 as a last resort).

    What ``email.parser.BytesParser(policy=compat32)`` makes of the header section, read
    directly (the email package costs ~10x more and the body, the description, is
    ignored): lines end at CR, LF or CRLF; the section ends at the first line that is
    neither ``name:``, nor a continuation (leading space or tab), nor a ``From `` line;
    continuation lines are kept with their line ends; a continuation with no field
    before it, a ``From `` line and a line starting with ``:`` are dropped.
    """
    result: dict[str, list[str]] = {}
    name: bytes | None = None
    value: list[bytes] = []
    header_line = _HEADER_LINE.match  # once per file, not once per line
    for line in _header_lines(data):
        if header_line(line) is None:
            break
        if line[0] in b" \t":
            if name is not None:
                value.append(line)
            continue
        if name is not None:
            _add_header(result, name, value)
            name = None
        if line.startswith(b"From "):  # an mbox envelope line
            continue
        colon = line.index(b":")
        if colon:
            name, value = line[:colon], [line[colon + 1 :].lstrip(b" \t")]
    if name is not None:
        _add_header(result, name, value)
    return result


_HEADER_LINE = LazyPattern(rb"From |[\x21-\x39\x3b-\x7e]*:|[\t ]")


def header_section(data: bytes) -> bytes:
    """The bytes up to the first blank line: all that ``parse_core_metadata`` reads, so
    a cache may keep these alone (``parse_core_metadata`` of them is the same)."""
    lf = data.find(b"\n\n")
    # A CRLF blank line only matters before ``lf``: no need to scan the description for one.
    crlf = data.find(b"\r\n\r\n", 0, lf + 4) if lf >= 0 else data.find(b"\r\n\r\n")
    ends = [at for at in (lf + 1 if lf >= 0 else -1, crlf + 2 if crlf >= 0 else -1) if at > 0]
    return data[: min(ends, default=len(data))]


def _header_lines(data: bytes) -> list[bytes]:
    """The lines up to the first blank one at the latest (the description is not split)."""
    return header_section(data).splitlines(keepends=True)


def _add_header(result: dict[str, list[str]], name: bytes, lines: list[bytes]) -> None:
    raw = b"".join(lines).rstrip(b"\r\n")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    result.setdefault(name.decode("ascii").lower(), []).append(text.strip())


def _single(headers: dict[str, list[str]], key: str) -> str | None:
    values = headers.get(key)
    return values[0] if values else None


@lru_cache(maxsize=8192)
def _requirement(line: str) -> Requirement | None:
    """A Requires-Dist value parsed; None when its marker cannot be evaluated.

    Memoized by the line: packaging's parse is most of a metadata file's, and the versions
    of a project (a backtracking walk reads dozens) repeat nearly every line, as do
    projects (``typing-extensions>=4``). One Requirement then serves several metadata
    files: nothing changes one (a source that adds a marker parses a copy)."""
    req = Requirement(line)
    if req.marker is not None and not _marker_evaluates(str(req.marker)):
        return None
    return req


@lru_cache(maxsize=4096)
def _marker_evaluates(text: str) -> bool:
    """Can the marker be evaluated at all? ``os_name ~= "nt"`` parses but raises on
    evaluation, on every target (packaging compares every clause, whatever the values),
    so the version whose metadata has it is unusable, as with any malformed field."""
    try:
        Marker(text).evaluate({**default_environment(), "extra": ""})
    except (UndefinedComparison, UndefinedEnvironmentName, ValueError):
        return False
    return True


def _specifier(text: str, name: str) -> SpecifierSet:
    fixed = requires_python_text(text)  # ">=3.6.*" read as ">=3.6", as pip and uv do
    if fixed is None:
        raise MetadataError(f"invalid Requires-Python {text!r} for {name}")
    return SpecifierSet(fixed)


def _is_top_pkg_info(member: str) -> str | None:
    """The top directory name if ``member`` is ``<top>/PKG-INFO``, else None."""
    parts = [p for p in PurePosixPath(member).parts if p != "."]
    if len(parts) == 2 and parts[1] == "PKG-INFO" and parts[0] not in ("/", ".."):
        return parts[0]
    return None


class _CappedReader(io.RawIOBase):
    """A read-only stream that fails once more than ``limit`` bytes came out of it."""

    def __init__(self, inner: io.BufferedIOBase, limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        data = self._inner.read(len(buffer))
        self._left -= len(data)
        if self._left < 0:
            raise MetadataError("sdist unpacks to more than 1 GiB, refusing it")
        buffer[: len(data)] = data
        return len(data)


def _tar_pkg_infos(data: bytes) -> list[tuple[str, bytes]]:
    """Stream the tarball member by member (``r|``): nothing is written, nothing seeks."""
    import gzip  # archives are read only for sdists: most runs never import these
    import tarfile

    found: list[tuple[str, bytes]] = []
    raw = gzip.GzipFile(fileobj=io.BytesIO(data))
    with tarfile.open(fileobj=_CappedReader(raw, MAX_SDIST_UNPACKED), mode="r|") as archive:
        for member in archive:
            top = _is_top_pkg_info(member.name)
            if top is None or not member.isfile():
                continue
            if member.size > MAX_PKG_INFO_SIZE:
                raise MetadataError(f"{member.name} claims {member.size} bytes, refusing it")
            stream = archive.extractfile(member)
            if stream is not None:
                found.append((top, stream.read(MAX_PKG_INFO_SIZE)))
    return found


def _zip_pkg_infos(data: bytes) -> list[tuple[str, bytes]]:
    import zipfile

    found: list[tuple[str, bytes]] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            top = _is_top_pkg_info(info.filename)
            if top is None or info.is_dir():
                continue
            if info.file_size > MAX_PKG_INFO_SIZE:
                raise MetadataError(f"{info.filename} claims {info.file_size} bytes, refusing it")
            with archive.open(info) as stream:
                found.append((top, stream.read(MAX_PKG_INFO_SIZE)))
    return found
