"""Plain data read from requirement sources: what is asked for, and where it was written."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import Origin

if TYPE_CHECKING:  # a requirements check reads no lock, uv config or location line
    from indexgate.sources.locations import DirectReference, LocalProject
    from indexgate.sources.locks import LockedPackage
    from indexgate.sources.uv_settings import UvIndex


@dataclass(frozen=True)
class SourceRequirement:
    """One requirement as read from an input, with where it was written."""

    requirement: Requirement
    origin: Origin
    hashes: tuple[str, ...] = ()  # "sha256:<hex>" as written with --hash
    constraint: bool = False  # came from a -c file: limits versions, never adds a package

    @property
    def name(self) -> NormalizedName:
        return canonicalize_name(self.requirement.name)


@dataclass(frozen=True)
class IndexHint:
    """An index option found inside a source (requirements-file options, uv config)."""

    url: str
    kind: Literal["index-url", "extra-index-url", "find-links"]
    origin: Origin


@dataclass
class SourceSet:
    """Everything read from the sources of one run."""

    requirements: list[SourceRequirement] = field(default_factory=list)
    constraints: list[SourceRequirement] = field(default_factory=list)
    index_hints: list[IndexHint] = field(default_factory=list)
    uv_indexes: list[UvIndex] = field(default_factory=list)
    uv_sources: dict[NormalizedName, str] = field(default_factory=dict)  # package -> index name
    requires_python: SpecifierSet | None = None
    locked: list[LockedPackage] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # every file read, in order
    local_projects: list[LocalProject] = field(default_factory=list)  # -e ., ./lib
    direct: list[DirectReference] = field(default_factory=list)  # pkg @ https://..., git+...
    # Names a local project or direct reference supplies: never looked up on an index.
    provided: set[NormalizedName] = field(default_factory=set)
    pending_builds: list[LocalProject] = field(default_factory=list)  # dynamic: --allow-build
    local_python: list[tuple[LocalProject, SpecifierSet]] = field(default_factory=list)
