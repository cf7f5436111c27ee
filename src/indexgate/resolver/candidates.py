"""Requirements and candidates as resolvelib sees them (pip's shapes, kept small).

A requirement with extras ``foo[a]`` is its own identifier; its candidate depends on the
plain ``foo`` at the same version plus the extra's dependencies, as pip does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.dists.models import CoreMetadata, DistFile, canonical_name
from indexgate.errors import Origin
from indexgate.settings import IndexConfig


def identifier(name: NormalizedName, extras: frozenset[str]) -> str:
    return f"{name}[{','.join(sorted(extras))}]" if extras else name


@dataclass(frozen=True)
class Req:
    name: NormalizedName
    specifier: SpecifierSet
    extras: frozenset[str] = frozenset()
    origin: Origin | None = None  # set for requirements the user wrote
    parent: str | None = None  # "flask 3.0.3" for transitive ones
    hashes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return identifier(self.name, self.extras)

    def allows(self, version: Version) -> bool:
        """Whether the specifier allows ``version`` (pre-releases included: where they
        may be taken is decided elsewhere).

        Each answer is remembered in the table shared by every requirement with an equal
        specifier (``_verdicts``): the same requirement of many parents, every round's
        re-check of a pin and every re-filtering of a listing ask it again and again, and
        ``SpecifierSet.contains`` is the dearest step of each (so is hashing a specifier:
        each requirement finds its table once)."""
        verdicts = self._verdicts
        if verdicts is None:
            return self.specifier.contains(version, prereleases=True)
        ok = verdicts.get(version)
        if ok is None:
            ok = verdicts[version] = self.specifier.contains(version, prereleases=True)
        return ok

    def judge(self, versions: list[Version]) -> None:
        """Find out at once which of ``versions`` the specifier allows (``allows`` then
        answers from the table): one ``SpecifierSet.filter`` pass over the versions not
        judged yet costs a fraction of a ``contains`` call for each (its set-up, paid per
        call, is the most of a ``>=`` check). With pre-releases allowed, ``filter``
        judges each version alone, as ``contains`` does."""
        verdicts = self._verdicts
        if verdicts is None:
            return
        unknown = [v for v in versions if v not in verdicts]
        if unknown:  # the whole pass first: the shared table never holds a half answer
            allowed = set(self.specifier.filter(unknown, prereleases=True))
            verdicts.update({v: v in allowed for v in unknown})

    @cached_property
    def _verdicts(self) -> dict[Version, bool] | None:
        return _verdict_table(tuple(map(str, self.specifier)))

    @cached_property
    def exact_version(self) -> Version | None:
        """The version of an ``==X`` / ``===X`` pin (no wildcard), else None (computed once:
        the provider asks for every requirement of every criterion it filters)."""
        specs = list(self.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            try:
                return Version(specs[0].version)
            except ValueError:
                return None
        return None

    def __str__(self) -> str:
        extras = f"[{','.join(sorted(self.extras))}]" if self.extras else ""
        return f"{self.name}{extras}{self.specifier}"

    @property
    def requested_by(self) -> str:
        return str(self.origin) if self.origin else (self.parent or "?")

    @classmethod
    def from_requirement(
        cls,
        req: Requirement,
        *,
        origin: Origin | None = None,
        parent: str | None = None,
        hashes: tuple[str, ...] = (),
    ) -> Req:
        return cls(
            name=canonical_name(req.name),
            specifier=req.specifier,
            extras=frozenset(map(canonical_name, req.extras)),
            origin=origin,
            parent=parent,
            hashes=hashes,
        )


@dataclass(frozen=True)
class Candidate:
    name: NormalizedName
    version: Version
    file: DistFile
    index: IndexConfig
    metadata: CoreMetadata = field(compare=False)
    extras: frozenset[str] = frozenset()

    @property
    def id(self) -> str:
        return identifier(self.name, self.extras)

    def with_extras(self, extras: frozenset[str]) -> Candidate:
        return Candidate(self.name, self.version, self.file, self.index, self.metadata, extras)

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


@lru_cache(maxsize=4096)
def _verdict_table(specifiers: tuple[str, ...]) -> dict[Version, bool] | None:
    """The verdicts (version -> allowed) of one specifier set, by the text of each of its
    specifiers, shared by the requirements that have the same (what it allows of a version
    is a fact of the two alone, whatever the run or target). By text, not by the
    ``SpecifierSet``: its hash normalizes every version it names, on every call.

    None under ``===``: it compares texts, so equal versions (1.0 and 1.0.0) may get
    different answers, which a table keyed by version cannot tell apart."""
    if any(text.startswith("===") for text in specifiers):
        return None
    return {}
