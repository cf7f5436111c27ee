"""Which index a package comes from: the index strategies, as uv defines them.

- ``first-index``: walk the indexes in order; the first that has the project is the only
  one used. 404 (and ``ignore-error-codes``) move on; 401/403 stop and fail the gate.
  Pages are asked one after another, so a private name never reaches a later index.
- ``unsafe-first-match``: every index; all versions of the first index, then the next.
- ``unsafe-best-match``: every index; the best version wherever it is (first index wins
  a tie). Under both, a 401/403 index is skipped with a warning.
A package pinned under ``sources`` uses only its index; ``explicit`` indexes only so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.dists.models import DistFile, parse_filename
from indexgate.errors import IndexUnreachable
from indexgate.index.client import FetchError, IndexClient, PageResult
from indexgate.model import Problem
from indexgate.policy import PageAction, PageDecision, Strategy
from indexgate.redact import redact
from indexgate.settings import IndexConfig, Settings


class VersionEntry(NamedTuple):
    """One version of a listing and its files. A named tuple, not a frozen dataclass
    (``ParsedFilename``'s reason): one is made per version of every page, and again per
    version a target can use, thousands a run, and a frozen dataclass's ``__init__``
    costs twice as much."""

    version: Version
    index: IndexConfig
    files: tuple[DistFile, ...]


@dataclass(frozen=True)
class Listing:
    """A package's versions in the strategy's order of preference."""

    name: NormalizedName
    entries: tuple[VersionEntry, ...]
    searched: tuple[str, ...]  # index names asked, in order
    warnings: tuple[Problem, ...] = ()


class Finder:
    def __init__(self, settings: Settings, client: IndexClient) -> None:
        self.settings = settings
        self.client = client
        self._tasks: dict[NormalizedName, asyncio.Future[Listing]] = {}
        # A page's files -> its versions, so that a revalidated page whose files are the
        # stored ones (the same tuple) gives the same VersionEntry objects as the stored
        # listing: what was worked out for one holds for the other.
        self._grouped: dict[tuple[int, str], tuple[tuple[DistFile, ...], list[VersionEntry]]] = {}

    def eligible(self, name: NormalizedName) -> tuple[IndexConfig, ...]:
        pinned = self.settings.sources.get(name)
        if pinned is not None:
            return (self.settings.index(pinned),)
        return tuple(i for i in self.settings.indexes if not i.explicit)

    def listing(self, name: NormalizedName) -> asyncio.Future[Listing]:
        """The package's listing; started once per run, shared by every target."""
        task = self._tasks.get(name)
        if task is None:
            task = asyncio.ensure_future(self._find(name))
            task.add_done_callback(_retrieve)
            self._tasks[name] = task
        return task

    def started(self, name: NormalizedName) -> asyncio.Future[Listing] | None:
        """The package's listing if it was asked for already (done or not), else None."""
        return self._tasks.get(name)

    async def _find(self, name: NormalizedName) -> Listing:
        indexes = self.eligible(name)
        if self._first_index_only(name):
            return await self._first_index(name, indexes)
        pages = await asyncio.gather(*(self._page(i, name) for i in indexes))
        warnings: list[Problem] = []
        found: list[PageResult] = []
        for page in pages:
            decision = judge_page(page, self.settings.strategy)
            if decision.action is PageAction.USE:
                found.append(page)
            elif decision.action is PageAction.SKIP_WITH_WARNING:
                warnings.append(_skipped(page))
            elif decision.action is not PageAction.NEXT:
                raise refusal(page, decision)
        searched = tuple(i.name for i in indexes)
        shadow = shadowed(name, found, self.settings)
        if shadow is not None:  # check reports it as an error (resolve.finish_target)
            warnings.append(shadow)
        return Listing(name, self._merge(found), searched, tuple(warnings))

    def _first_index_only(self, name: NormalizedName) -> bool:
        return name in self.settings.sources or self.settings.strategy is Strategy.FIRST_INDEX

    def _merge(self, found: Iterable[PageResult]) -> tuple[VersionEntry, ...]:
        """The versions of several indexes' pages in the (unsafe) strategy's order."""
        by_index = [self._versions(p) for p in found]
        entries: dict[Version, VersionEntry] = {}
        for versions in by_index:
            for entry in versions:
                entries.setdefault(entry.version, entry)
        if self.settings.strategy is Strategy.UNSAFE_FIRST_MATCH:
            return tuple(entries[e.version] for v in by_index for e in v if entries[e.version] is e)
        return tuple(sorted(entries.values(), key=lambda e: e.version, reverse=True))

    def stored_listing(self, name: NormalizedName) -> Listing | None:
        """The listing as the cached pages last showed it, without any network.

        For speculative prefetch only: it may be stale, so the resolver never sees it.
        None when an index's page is not stored (or not a success: what the index says
        now decides those) or the stored pages would not make a listing.
        """
        first_only = self._first_index_only(name)
        strategy = Strategy.FIRST_INDEX if first_only else self.settings.strategy
        found: list[PageResult] = []
        for index in self.eligible(name):
            page = self.client.stored_page(index, name)
            if page is None:
                return None
            action = judge_page(page, strategy).action
            if action is PageAction.USE and first_only:
                return Listing(name, tuple(self._versions(page)), ())
            if action is PageAction.USE:
                found.append(page)
            elif action is not PageAction.NEXT and action is not PageAction.SKIP_WITH_WARNING:
                return None
        return Listing(name, self._merge(found), ())

    def _versions(self, page: PageResult) -> list[VersionEntry]:
        """Files grouped by version, newest first; once per page parse (see ``_grouped``)."""
        key = (id(page.files), page.index.name)
        memo = self._grouped.get(key)
        if memo is None or memo[0] is not page.files:
            memo = self._grouped[key] = (page.files, _versions(page))
        return memo[1]

    async def _page(self, index: IndexConfig, name: NormalizedName) -> PageResult:
        """The project page; an unreachable index is reported with the package and index."""
        try:
            return await self.client.project_page(index, name)
        except IndexUnreachable as exc:
            raise FetchError(
                "index-unreachable", str(exc), index=index.name, package=name
            ) from None

    async def _first_index(self, name: NormalizedName, indexes: tuple[IndexConfig, ...]) -> Listing:
        searched: list[str] = []
        for index in indexes:
            searched.append(index.name)
            page = await self._page(index, name)
            decision = judge_page(page, Strategy.FIRST_INDEX)
            if decision.action is PageAction.USE:
                return Listing(name, tuple(self._versions(page)), tuple(searched))
            if decision.action is PageAction.NEXT:
                continue
            raise refusal(page, decision)
        return Listing(name, (), tuple(searched))


def _versions(page: PageResult) -> list[VersionEntry]:
    """Files grouped by version, newest first."""
    groups: dict[Version, list[DistFile]] = {}
    for f in page.files:
        parsed = parse_filename(f.filename)
        if parsed is not None:
            groups.setdefault(parsed.version, []).append(f)
    return [VersionEntry(v, page.index, tuple(groups[v])) for v in sorted(groups, reverse=True)]


def _skipped(page: PageResult) -> Problem:
    return Problem(
        kind="skipped-index",
        package=page.name,
        index=page.index.name,
        status_code=page.status,
        message=(
            f"index '{page.index.name}' answered HTTP {page.status} for {page.name} and was "
            "skipped under the unsafe index strategy: another index may have supplied it "
            "(first-index would have failed here)"
        ),
    )


def judge_page(page: PageResult, strategy: Strategy) -> PageDecision:
    """What this page's answer means under ``strategy`` (the index's ``IndexPolicy``).

    The one judge of a project page: every listing path here and drift's (the lock file's
    index, the shadow check, an ``upstream:``'s page) ask it, so a login page or an auth
    failure reads the same everywhere."""
    return page.index.policy.under(strategy).on_page(page.status, refused=page.refused)


def refusal(page: PageResult, decision: PageDecision) -> FetchError:
    """The error of a page whose answer stops the search for its package."""
    message = (
        f"index '{page.index.name}' ({redact(page.index.url)}) {decision.why} for the project "
        f"page of {page.name}"
    )
    return FetchError(
        decision.kind or "index-unreachable",
        f"{message}: {decision.advice}" if decision.advice else message,
        index=page.index.name,
        status=page.status,
        package=page.name,
    )


def mirrors(ours: Iterable[DistFile], theirs: Iterable[DistFile]) -> bool:
    """Does the later page hold every file of ours, byte for byte (by the sha256 the pages
    list; a missing hash does not disprove it)? Then it is the same project, mirrored."""
    mine = {f.filename: f.hashes.get("sha256") for f in ours}
    other = {f.filename: f.hashes.get("sha256") for f in theirs}
    return bool(mine) and all(
        fn in other and (h is None or other[fn] in (None, h)) for fn, h in mine.items()
    )


def shadowed(
    name: NormalizedName, found: Sequence[PageResult], settings: Settings
) -> Problem | None:
    """Under an unsafe strategy, the same name on a later index with other files.

    The pages' own hashes decide (no file is requested): a later index that holds every
    file of ours byte for byte (same sha256) is a mirror of the same project (a Nexus group
    proxying PyPI); otherwise it is a second project with our name, and the strategy may
    take it: ``shadowed-name``, an error, naming both indexes (the rule drift applies).
    """
    if settings.strategy is Strategy.FIRST_INDEX or len(found) < 2 or name in settings.sources:
        return None
    home, *later = found
    others = []
    for page in later:
        if not page.files or mirrors(home.files, page.files):
            continue
        versions = sorted({p.version for f in page.files if (p := parse_filename(f.filename))})
        shown = ", ".join(str(v) for v in versions[::-1][:5]) + (", …" if len(versions) > 5 else "")
        others.append(f"'{page.index.name}' ({shown or 'other files'})")
    if not others:
        return None
    return Problem(
        kind="shadowed-name",
        message=(
            f"{name} is on index '{home.index.name}' and also on {'; '.join(others)} with "
            f"other files: a dependency-confusion risk, and under {settings.strategy} the "
            f"install may take the other index's project. Pin {name} to "
            f"'{home.index.name}' (`sources:`) or use first-index"
        ),
        package=name,
        index=home.index.name,
    )


def _retrieve(task: asyncio.Future[Listing]) -> None:
    """Mark a prefetch's exception as seen; whoever needs the listing re-raises it."""
    if not task.cancelled():
        task.exception()
