"""File selection: which versions of a listing, and which of their files, a target may use.

A version is usable when one of its files installs on the target (Python, tags, yanked,
hashes, ``--only-binary``/``--no-binary``, the fallback policy); the usable versions are
then narrowed by the requirements' specifiers and put in the strategy's order,
pre-releases last unless ``--pre``. Everything is memoised: resolvelib asks again for the
same requirement sets every round. Part of the Provider (``provider.py``), as a mixin.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.dists.models import DistFile, parse_filename
from indexgate.policy import Fallback
from indexgate.resolver.candidates import Req
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import Finder, Listing, VersionEntry
from indexgate.settings import Settings
from indexgate.targets import Target

if TYPE_CHECKING:
    from indexgate.resolver.findings import TargetFindings

ENTRY_MEMO_MAX = 20000  # requirement sets remembered by ``_entries`` before starting over


class FileSelection:
    """The Provider's listings, usable versions and per-version file choice."""

    settings: Settings
    target: Target
    fetch_loop: FetchLoop
    finder: Finder
    constraints: Mapping[NormalizedName, list[Req]]
    findings: TargetFindings
    _root: dict[NormalizedName, list[Req]]
    _pins_memo: dict[NormalizedName, frozenset[Version]]
    _listings: dict[NormalizedName, Listing]
    _entry_memo: dict[tuple[Any, ...], tuple[tuple[Req, ...], list[VersionEntry]]]
    _usable_memo: dict[tuple[Any, ...], dict[Version, VersionEntry]]
    _files_memo: dict[tuple[Any, ...], tuple[VersionEntry, tuple[tuple[DistFile, ...], list[str]]]]

    def listing(self, name: NormalizedName) -> Listing:
        listing = self._listings.get(name)
        if listing is None:
            started = self.finder.started(name)
            if started is not None and started.done():
                listing = self.fetch_loop.take(started)
            else:
                listing = self.fetch_loop.run(lambda: self.finder.listing(name))
            for w in listing.warnings:
                if w not in self.findings.warnings:
                    self.findings.warnings.append(w)
            self._listings[name] = listing
        return listing

    def _entries(self, name: NormalizedName, reqs: Iterable[Req]) -> list[VersionEntry]:
        """The versions this target may use, in the strategy's order, files best first.

        Keyed by the name and the requirement objects' identities: the entry keeps those
        objects alive, so no other object can have their ids while it exists, and an equal
        key means the very same requirements (no comparison of them needed)."""
        reqs = tuple(reqs)
        key = (name, *map(id, reqs))
        memo = self._entry_memo.get(key)
        if memo is None:
            if len(self._entry_memo) >= ENTRY_MEMO_MAX:  # bounded: a long backtrack
                self._entry_memo.clear()  # meets ever new requirement sets
            memo = self._entry_memo[key] = (reqs, self._compute_entries(name, reqs))
        return memo[1]

    def _compute_entries(self, name: NormalizedName, reqs: tuple[Req, ...]) -> list[VersionEntry]:
        narrowed = self._narrowed(name, reqs)
        if narrowed is not None:
            return narrowed
        listing = self.listing(name)
        hashes = frozenset(h for r in reqs for h in r.hashes)
        usable = self._usable(name, listing, self._user_pins(name), hashes)
        allowed = list(usable.values())
        for r in [*reqs, *self.constraints.get(name, [])]:
            if r.specifier:  # an empty set allows every version
                allowed = self._allowed(r, allowed)
        return list(self._in_prerelease_order(allowed))

    def _narrowed(self, name: NormalizedName, reqs: tuple[Req, ...]) -> list[VersionEntry] | None:
        """The entries of ``reqs`` from those of all but its last requirement, when known.

        resolvelib adds one requirement at a time (the criterion's, then the new one), so
        the set before it was usually just computed: filtering that answer by the one new
        specifier gives the full computation's (filters commute, and the pre-release
        order is a stable partition), without re-checking every other specifier. Not when
        the new requirement brings hashes (they change which files are usable).
        """
        if len(reqs) < 2 or reqs[-1].hashes:
            return None
        memo = self._entry_memo.get((name, *map(id, reqs[:-1])))
        if memo is None:
            return None
        last = reqs[-1]
        return self._allowed(last, memo[1]) if last.specifier else memo[1]

    def _allowed(self, req: Req, entries: list[VersionEntry]) -> list[VersionEntry]:
        """The entries whose version ``req`` allows, in order (pre-releases included:
        their place is decided later)."""
        req.judge([e.version for e in entries])
        allows = req.allows
        return [e for e in entries if allows(e.version)]

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

    def _in_prerelease_order(self, entries: Iterable[VersionEntry]) -> Iterator[VersionEntry]:
        """Final releases first, then pre-releases, each in the strategy's order (uv's
        default: a pre-release is taken only when no final release in range will do, even
        where a specifier names a pre-release: packse's
        ``package-prerelease-specified-mixed-available`` and
        ``package-prereleases-specifier-boundary``). ``--pre``: the strategy's order.
        Lazily: a reader that stops at the first it can use (the prefetch) looks at no more."""
        if self.settings.pre:
            yield from entries
            return
        later = []
        for entry in entries:
            if entry.version.is_prerelease:
                later.append(entry)
            else:
                yield entry
        yield from later

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
                        self.findings.hash_mismatch.setdefault(name, entry.version)
                    else:
                        self.findings.exclude(name, why)
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

        Pure (no findings written): the prefetcher calls it too, with stored listings.
        """
        # By the entry's identity (kept alive by the memo): a stored listing's entry for
        # a version may list other files than the revalidated one's.
        key = (id(entry), bool(exact) and entry.version in exact, hashes)
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
        settings = self.settings
        # thousands of calls per run: kept tight (no --no-binary / --only-binary: both)
        take_wheels = not settings.no_binary or not settings.source_only(name)
        take_sdists = not settings.only_binary or not settings.binary_only(name)
        pinned = bool(exact) and entry.version in exact
        for f in entry.files:
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
        if len(wheels) > 1:
            wheels.sort(key=_rank)  # stable: equal ranks keep the page's order
        files = (*[f for _, f in wheels], *sdists)
        if settings.fallback is Fallback.NEXT_VERSION:
            files = files[:1]
        return files, skipped


def _rank(wheel: tuple[int, DistFile]) -> int:
    return wheel[0]


def _hash_allowed(f: DistFile, hashes: frozenset[str]) -> bool:
    known = {f"{algo}:{digest}" for algo, digest in f.hashes.items()}
    return not known or bool(known & hashes)
