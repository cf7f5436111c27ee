"""The resolvelib provider and its lazily-prepared candidate sequence.

Preparing a candidate means reading its core metadata and probing the file that would be
installed; a candidate whose file or metadata a firewall blocks is recorded and skipped
here, so the resolver simply backtracks to the next version (or file). Fetches start
early: a listing starts the metadata read of its likeliest candidate, whose dependencies'
listings start in turn, so the network works ahead of the resolver. On a warm run the
walk starts from the pages the cache holds, while they revalidate (``_prefetch``).

Everything here runs in one thread (see bridge.py): the resolver's calls, and the
prefetches on the event loop while the resolver waits.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from indexgate.config import IndexConfig, Settings
from indexgate.index.client import BlockHit, IndexClient, MetadataResult, ProbeResult
from indexgate.index.models import DistFile, parse_filename
from indexgate.policy import Fallback
from indexgate.report.model import Problem
from indexgate.resolver.bridge import Bridge
from indexgate.resolver.candidates import Candidate, Req
from indexgate.resolver.finder import Finder, Listing, VersionEntry
from indexgate.sources.model import Origin
from indexgate.targets import Target

PREPARE_AHEAD = 3  # once backtracking, later versions prepared while it looks at one


@dataclass
class Notes:
    """What one target saw that explains a failure or belongs in the report."""

    blocks: dict[str, BlockHit] = field(default_factory=dict)  # by file URL, in order seen
    unusable: dict[NormalizedName, list[str]] = field(default_factory=dict)
    excluded: dict[NormalizedName, dict[str, int]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    hash_mismatch: dict[NormalizedName, Version] = field(default_factory=dict)

    def exclude(self, name: NormalizedName, why: str) -> None:
        reasons = self.excluded.setdefault(name, {})
        reasons[why] = reasons.get(why, 0) + 1


class Provider(AbstractProvider):  # type: ignore[misc]
    def __init__(
        self,
        settings: Settings,
        target: Target,
        bridge: Bridge,
        finder: Finder,
        direct: Sequence[Req],
        constraints: Mapping[NormalizedName, list[Req]],
    ) -> None:
        self.settings = settings
        self.target = target
        self.bridge = bridge
        self.finder = finder
        self.client = finder.client  # the finder's: one memo of every fetch
        self.constraints = constraints
        self.notes = Notes()
        self.direct = list(direct)
        self._direct = {r.id for r in direct}
        self._pinned = {r.id for r in direct if r.exact_version is not None}
        self.origins: dict[NormalizedName, Origin] = {}
        for r in direct:
            if r.origin is not None:
                self.origins.setdefault(r.name, r.origin)
        self._prepared: dict[tuple[NormalizedName, Version], Candidate | None] = {}
        # Memos: resolvelib asks for the preference of every open requirement each round;
        # without them a run re-filters the same listings thousands of times.
        self._listings: dict[NormalizedName, Listing] = {}
        self._names: dict[str, NormalizedName] = {}  # identifier -> project name
        self._entry_memo: dict[tuple[int, ...], tuple[list[Req], list[VersionEntry]]] = {}
        self._usable_memo: dict[tuple[Any, ...], dict[Version, VersionEntry]] = {}
        self._files_memo: dict[
            tuple[Any, ...], tuple[VersionEntry, tuple[tuple[DistFile, ...], list[str]]]
        ] = {}
        self._prefetched: set[tuple[NormalizedName, frozenset[str]]] = set()
        self._guesses: deque[Req] = deque()  # waiting for the walk of stored pages
        self._walker: asyncio.Future[None] | None = None
        for r in direct:
            self.prefetch(r)

    # -- resolvelib protocol ----------------------------------------------------

    def identify(self, requirement_or_candidate: Req | Candidate) -> str:
        return requirement_or_candidate.id

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation]],
        backtrack_causes: Sequence[RequirementInformation],
    ) -> Any:
        """Pinned and direct first, then fewer versions to choose from (as pip and uv)."""
        causes = {c.requirement.name for c in backtrack_causes}
        return self._preference(identifier, information, causes)

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, Candidate],
        candidates: Mapping[str, Iterator[Candidate]],
        information: Mapping[str, Iterator[RequirementInformation]],
        backtrack_causes: Sequence[RequirementInformation],
    ) -> Iterable[str]:
        """The one identifier ``get_preference`` would pick: the same choice, without
        resolvelib's per-identifier call (two mappings built for each) every round."""
        causes = {c.requirement.name for c in backtrack_causes}
        return [min(identifiers, key=lambda i: self._preference(i, information, causes))]

    def _preference(
        self,
        identifier: str,
        information: Mapping[str, Iterator[RequirementInformation]],
        causes: set[NormalizedName],
    ) -> tuple[bool, bool, bool, int, str]:
        name = self._name(identifier)
        count = len(self._entries(name, [i.requirement for i in information[identifier]]))
        return (
            name not in causes,
            identifier not in self._pinned,
            identifier not in self._direct,
            count,
            identifier,
        )

    def _name(self, identifier: str) -> NormalizedName:
        name = self._names.get(identifier)
        if name is None:
            name = self._names[identifier] = canonicalize_name(identifier.split("[", 1)[0])
        return name

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[Candidate]],
    ) -> Callable[[], Iterator[Candidate]]:
        reqs = list(requirements[identifier])
        bad = {c.version for c in incompatibilities[identifier]}
        name = reqs[0].name if reqs else self._name(identifier)
        extras = frozenset().union(*(r.extras for r in reqs)) if reqs else frozenset()
        entries = [e for e in self._entries(name, reqs) if e.version not in bad]

        def iterate() -> Iterator[Candidate]:
            for i, entry in enumerate(entries):
                # The first candidate is usually the one: fetching the next ones too would
                # double the requests. Past it, the resolver is backtracking: work ahead.
                for ahead in entries[i + 1 : i + 1 + PREPARE_AHEAD] if i else ():
                    self._start(ahead)
                candidate = self._prepare(entry)
                if candidate is not None:
                    yield candidate.with_extras(extras) if extras else candidate

        return iterate

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        # resolvelib re-checks every pin against every requirement each round (tens of
        # thousands of calls on a 200-package graph), nearly always the same pin as last
        # time: the requirement keeps its last answer (one tuple, replaced whole, so a
        # reader never sees a version with another version's answer).
        version = candidate.version
        last, ok = requirement.last_check[0]
        if last is version:
            return ok
        ok = requirement.specifier.contains(version, prereleases=True)
        requirement.last_check[0] = (version, ok)
        return ok

    def get_dependencies(self, candidate: Candidate) -> list[Req]:
        parent = f"{candidate.name} {candidate.version}"
        origin = self.origins.get(candidate.name)
        deps: list[Req] = []
        if candidate.extras:
            deps.append(Req(candidate.name, SpecifierSet(f"=={candidate.version}"), parent=parent))
        for req in candidate.metadata.requires_dist:
            if candidate.extras:
                # Only what the extras add; the plain candidate brings the rest.
                if req.marker is None or self.target.evaluate(req.marker):
                    continue
                if not self.target.evaluate(req.marker, candidate.extras):
                    continue
            elif not self.target.evaluate(req.marker):
                continue
            dep = Req.from_requirement(req, parent=parent)
            if origin is not None:
                self.origins.setdefault(dep.name, origin)
            deps.append(dep)
            self.prefetch(dep)
        return deps

    # -- candidates ---------------------------------------------------------------

    def listing(self, name: NormalizedName) -> Listing:
        listing = self._listings.get(name)
        if listing is None:
            listing = self.bridge.run(lambda: self.finder.listing(name))
            for w in listing.warnings:
                if w not in self.notes.warnings:
                    self.notes.warnings.append(w)
            self._listings[name] = listing
        return listing

    def _entries(self, name: NormalizedName, reqs: Iterable[Req]) -> list[VersionEntry]:
        """The versions this target may use, in the strategy's order, files best first."""
        reqs = list(reqs)
        # Keyed by the requirement objects' identities; the memo keeps them alive, so an
        # id cannot be reused by another object while its entry exists.
        key = (hash(name), *map(id, reqs))
        memo = self._entry_memo.get(key)
        if memo is None or memo[0] != reqs:
            memo = (reqs, self._compute_entries(name, reqs))
            self._entry_memo[key] = memo
        return memo[1]

    def _compute_entries(self, name: NormalizedName, reqs: list[Req]) -> list[VersionEntry]:
        listing = self.listing(name)
        exact = frozenset(r.exact_version for r in reqs if r.exact_version is not None)
        hashes = frozenset(h for r in reqs for h in r.hashes)
        usable = self._usable(name, listing, exact, hashes)
        spec = SpecifierSet()
        for r in [*reqs, *self.constraints.get(name, [])]:
            spec &= r.specifier
        prereleases = True if self.settings.pre else None
        allowed = set(spec.filter(usable, prereleases=prereleases))
        return [entry for version, entry in usable.items() if version in allowed]

    def _usable(
        self,
        name: NormalizedName,
        listing: Listing,
        exact: frozenset[Version],
        hashes: frozenset[str],
    ) -> dict[Version, VersionEntry]:
        """The listing's versions with a file for this target, in the listing's order.

        Once per (name, pins, hashes): the specifiers change far more often than these,
        and the skipped files are noted once, not once per requirement set.
        """
        key = (name, exact, hashes)
        usable = self._usable_memo.get(key)
        if usable is None:
            usable = {}
            for entry in listing.entries:
                files, skipped = self._files_for_target(name, entry, exact, hashes)
                for why in skipped:
                    if why == "hash":
                        self.notes.hash_mismatch.setdefault(name, entry.version)
                    else:
                        self.notes.exclude(name, why)
                if files:
                    usable[entry.version] = VersionEntry(entry.version, entry.index, files)
            self._usable_memo[key] = usable
        return usable

    def _files_for_target(
        self,
        name: NormalizedName,
        entry: VersionEntry,
        exact: frozenset[Version],
        hashes: frozenset[str],
    ) -> tuple[tuple[DistFile, ...], list[str]]:
        """Files of one version this target would install, best first; and why others not.

        Pure (no notes written): the prefetcher calls it too, with stored listings.
        """
        # By the entry's identity (kept alive by the memo): a stored listing's entry for
        # a version may list other files than the revalidated one's.
        key = (id(entry), entry.version in exact, hashes)
        memo = self._files_memo.get(key)
        if memo is None or memo[0] is not entry:
            memo = self._files_memo[key] = (entry, self._filter_files(name, entry, exact, hashes))
        return memo[1]

    def _filter_files(
        self,
        name: NormalizedName,
        entry: VersionEntry,
        exact: frozenset[Version],
        hashes: frozenset[str],
    ) -> tuple[tuple[DistFile, ...], list[str]]:
        wheels: list[tuple[int, DistFile]] = []
        sdists: list[DistFile] = []
        skipped: list[str] = []
        target = self.target
        allows_python, tag_rank = target.allows_python, target.tag_rank
        take_wheels = not self.settings.source_only(name)
        take_sdists = not self.settings.binary_only(name)
        pinned = entry.version in exact
        for f in entry.files:  # thousands per run: kept tight
            parsed = parse_filename(f.filename)
            if parsed is None:
                continue
            if f.yanked and not pinned:
                skipped.append("yanked")
            elif f.requires_python and not allows_python(f.requires_python):
                skipped.append(f"requires Python {f.requires_python}")
            elif hashes and not _hash_allowed(f, hashes):
                skipped.append("hash")
            elif parsed.kind == "wheel":
                rank = tag_rank(parsed.tags)
                if rank is None:
                    skipped.append(f"no wheel for {target.platform}")
                elif take_wheels:
                    wheels.append((rank, f))
            elif take_sdists:
                sdists.append(f)
        files = [f for _, f in sorted(wheels, key=lambda x: x[0])] + sdists
        if self.settings.fallback is Fallback.NEXT_VERSION:
            files = files[:1]
        return tuple(files), skipped

    def _start(self, entry: VersionEntry) -> None:
        """Begin fetching what preparing the entry's first file needs."""
        f = entry.files[0]
        self.bridge.submit(lambda: _metadata_and_probe(self.client, entry.index, f))

    def _prepare(self, entry: VersionEntry) -> Candidate | None:
        key = (parse_filename(entry.files[0].filename).name, entry.version)  # type: ignore[union-attr]
        if key in self._prepared:
            return self._prepared[key]
        candidate = None
        for f in entry.files:  # one file under next-version, all suitable under next-distribution
            meta, probe = self.bridge.run(
                lambda f=f: _metadata_and_probe(self.client, entry.index, f)
            )
            block = meta.block or (probe.block if probe else None)
            if block is not None:
                self.notes.blocks.setdefault(block.file.url, block)
                continue
            if meta.metadata is None:
                self.notes.unusable.setdefault(key[0], []).append(meta.unusable or "unusable")
                continue
            m = meta.metadata
            if m.name != key[0] or m.version != entry.version:
                self.notes.unusable.setdefault(key[0], []).append(
                    f"{f.filename}: metadata says {m.name} {m.version}"
                )
                continue
            if not self.target.allows_python(m.requires_python):
                self.notes.exclude(key[0], f"requires Python {m.requires_python}")
                continue
            candidate = Candidate(key[0], entry.version, f, entry.index, m)
            if f.yanked:
                self.notes.warnings.append(_yanked(candidate, self.origins.get(key[0])))
            break
        self._prepared[key] = candidate
        return candidate

    # -- prefetch -----------------------------------------------------------------

    def prefetch(self, req: Req) -> None:
        """Start the listing and the likeliest candidate's metadata, then its deps', now."""
        key = (req.name, req.extras)
        if key in self._prefetched:
            return
        self._prefetched.add(key)
        self.bridge.submit(lambda: self._prefetch(req))

    async def _prefetch(self, req: Req) -> None:
        listing = self.finder.listing(req.name)
        if not listing.done():
            self._guess(req)
        try:
            await listing
        except Exception:  # the resolver will meet and report the same error
            return
        await self._follow(req, listing.result())

    def _guess(self, req: Req) -> None:
        """Queue ``req`` for the walk of the pages the cache holds (``_walk_stored``)."""
        self._guesses.append(req)
        if self._walker is None or self._walker.done():
            self._walker = asyncio.ensure_future(self._walk_stored())
            self._walker.add_done_callback(_seen)

    async def _walk_stored(self) -> None:
        """While pages revalidate, walk the ones the cache holds.

        Their likely picks' metadata is usually cached too, so the next level's pages are
        asked for now, not a round trip later. Only requests start early: the resolver
        sees the revalidated pages alone. One task, one package per turn of the loop, so
        that the answers arriving meanwhile are read first (a burst of walking would
        leave every connection's answer unread, and the connections busy).
        """
        while self._guesses:
            req = self._guesses.popleft()
            try:
                if not self.finder.listing(req.name).done():
                    stored = self.finder.stored_listing(req.name)
                    if stored is not None:
                        await self._follow(req, stored)
            except Exception:  # a guess that fails costs nothing: the real walk goes on
                pass
            await asyncio.sleep(0)

    async def _follow(self, req: Req, listing: Listing) -> None:
        """Read the likeliest candidate's metadata; prefetch its dependencies."""
        # The versions the resolver will consider, pre-releases by the same rule as there
        # (a wrong guess here costs a sequential fetch later, on the critical path).
        prereleases = True if self.settings.pre else None
        allowed = set(
            req.specifier.filter((e.version for e in listing.entries), prereleases=prereleases)
        )
        for entry in listing.entries:
            if entry.version not in allowed or not entry.files:
                continue
            files, _ = self._files_for_target(req.name, entry, frozenset(), frozenset())
            if not files:
                continue
            # Only the metadata gates the next level; the probe runs alongside, unwaited.
            f = files[0]
            if f.metadata_url is not None:
                _started(self.client.probe(entry.index, f))
            try:
                meta = await self.client.metadata(entry.index, f)
            except Exception:  # the resolver will meet and report the same error
                return
            if meta.from_cache and f.metadata_url is None:
                _started(self.client.probe(entry.index, f))
            if meta.metadata is None:
                return
            for dep in meta.metadata.requires_dist:
                if self.target.evaluate(dep.marker, req.extras):
                    self.prefetch(Req.from_requirement(dep))
            return


