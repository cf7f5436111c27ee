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
from bisect import bisect_left, bisect_right
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from indexgate.index.client import BlockHit, IndexClient, MetadataResult, ProbeResult
from indexgate.index.models import DistFile, parse_filename
from indexgate.policy import Fallback
from indexgate.report.model import Problem
from indexgate.resolver.bridge import Bridge
from indexgate.resolver.candidates import Candidate, Req
from indexgate.resolver.finder import Finder, Listing, VersionEntry
from indexgate.settings import IndexConfig, Settings
from indexgate.sources.model import Origin
from indexgate.targets import Target

PREPARE_AHEAD = 3  # once backtracking, later versions prepared while it looks at one
MAX_AHEAD = 64  # ... up to this many on a long walk down one package's versions (uv: 50)
CONFLICT_EARLY = 5  # conflicts after which a package is decided before others (uv's number)
ENTRY_MEMO_MAX = 20000  # requirement sets remembered by ``_entries`` before starting over


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
        # The user's own requirements hold in every solution: a version whose dependency
        # no usable version can meet beside them never can be part of one (``_dead``).
        self._root: dict[NormalizedName, list[Req]] = {}
        for r in direct:
            self._root.setdefault(r.name, []).append(r)
        self._dead: dict[tuple[str, Version], Req] = {}  # (identifier, version) -> the dep
        self._deps_memo: dict[tuple[str, Version], list[Req]] = {}
        self._pins_memo: dict[NormalizedName, frozenset[Version]] = {}
        self._ascending: dict[int, tuple[dict[Version, VersionEntry], list[Version]]] = {}
        self._ahead: set[tuple[int, int]] = set()  # (id(listing entry), file) started early
        # Conflicts each identifier took part in (uv's heuristic: decide those early).
        self.conflicts: Counter[str] = Counter()
        self._prepared: dict[tuple[NormalizedName, Version], Candidate | None] = {}
        # Memos: resolvelib asks for the preference of every open requirement each round;
        # without them a run re-filters the same listings thousands of times.
        self._listings: dict[NormalizedName, Listing] = {}
        self._names: dict[str, NormalizedName] = {}  # identifier -> project name
        self._entry_memo: dict[tuple[int, ...], tuple[list[Req], list[VersionEntry]]] = {}
        self._usable_memo: dict[tuple[Any, ...], dict[Version, VersionEntry]] = {}
        # Whether a specifier allows a version, per (equal) specifier: the same requirement
        # of many parents, and every round's re-filtering, ask it again and again.
        self._verdicts: dict[SpecifierSet, dict[Version, bool]] = {}
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
        """The packages of the last conflict first (pip: its backtrack causes, both the
        requirements and their parents), then those that conflicted often (uv's
        "conflict early"), pinned and direct ones, then fewer versions to choose from."""
        return self._preference(identifier, information, _causes(backtrack_causes))

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
        causes = _causes(backtrack_causes)
        return [min(identifiers, key=lambda i: self._preference(i, information, causes))]

    def _preference(
        self,
        identifier: str,
        information: Mapping[str, Iterator[RequirementInformation]],
        causes: set[str],
    ) -> tuple[bool, bool, bool, bool, int, str]:
        name = self._name(identifier)
        count = len(self._entries(name, [i.requirement for i in information[identifier]]))
        return (
            identifier not in causes and name not in causes,
            self.conflicts[name] < CONFLICT_EARLY,
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
                # double the requests. Past it, the resolver is backtracking: work ahead,
                # the further the longer the walk (hundreds of boto3 versions, each with a
                # botocore range that a constraint rules out).
                window = min(max(PREPARE_AHEAD, 4 * i), MAX_AHEAD)
                for ahead in entries[i + 1 : i + 1 + window] if i else ():
                    self._start(ahead)
                candidate = self._prepare(entry)
                if candidate is None:
                    continue
                if extras:
                    candidate = candidate.with_extras(extras)
                if not self._is_dead(candidate):
                    yield candidate

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
        deps = self._dependencies(candidate)
        origin = self.origins.get(candidate.name)
        for dep in deps:
            if origin is not None:
                self.origins.setdefault(dep.name, origin)
            self.prefetch(dep)
        return deps

    def _dependencies(self, candidate: Candidate) -> list[Req]:
        """The candidate's requirements for this target, the same objects every time (so
        the memos keyed by requirement identity keep hitting while the resolver
        backtracks and pins the same candidate again)."""
        key = (candidate.id, candidate.version)
        memo = self._deps_memo.get(key)
        if memo is not None:
            return memo
        parent = f"{candidate.name} {candidate.version}"
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
            deps.append(Req.from_requirement(req, parent=parent))
        self._deps_memo[key] = deps
        return deps

    # -- versions that can never be part of a solution ----------------------------

    def _is_dead(self, candidate: Candidate) -> bool:
        """True when one of the candidate's dependencies has no version left that could
        be used beside the user's own requirements (and constraints).

        The user's requirements hold in every solution, so such a candidate never is part
        of one, whatever else is pinned: skipping it is sound. resolvelib learns nothing
        across backtracks; without this, a dependency that conflicts with a user's bound
        (every ``fastapi-cloud-cli`` needs ``sentry-sdk>=2``, the user wants ``<2``) is
        rediscovered for each version of each package above it, and the packages pinned in
        between are re-pinned every time (issue 11: 20,000 rounds, then no answer).
        What makes a version dead is learnt as the resolver meets it: a version not
        prepared yet counts as alive, and only listings already read are consulted.
        """
        key = (candidate.id, candidate.version)
        if key in self._dead:
            return True
        for dep in self._dependencies(candidate):
            if not self._may_be_met(dep):
                self._dead[key] = dep
                return True
        return False

    def _may_be_met(self, dep: Req) -> bool:
        """False only when every version of the listing that ``dep`` and the user's
        requirements allow is known to be unusable or dead."""
        versions = self._open(dep)
        if versions is None:
            return True
        return any(self._prepared.get((dep.name, v), True) is not None for v in versions)

    def _open(self, dep: Req) -> Iterator[Version] | None:
        """The usable versions ``dep`` and the user's requirements allow that are not
        known dead, in the listing's order; None while its listing is not read (then
        ``dep`` counts as satisfiable: nothing is fetched for this)."""
        listing = self._listings.get(dep.name)
        if listing is None:
            return None
        return self._open_versions(dep, listing)

    def _open_versions(self, dep: Req, listing: Listing) -> Iterator[Version]:
        name = dep.name
        limits = [dep, *self._root.get(name, ()), *self.constraints.get(name, ())]
        ident = dep.id
        dead = self._dead
        usable = self._usable(name, listing, self._user_pins(name), frozenset())
        ordered = self._ascending.get(id(usable))
        if ordered is None or ordered[0] is not usable:
            ordered = self._ascending[id(usable)] = (usable, sorted(usable))
        versions = ordered[1]
        # Only the slice between the specifiers' bounds is looked at: a page of thousands
        # of versions (botocore) is checked against each of hundreds of pins (boto3's).
        lo, hi = _bounds([r.specifier for r in limits])
        if lo is not None and hi is not None and lo > hi:
            return
        start = bisect_left(versions, lo) if lo is not None else 0
        end = bisect_right(versions, hi) if hi is not None else len(versions)
        for version in reversed(versions[start:end]):
            # pre-releases count: the resolver may come to allow them (a dead verdict
            # must hold whatever it allows)
            if not all(r.specifier.contains(version, prereleases=True) for r in limits):
                continue
            if (ident, version) in dead or (name, version) in dead:
                continue
            yield version

    def cannot_be_met(self, dep: Req) -> bool:
        """For the error report, once the resolver gave up: whether ``dep`` can be proved
        unsatisfiable from what this run read, re-checking the versions the resolver
        tried before it knew what it knows now. Nothing is fetched."""
        return self._refute(dep, set(), 0)

    def _refute(self, dep: Req, visited: set[tuple[str, Version]], depth: int) -> bool:
        versions = self._open(dep)
        if versions is None or depth > 40:
            return False
        for version in versions:
            if (dep.name, version) not in self._prepared:
                return False  # never read: it may well work
            candidate = self._prepared[(dep.name, version)]
            if candidate is None:
                continue
            if dep.extras:
                candidate = candidate.with_extras(dep.extras)
            key = (candidate.id, version)
            if key in visited:
                return False
            visited.add(key)
            culprit = next(
                (d for d in self._dependencies(candidate) if self._refute(d, visited, depth + 1)),
                None,
            )
            if culprit is None:
                return False
            self._dead[key] = culprit
        return True

    def dead_end(self, dep: Req) -> str | None:
        """Why no version ``dep`` allows can be used, as a chain from its newest version
        down to the user's requirement it conflicts with (uv's explanation, flattened)."""
        steps: list[str] = []
        seen: set[tuple[str, Version]] = set()
        while len(steps) < 8:
            key = self._first_dead(dep)
            if key is None or key in seen:
                break
            seen.add(key)
            dep = self._dead[key]
            steps.append(f"{key[0]} {key[1]} requires {dep}")
        if not steps:
            return None
        users = [*self._root.get(dep.name, ()), *self.constraints.get(dep.name, ())]
        if users:
            steps[-1] += ", which conflicts with " + ", ".join(
                f"{r} ({r.requested_by})" for r in users
            )
        else:
            steps[-1] += ", which no usable version meets"
            skipped = self.notes.excluded.get(dep.name)
            if skipped:
                steps[-1] += (
                    " (skipped: "
                    + ", ".join(f"{n} file(s): {why}" for why, n in skipped.items())
                    + ")"
                )
        return "; ".join(steps)

    def dead_names(self, dep: Req) -> set[str]:
        """The packages on ``dead_end``'s chain."""
        names: set[str] = set()
        seen: set[tuple[str, Version]] = set()
        key = self._first_dead(dep)
        while key is not None and key not in seen and len(seen) < 8:
            seen.add(key)
            names.add(self._name(key[0]))
            dep = self._dead[key]
            names.add(dep.name)
            key = self._first_dead(dep)
        return names

    def _first_dead(self, dep: Req) -> tuple[str, Version] | None:
        """The newest version ``dep`` allows that is known dead, as its ``_dead`` key."""
        listing = self._listings.get(dep.name)
        if listing is None:
            return None
        for entry in listing.entries:
            if not dep.specifier.contains(entry.version, prereleases=True):
                continue
            for key in ((dep.id, entry.version), (dep.name, entry.version)):
                if key in self._dead:
                    return key
        return None

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
            if len(self._entry_memo) >= ENTRY_MEMO_MAX:  # bounded: a long backtrack
                self._entry_memo.clear()  # meets ever new requirement sets
            memo = (reqs, self._compute_entries(name, reqs))
            self._entry_memo[key] = memo
        return memo[1]

    def _compute_entries(self, name: NormalizedName, reqs: list[Req]) -> list[VersionEntry]:
        listing = self.listing(name)
        hashes = frozenset(h for r in reqs for h in r.hashes)
        usable = self._usable(name, listing, self._user_pins(name), hashes)
        allowed = list(usable)
        seen: set[SpecifierSet] = set()
        for r in [*reqs, *self.constraints.get(name, [])]:
            spec = r.specifier
            if not spec or spec in seen:  # an empty set allows every version
                continue
            seen.add(spec)
            verdicts = self._verdicts.get(spec)
            if verdicts is None:
                verdicts = self._verdicts[spec] = {}
            kept = []
            for v in allowed:
                ok = verdicts.get(v)
                if ok is None:
                    ok = verdicts[v] = spec.contains(v, prereleases=True)
                if ok:
                    kept.append(v)
            allowed = kept
        return [usable[v] for v in self._prerelease_order(allowed)]

    def _user_pins(self, name: NormalizedName) -> frozenset[Version]:
        """The versions the user pinned with ``==``/``===`` (requirement or constraint):
        the only ones a yanked file may serve (PEP 592, as uv: a dependency's own ``==``
        on a yanked version does not count; packse's
        ``transitive-yanked-and-unyanked-dependency``)."""
        pins = self._pins_memo.get(name)
        if pins is None:
            limits = [*self._root.get(name, ()), *self.constraints.get(name, ())]
            pins = frozenset(r.exact_version for r in limits if r.exact_version is not None)
            self._pins_memo[name] = pins
        return pins

    def _prerelease_order(self, versions: list[Version]) -> list[Version]:
        """Final releases first, then pre-releases, each in the strategy's order (uv's
        default: a pre-release is taken only when no final release in range will do, even
        where a specifier names a pre-release: packse's
        ``package-prerelease-specified-mixed-available`` and
        ``package-prereleases-specifier-boundary``). ``--pre``: the strategy's order."""
        if self.settings.pre:
            return versions
        finals = [v for v in versions if not v.is_prerelease]
        if len(finals) == len(versions):
            return versions
        return finals + [v for v in versions if v.is_prerelease]

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
        """Begin fetching what preparing the entry's first file needs (once)."""
        f = entry.files[0]
        key = (id(entry), id(f))
        if key in self._ahead:
            return
        self._ahead.add(key)
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
        allowed = [
            e.version
            for e in listing.entries
            if e.files and req.specifier.contains(e.version, prereleases=True)
        ]
        by_version = {e.version: e for e in listing.entries}
        for version in self._prerelease_order(allowed):
            entry = by_version[version]
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


def _bounds(specifiers: Iterable[SpecifierSet]) -> tuple[Version | None, Version | None]:
    """Loose inclusive bounds of the versions all ``specifiers`` allow: every allowed
    version is within them (a superset: ``!=`` and ``===`` are not bounds, local and
    post releases of an upper bound are inside it); callers still check each version."""
    lo: Version | None = None
    hi: Version | None = None
    for spec_set in specifiers:
        for spec in spec_set:
            low, high = _spec_bounds(spec.operator, spec.version)
            if low is not None and (lo is None or low > lo):
                lo = low
            if high is not None and (hi is None or high < hi):
                hi = high
    return lo, hi


@lru_cache(maxsize=4096)
def _spec_bounds(op: str, text: str) -> tuple[Version | None, Version | None]:
    if op in ("!=", "===") or "!" in text:  # no bound, or an epoch: not worth the care
        return None, None
    try:
        if text.endswith(".*"):  # ==X.Y.*: from X.Y.dev0 up to the next X.(Y+1)
            release = [int(p) for p in text[:-2].split(".")]
            bumped = [*release[:-1], release[-1] + 1]
            return (
                Version(".".join(map(str, release)) + ".dev0"),
                Version(".".join(map(str, bumped)) + ".dev0"),
            )
        version = Version(text)
    except ValueError:
        return None, None
    # above an upper bound V come V's local and post releases: stay above all of them
    ceiling = Version(f"{version.base_version}.post{2**62}")
    if op in (">=", ">"):
        return version, None
    if op in ("<", "<="):
        return None, ceiling
    if op == "~=":  # ~=X.Y.Z: >=X.Y.Z, ==X.Y.*
        release = list(version.release[:-1]) or [version.release[0]]
        release[-1] += 1
        return version, Version(".".join(map(str, release)) + ".dev0")
    if op == "==":
        return version, ceiling
    return None, None


def _causes(backtrack_causes: Sequence[RequirementInformation]) -> set[str]:
    """The identifiers of the last conflict: each requirement's and its parent's."""
    causes: set[str] = set()
    for c in backtrack_causes:
        causes.add(c.requirement.id)
        causes.add(c.requirement.name)
        if c.parent is not None:
            causes.add(c.parent.id)
    return causes


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
