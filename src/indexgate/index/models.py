"""Plain data the index client hands to the resolver: files, metadata, blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.tags import Tag, parse_tag
from packaging.utils import (
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

Vendor = Literal["nexus-firewall", "jfrog-curation", "jfrog-xray", "unknown"]


@dataclass(frozen=True)
class DistFile:
    """One file listed on a project page (PEP 503 / 691 / flat)."""

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


@dataclass(frozen=True)
class ParsedFilename:
    name: NormalizedName
    version: Version
    kind: Literal["wheel", "sdist"]
    tags: frozenset[Tag] = frozenset()  # empty for sdists


@lru_cache(maxsize=1 << 16)
def parse_filename(filename: str) -> ParsedFilename | None:
    """Name, version and tags from a wheel or sdist filename; None for anything else.

    Memoized: the finder, the provider and the client each ask about every listed file,
    and the answer (frozen, immutable parts) depends on the filename alone.
    """
    try:
        if filename.endswith(".whl"):
            stem = filename[:-4]
            if stem.count("-") in (4, 5):
                # The tag part (the last three fields) is parsed once per distinct string
                # (a run sees a few dozen); packaging checks the rest as it always does.
                head, interpreter, abi, platform = stem.rsplit("-", 3)
                name, version, _build, _ = parse_wheel_filename(f"{head}-py3-none-any.whl")
                tags = _wheel_tags(f"{interpreter}-{abi}-{platform}")
                return ParsedFilename(name, version, "wheel", tags)
            name, version, _build, tags = parse_wheel_filename(filename)
            return ParsedFilename(name, version, "wheel", frozenset(tags))
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return ParsedFilename(name, version, "sdist")
    except ValueError:  # Invalid{Wheel,Sdist}Filename, InvalidVersion, InvalidTag (26.3+)
        return None
    return None


@lru_cache(maxsize=1024)
def _wheel_tags(tag: str) -> frozenset[Tag]:
    return frozenset(parse_tag(tag))


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