async def _metadata_and_probe(
    client: IndexClient, index: IndexConfig, f: DistFile
) -> tuple[MetadataResult, ProbeResult | None]:
    """Metadata and, unless it was read from the file over the network this run, a probe
    of the file itself (a cached read proves nothing about today's quarantine)."""
    if f.metadata_url is None:
        meta = await client.metadata(index, f)
        if not meta.from_cache:
            return meta, None
        return meta, await client.probe(index, f)
    meta, probe = await asyncio.gather(client.metadata(index, f), client.probe(index, f))
    return meta, probe


def _started(task: Awaitable[Any]) -> None:
    """A fetch started for later: its error is seen by whoever awaits it, not logged."""
    asyncio.ensure_future(task).add_done_callback(_seen)


def _seen(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _hash_allowed(f: DistFile, hashes: frozenset[str]) -> bool:
    known = {f"{algo}:{digest}" for algo, digest in f.hashes.items()}
    return not known or bool(known & hashes)


def _yanked(candidate: Candidate, origin: Origin | None) -> Problem:
    reason = candidate.file.yanked_reason
    return Problem(
        kind="yanked-pin",
        package=candidate.name,
        index=candidate.index.name,
        message=(
            f"{candidate.name} {candidate.version} is pinned but yanked"
            + (f": {reason}" if reason else "")
        ),
        file=origin.file if origin else None,
        line=origin.line if origin else None,
    )
