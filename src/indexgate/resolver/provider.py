"""The resolvelib provider: the interface the resolver calls, over four parts.

``identify``, ``get_preference``, ``find_matches``, ``is_satisfied_by`` and
``get_dependencies`` live here, with the state they share. The work is in mixins:
file selection (``files.py``: usable versions and files per target), the found
candidates (``found.py``: lazy preparation that skips blocked ones), the prefetch walk
(``prefetch.py``) and the dead-version bookkeeping (``dead.py``).

Everything here runs in one thread (see fetch_loop.py): the resolver's calls, and the
prefetches on the event loop while the resolver waits.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import attrgetter, is_
from typing import Any

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider
from resolvelib.structs import RequirementInformation

from indexgate.dists.models import DistFile
from indexgate.errors import Origin
from indexgate.index.client import ProbeResult
from indexgate.resolver.candidates import Candidate, Req
from indexgate.resolver.dead import DeadVersions
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.files import FileSelection
from indexgate.resolver.finder import Finder, Listing, VersionEntry
from indexgate.resolver.findings import TargetFindings
from indexgate.resolver.found import FoundCandidates
from indexgate.resolver.prefetch import Prefetcher
from indexgate.settings import Settings
from indexgate.targets import Target

CONFLICT_EARLY = 5  # conflicts after which a package is decided before others (uv's number)
_requirement = attrgetter("requirement")  # of a RequirementInformation


class Provider(  # type: ignore[misc]
    FileSelection, FoundCandidates, Prefetcher, DeadVersions, AbstractProvider
):
    def __init__(
        self,
        settings: Settings,
        target: Target,
        fetch_loop: FetchLoop,
        finder: Finder,
        direct: Sequence[Req],
        constraints: Mapping[NormalizedName, list[Req]],
    ) -> None:
        self.settings = settings
        self.target = target
        self.fetch_loop = fetch_loop
        self.finder = finder
        self.client = finder.client  # the finder's: one memo of every fetch
        self.constraints = constraints
        self.findings = TargetFindings()
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
        # Candidates taken before their file's probe answered (found.py's ``settle``).
        self._unverified: dict[tuple[NormalizedName, Version], asyncio.Future[ProbeResult]] = {}
        # Memos: resolvelib asks for the preference of every open requirement each round;
        # without them a run re-filters the same listings thousands of times.
        self._listings: dict[NormalizedName, Listing] = {}
        self._names: dict[str, NormalizedName] = {}  # identifier -> project name
        self._counts: dict[str, tuple[tuple[RequirementInformation, ...], int]] = {}
        self._entry_memo: dict[tuple[Any, ...], tuple[tuple[Req, ...], list[VersionEntry]]] = {}
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
        """The packages of the last conflict first (pip: its backtrack causes, both the
        requirements and their parents), then those that conflicted often (uv's
        "conflict early"), pinned and direct ones, then fewer versions to choose from."""
        return self._preference_key(information, _causes(backtrack_causes))(identifier)

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
        return [min(identifiers, key=self._preference_key(information, _causes(backtrack_causes)))]

    def _preference_key(
        self,
        information: Mapping[str, Iterator[RequirementInformation]],
        causes: set[str],
    ) -> Callable[[str], tuple[bool, bool, bool, bool, int, str]]:
        """The preference of each identifier this round (the lower, the sooner decided):
        open conflicts first, then pinned and direct ones, then the fewest versions left.

        The count is remembered per identifier with the information it was counted for:
        resolvelib asks about every open identifier every round, and hands the same
        information objects until a new requirement (or a backtrack) changes them, so a
        check of their identities answers most asks (no requirement set to build and look
        up in ``_entries``' memo, which answers the rest)."""
        names, conflicts, counts = self._names, self.conflicts, self._counts
        pinned, direct = self._pinned, self._direct

        def key(identifier: str) -> tuple[bool, bool, bool, bool, int, str]:
            name = names.get(identifier) or self._name(identifier)
            infos = tuple(information[identifier])
            known = counts.get(identifier)
            if known is not None and len(known[0]) == len(infos) and all(map(is_, known[0], infos)):
                count = known[1]
            else:
                count = len(self._entries(name, map(_requirement, infos)))
                counts[identifier] = (infos, count)
            return (
                identifier not in causes and name not in causes,
                conflicts.get(name, 0) < CONFLICT_EARLY,  # get: no Counter.__missing__ call
                identifier not in pinned,
                identifier not in direct,
                count,
                identifier,
            )

        return key

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
        entries = self._entries(name, reqs)  # read, never changed, by ``_found``
        if bad:
            entries = [e for e in entries if e.version not in bad]
        return lambda: self._found(entries, extras)

    def is_satisfied_by(self, requirement: Req, candidate: Candidate) -> bool:
        # resolvelib re-checks pins against their requirements round after round (pins.py
        # keeps most of those from reaching here): the requirement remembers its answers.
        return requirement.allows(candidate.version)

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


def _causes(backtrack_causes: Sequence[RequirementInformation]) -> set[str]:
    """The identifiers of the last conflict: each requirement's and its parent's."""
    causes: set[str] = set()
    for c in backtrack_causes:
        causes.add(c.requirement.id)
        causes.add(c.requirement.name)
        if c.parent is not None:
            causes.add(c.parent.id)
    return causes
