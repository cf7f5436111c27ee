"""Plain data about distributions: filenames, the files an index lists, their core metadata
(what the index client hands to the resolver, and what the inputs read of local files)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from functools import lru_cache
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from packaging.requirements import Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

Vendor = Literal["nexus-firewall", "jfrog-curation", "jfrog-xray", "unknown"]
# blocked: a policy; pending: a scan in progress, an unknown component or the scanner
# unavailable (try again later); waivable: a policy block that allows waiver requests.
BlockState = Literal["blocked", "pending", "waivable"]


@dataclass(frozen=True, slots=True)
class DistFile:
    """One file listed on a project page (PEP 503 / 691 / flat).

    Slotted: a run may hold tens of thousands (a page lists every file of every version).
    """

    filename: str
    url: str  # absolute, without fragment
    hashes: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    requires_python: str | None = None
    yanked: bool = False
    yanked_reason: str | None = None
    # PEP 658/714: None = no metadata file offered; {} = offered without hash; else hashes.
    metadata_hashes: dict[str, str] | None = field(default=None, compare=False, hash=False)
    upload_time: str | None = None  # PEP 700, ISO 8601
    size: int | None = None

    @property
    def metadata_url(self) -> str | None:
        return None if self.metadata_hashes is None else self.url + ".metadata"


DIST_FIELDS = tuple(f.name for f in fields(DistFile))
dist_row = attrgetter(*DIST_FIELDS)
"""A DistFile's field values, in declaration order: what ``dist_files`` takes back."""


_new_object = object.__new__
(_set_filename, _set_url, _set_hashes, _set_requires_python, _set_yanked, _set_reason) = (
    DistFile.__dict__[name].__set__ for name in DIST_FIELDS[:6]
)
(_set_metadata_hashes, _set_upload_time, _set_size) = (
    DistFile.__dict__[name].__set__ for name in DIST_FIELDS[6:]
)


def new_dist(
    filename: str,
    url: str,
    hashes: dict[str, str],
    requires_python: str | None,
    yanked: bool,
    yanked_reason: str | None,
    metadata_hashes: dict[str, str] | None,
    upload_time: str | None = None,
    size: int | None = None,
) -> DistFile:
    """``DistFile(...)`` with its fields given in order, at half the cost: the frozen
    dataclass's ``__init__`` looks ``object.__setattr__`` up for each field, and the page
    readers make one per kept file (tens of thousands a run). The same object, field for
    field (its slots set by their own descriptors)."""
    dist = _new_object(DistFile)
    _set_filename(dist, filename)
    _set_url(dist, url)
    _set_hashes(dist, hashes)
    _set_requires_python(dist, requires_python)
    _set_yanked(dist, yanked)
    _set_reason(dist, yanked_reason)
    _set_metadata_hashes(dist, metadata_hashes)
    _set_upload_time(dist, upload_time)
    _set_size(dist, size)
    return dist


def dist_files(rows: Iterable[Sequence[Any]]) -> tuple[DistFile, ...]:
    """DistFiles from ``dist_row`` tuples (or lists) the index client stored itself.

    The values were checked when the page was parsed. A row of another length raises
    ValueError (``DistFile`` would fill missing fields with defaults).
    """
    out = []
    for row in rows:
        if len(row) != len(DIST_FIELDS):
            raise ValueError(f"a stored file has {len(row)} fields, not {len(DIST_FIELDS)}")
        out.append(new_dist(*row))
    return tuple(out)


class ParsedFilename(NamedTuple):
    """A wheel's or sdist's name, version and tags. A named tuple, not a frozen dataclass:
    one is made per distinct filename a run reads (tens of thousands on real pages), and
    a frozen dataclass's ``__init__`` cost five times as much."""

    name: NormalizedName
    version: Version
    kind: Literal["wheel", "sdist"]
    tags: frozenset[Tag] = frozenset()  # empty for sdists


@lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> ParsedFilename | None:
    """Name, version and tags from a wheel or sdist filename; None for anything else.

    Memoized: the finder, the provider and the client each ask about every listed file,
    and the answer (frozen, immutable parts) depends on the filename alone. The checks are
    ``parse_wheel_filename``'s and ``parse_sdist_filename``'s, but the version and the tag
    set are built once per distinct string: a project's wheels and sdist share a version,
    and a run sees a few dozen tag strings.
    """
    try:
        if filename.endswith(".whl"):
            stem = filename[:-4]
            dashes = stem.count("-")
            if dashes not in (4, 5):
                return None
            parts = stem.split("-", dashes - 2)  # name, version, [build], tags
            name = parts[0]
            if "__" in name or _WHEEL_NAME.match(name) is None:
                return None
            if dashes == 5 and _BUILD_TAG.match(parts[2]) is None:
                return None
            version = _version(parts[1])
            return ParsedFilename(canonical_name(name), version, "wheel", _wheel_tags(parts[-1]))
        if filename.endswith(".tar.gz"):
            stem = filename[:-7]
        elif filename.endswith(".zip"):
            stem = filename[:-4]
        else:
            return None
        name, _, version_part = stem.rpartition("-")
        if not name:  # no dash, or an empty name (packaging 26.3 rejects it too)
            return None
        return ParsedFilename(canonical_name(name), _version(version_part), "sdist")
    except ValueError:  # InvalidVersion, InvalidTag (packaging 26.3+)
        return None


# packaging.utils' own rules for wheel filenames (PEP 427 name escaping, build numbers), as
# of packaging 26.3 on every version: a name needs at least one character.
_WHEEL_NAME = re.compile(r"^[\w._]+\Z", re.UNICODE)
_BUILD_TAG = re.compile(r"(\d+)(.*)", re.ASCII)


@lru_cache(maxsize=1 << 14)
def _version(text: str) -> Version:
    return Version(text)


canonical_name = lru_cache(maxsize=1 << 12)(canonicalize_name)
"""``canonicalize_name``, memoized: a project's files share their name, as do the many
requirements on a project (the resolver makes one per parent version it looks at)."""


@lru_cache(maxsize=1024)
def _wheel_tags(tag: str) -> frozenset[Tag]:
    return frozenset(parse_tag(tag))


# Pre-PEP 440 spellings such as ">=3.6.*" that real uploads still carry.
_LEGACY_WILDCARD = re.compile(r"(>=|<=|>|<|~=)\s*([0-9][0-9.]*?)\.\*")


@lru_cache(maxsize=4096)
def requires_python_text(text: str) -> str | None:
    """A ``requires-python`` value as pip and uv read it; None when it is malformed
    (``>= '2.7'``): the file that carries it cannot be used.

    ``>=3.6.*`` meant ``>=3.6`` before PEP 440 made it invalid, and is read so (uv does
    too). Memoized: a page repeats a handful of values over thousands of files.
    """
    for candidate in (text, _LEGACY_WILDCARD.sub(r"\1\2", text)):
        try:
            SpecifierSet(candidate)
        except InvalidSpecifier:
            continue
        return candidate
    return None


@dataclass(frozen=True)
class CoreMetadata:
    """The parts of core metadata the resolver needs."""

    name: NormalizedName
    version: Version
    requires_dist: tuple[Requirement, ...] = ()
    requires_python: SpecifierSet | None = None
    provides_extra: frozenset[str] = frozenset()
    metadata_version: str = "2.1"
    dynamic: frozenset[str] = frozenset()  # lower-cased field names


@dataclass(frozen=True)
class BlockInfo:
    """What a repository firewall said when it refused an artifact."""

    vendor: Vendor
    reason: str
    details_url: str | None = None
    policies: tuple[
        dict[str, str], ...
    ] = ()  # JFrog Curation: policy/condition/explanation/remediation
    state: BlockState = "blocked"
