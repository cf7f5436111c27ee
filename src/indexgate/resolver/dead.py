"""Versions that can never be part of a solution, learnt while the resolver walks.

A version whose dependency no usable version can meet beside the user's own requirements
(and constraints) is "dead": the found candidates skip it, and the error report explains
a failure as the chain of dead versions down to the user's requirement it conflicts with.
Part of the Provider (``provider.py``), as a mixin over its state.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.resolver.candidates import Candidate, Req
from indexgate.resolver.finder import Listing, VersionEntry
from indexgate.settings import Settings

if TYPE_CHECKING:
    from indexgate.resolver.findings import TargetFindings


class DeadVersions:
    """The Provider's bookkeeping of dead versions (``_dead``) and what it explains."""

    settings: Settings
    constraints: Mapping[NormalizedName, list[Req]]
    findings: TargetFindings
    _root: dict[NormalizedName, list[Req]]
    _dead: dict[tuple[str, Version], Req]
    _ascending: dict[int, tuple[dict[Version, VersionEntry], list[Version]]]
    _prepared: dict[tuple[NormalizedName, Version], Candidate | None]
    _listings: dict[NormalizedName, Listing]
    _name: Callable[[str], NormalizedName]
    _dependencies: Callable[[Candidate], list[Req]]
    _usable: Callable[..., dict[Version, VersionEntry]]
    _user_pins: Callable[[NormalizedName], frozenset[Version]]

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
            if not all(r.allows(version) for r in limits):
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
            skipped = self.findings.excluded.get(dep.name)
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
            if not dep.allows(entry.version):
                continue
            for key in ((dep.id, entry.version), (dep.name, entry.version)):
                if key in self._dead:
                    return key
        return None


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
    if op in (">=", ">"):
        return version, None
    if op == "~=":  # ~=X.Y.Z: >=X.Y.Z, ==X.Y.*
        release = list(version.release[:-1]) or [version.release[0]]
        release[-1] += 1
        return version, Version(".".join(map(str, release)) + ".dev0")
    # above an upper bound V come V's local and post releases: stay above all of them
    # (made only here: most specifiers are lower bounds, and this parse is the dearest step)
    ceiling = Version(f"{version.base_version}.post{2**62}")
    if op in ("<", "<="):
        return None, ceiling
    if op == "==":
        return version, ceiling
    return None, None
