"""The found candidates: the lazy sequence ``find_matches`` hands the resolver.

Preparing a candidate means reading its core metadata and probing the file that would be
installed; a candidate whose file or metadata a firewall blocks is recorded in the notes
and skipped, so the resolver simply backtracks to the next version (or file). Once the
resolver backtracks, later versions are fetched ahead of it.
Part of the Provider (``provider.py``), as a mixin.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.errors import Origin
from indexgate.index.client import IndexClient, MetadataResult, ProbeResult
from indexgate.index.models import DistFile, parse_filename
from indexgate.report.model import Problem
from indexgate.resolver.candidates import Candidate
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import VersionEntry
from indexgate.settings import IndexConfig
from indexgate.targets import Target

if TYPE_CHECKING:
    from indexgate.resolver.findings import TargetFindings

PREPARE_AHEAD = 3  # once backtracking, later versions prepared while it looks at one
MAX_AHEAD = 64  # ... up to this many on a long walk down one package's versions (uv: 50)


class FoundCandidates:
    """The Provider's candidate preparation (metadata, probe, blocks) and lazy sequence."""

    target: Target
    bridge: FetchLoop
    client: IndexClient
    notes: TargetFindings
    origins: dict[NormalizedName, Origin]
    _ahead: set[tuple[int, int]]
    _prepared: dict[tuple[NormalizedName, Version], Candidate | None]
    _is_dead: Callable[[Candidate], bool]

    def _found(self, entries: list[VersionEntry], extras: frozenset[str]) -> Iterator[Candidate]:
        """The candidates of ``entries`` in order, each prepared when reached; those
        blocked, unusable or dead are skipped (the resolver never sees them)."""
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
