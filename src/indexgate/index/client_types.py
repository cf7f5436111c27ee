"""The index client's result and error types, shared by its parts: what a page, a
metadata read or a probe answers (``PageResult``, ``MetadataResult``, ``ProbeResult``,
``BlockHit``), the error that stops a target (``FetchError``), the page filter
(``TargetFilter``), the Accept header of a page request (``ACCEPT``), and the helpers
every fetch wraps its work in (``noting``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.dists.models import BlockInfo, CoreMetadata, DistFile, ParsedFilename, parse_filename
from indexgate.errors import IndexgateError, IndexUnreachable, Origin, name_index, note_context
from indexgate.model import Blocked
from indexgate.redact import redact
from indexgate.settings import IndexConfig

# What every page request asks for (PEP 691 content negotiation): JSON first, HTML for
# older servers and mirrors; the page readers take whichever comes.
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)


T = TypeVar("T")
Stage = Literal["metadata", "download"]


class _Ranks(Protocol):
    label: str

    def tag_rank(self, tags: frozenset[Tag]) -> int | None: ...


class TargetFilter:
    """The files of a page that can serve one of the run's targets: every sdist, and
    the wheels whose tags one of them installs.

    ``check`` keeps only those from each page (a project with native wheels lists
    dozens per version, most for other platforms), so memory follows what the run can
    use, not the page's size. A version none of whose files fits keeps one, so that a
    failure can still say why (see ``simple``). Drift reads whole pages (a lock may pin
    any file).
    """

    # Whether a wheel is kept depends on its tags alone: the page parser may remember the
    # answer per tag string (``page.Files.admit``).
    decides_by_tags = True

    def __init__(self, targets: Sequence[_Ranks]) -> None:
        self._targets = tuple(targets)
        self.label = ",".join(sorted({t.label for t in self._targets}))
        self._memo: dict[frozenset[Tag], bool] = {}

    def __call__(self, parsed: ParsedFilename) -> bool:
        if parsed.kind != "wheel":
            return True
        tags = parsed.tags
        ok = self._memo.get(tags)
        if ok is None:
            ok = self._memo[tags] = any(t.tag_rank(tags) is not None for t in self._targets)
        return ok


class FetchError(IndexgateError):
    """A fetch that policy says must stop the target (auth, missing file, bad answer)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        index: str,
        status: int | None = None,
        package: str | None = None,
    ) -> None:
        self.kind = kind
        self.index = index
        self.status = status
        self.package = package
        super().__init__(redact(message))


@dataclass(frozen=True)
class PageResult:
    """One project page of one index, as a target may use it."""

    index: IndexConfig
    name: NormalizedName
    status: int  # 200 found, 404 not listed (also for flat indexes without the project)
    files: tuple[DistFile, ...] = ()
    # why this answer is a refusal whatever its status (index/authcheck.py): a login page,
    # or a 404 after which the index failed its auth check again
    refused: str | None = None
    # What the page's files were parsed from (``_page_key``: URL, media type, bytes); None
    # for answers without files and for flat indexes. Equal keys: the same page.
    key: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BlockHit:
    """A quarantined artifact: the firewall refused the file or its metadata."""

    file: DistFile
    index: str
    stage: Stage
    status: int
    info: BlockInfo

    @property
    def name(self) -> NormalizedName:
        parsed = parse_filename(self.file.filename)
        return parsed.name if parsed else canonicalize_name(self.file.filename)

    @property
    def version(self) -> str:
        parsed = parse_filename(self.file.filename)
        return str(parsed.version) if parsed else "?"

    def to_report(self, fallback: str | None, origin: Origin | None) -> Blocked:
        """The report row; ``origin`` is the requirement line that asked for the package."""
        return Blocked(
            name=self.name,
            version=self.version,
            file=self.file.filename,
            index=self.index,
            stage=self.stage,
            status_code=self.status,
            vendor=self.info.vendor,
            reason=self.info.reason,
            details_url=self.info.details_url,
            fallback=fallback,
            policies=[dict(p) for p in self.info.policies],
            state=self.info.state,
            file_path=origin.file if origin else None,
            line=origin.line if origin else None,
        )


@dataclass(frozen=True)
class MetadataResult:
    """The core metadata of one file, or why it cannot be had."""

    metadata: CoreMetadata | None = None
    block: BlockHit | None = None
    unusable: str | None = None  # why this file cannot be used (never a block)
    from_cache: bool = False  # no request reached the index: the file was not probed


@dataclass(frozen=True)
class ProbeResult:
    """What probing a file found: a block, or None when the file is served."""

    block: BlockHit | None = None


async def noting(
    work: Callable[[], Awaitable[T]],
    index: IndexConfig,
    name: str | None,
    file: DistFile | None = None,
) -> T:
    """``work()``, its unreachable-index errors (deadlines, throttling) naming the index,
    and the package, index and file it was about noted on any bug it raises (the
    internal-error report names them; see ``errors.note_context``).

    ``work`` is called here, not by the caller: a fetch's task cancelled before its first
    step (a run ending) then leaves no coroutine that was never awaited behind.
    """
    try:
        return await work()
    except IndexUnreachable as exc:
        raise name_index(exc, index.name) from None
    except Exception as exc:
        package = name or (file_project(file) if file is not None else None)
        note_context(exc, package=package, index=index.name, file=file.filename if file else None)
        raise


def unreadable(index: IndexConfig, what: str, exc: Exception | str) -> FetchError:
    """An index answer we cannot read: fail closed, as if the index were unreachable."""
    return FetchError(
        "index-unreachable",
        f"index '{index.name}' sent an unreadable {what}: {exc}",
        index=index.name,
    )


def file_project(file: DistFile) -> str | None:
    parsed = parse_filename(file.filename)
    return parsed.name if parsed else None
