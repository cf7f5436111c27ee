"""The found candidates: the lazy sequence ``find_matches`` hands the resolver.

Preparing a candidate means reading its core metadata and probing the file that would be
installed; a candidate whose file or metadata a firewall blocks is recorded in the findings
and skipped, so the resolver simply backtracks to the next version (or file). Once the
resolver backtracks, later versions are fetched ahead of it.

Only the metadata gates a candidate: a probe still under way when its metadata is read is
not waited for (the probes go after the pages and metadata that decide what to ask next,
``HostLimit``'s background requests). The candidate is taken as reachable and its probe
kept (``_unverified``); once the resolver is done, ``settle`` waits for every such probe,
and if one found a block, that candidate is dropped and the resolver runs again (the
fetches are all memoized: a pass costs CPU only), until a pass met no new block. The last
pass then knew every block of every file it looked at, as if it had waited for each probe.
Part of the Provider (``provider.py``), as a mixin.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.dists.models import DistFile, parse_filename
from indexgate.errors import Origin
from indexgate.index.client import IndexClient, MetadataResult, ProbeResult
from indexgate.model import Problem
from indexgate.resolver.candidates import Candidate
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import VersionEntry
from indexgate.settings import IndexConfig
from indexgate.targets import Target

if TYPE_CHECKING:
    from indexgate.resolver.findings import TargetFindings

log = logging.getLogger("indexgate.resolve")

PREPARE_AHEAD = 3  # once backtracking, later versions prepared while it looks at one
MAX_AHEAD = 64  # ... up to this many on a long walk down one package's versions (uv: 50)


class FoundCandidates:
    """The Provider's candidate preparation (metadata, probe, blocks) and lazy sequence."""

    target: Target
    fetch_loop: FetchLoop
    client: IndexClient
    findings: TargetFindings
    origins: dict[NormalizedName, Origin]
    _ahead: set[tuple[int, int]]
    _prepared: dict[tuple[NormalizedName, Version], Candidate | None]
    _unverified: dict[tuple[NormalizedName, Version], asyncio.Future[ProbeResult]]
    conflicts: Counter[str]
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
        self.fetch_loop.submit(lambda: _metadata_and_probe(self.client, entry.index, f))

    def _prepare(self, entry: VersionEntry) -> Candidate | None:
        key = (parse_filename(entry.files[0].filename).name, entry.version)  # type: ignore[union-attr]
        if key in self._prepared:
            return self._prepared[key]
        candidate = None
        unverified = None
        for f in entry.files:  # one file under next-version, all suitable under next-distribution
            meta, probe = self._read(entry.index, f)
            block = meta.block
            unverified = None
            if block is None and probe is not None:
                if probe.done():
                    block = probe.result().block  # a failed probe raises, as it would waited
                else:
                    unverified = probe
            if block is not None:
                self.findings.blocks.setdefault(block.file.url, block)
                continue
            if meta.metadata is None:
                self.findings.unusable.setdefault(key[0], []).append(meta.unusable or "unusable")
                continue
            m = meta.metadata
            if m.name != key[0] or m.version != entry.version:
                self.findings.unusable.setdefault(key[0], []).append(
                    f"{f.filename}: metadata says {m.name} {m.version}"
                )
                continue
            if not self.target.allows_python(m.requires_python):
                self.findings.exclude(key[0], f"requires Python {m.requires_python}")
                continue
            candidate = Candidate(key[0], entry.version, f, entry.index, m)
            if f.yanked:
                self.findings.warnings.append(_yanked(candidate, self.origins.get(key[0])))
            break
        self._prepared[key] = candidate
        if candidate is not None and unverified is not None:
            self._unverified[key] = unverified
        return candidate

    def _read(
        self, index: IndexConfig, f: DistFile
    ) -> tuple[MetadataResult, asyncio.Future[ProbeResult] | None]:
        """``_metadata_and_probe``'s answer; taken as it is when the prefetch already read
        the metadata from the file itself (no probe to start: the read proved the file
        downloadable), else through the loop."""
        read = self.client.metadata_started(f)
        if (
            f.metadata_url is None
            and read is not None
            and read.done()
            and not read.cancelled()
            and read.exception() is None  # an error: raised through the loop, as ever
            and not read.result().from_cache
        ):
            return self.fetch_loop.take(self.client.metadata(index, f)), None
        return self.fetch_loop.run(lambda: _metadata_and_probe(self.client, index, f))

    def settle(self) -> bool:
        """After a resolver pass: wait for the probes it did not wait for. True when none
        found a block (the pass stands); False when one did: its candidate is dropped (it
        is prepared again, and skipped, on the next pass) and the resolver must run again.
        A probe that failed raises its error here, as it would have where it was waited."""
        pending, self._unverified = self._unverified, {}
        if not pending:
            return True

        async def every() -> None:
            await asyncio.gather(*pending.values(), return_exceptions=True)

        self.fetch_loop.run(every)
        again = False
        for key, probe in pending.items():  # in the order the resolver met them
            block = probe.result().block
            if block is not None:
                self.findings.blocks.setdefault(block.file.url, block)
                del self._prepared[key]
                again = True
        if again:
            log.info("a probe answered after the resolver went on found a block: resolving again")
            self.conflicts.clear()  # the next pass starts as the first did
        return not again


async def _metadata_and_probe(
    client: IndexClient, index: IndexConfig, f: DistFile
) -> tuple[MetadataResult, asyncio.Future[ProbeResult] | None]:
    """Metadata, and the probe of the file itself (started, not awaited) unless the
    metadata was read from the file over the network this run (a cached read proves
    nothing about today's quarantine)."""
    if f.metadata_url is None:
        meta = await client.metadata(index, f)
        if not meta.from_cache:
            return meta, None
        return meta, _probe(client, index, f)
    probe = _probe(client, index, f)  # starts with the metadata read
    return await client.metadata(index, f), probe


def _probe(client: IndexClient, index: IndexConfig, f: DistFile) -> asyncio.Future[ProbeResult]:
    """The file's probe, started; its error is raised where its result is asked for (a
    probe fetched ahead that nobody asks about fails silently)."""
    probe = asyncio.ensure_future(client.probe(index, f, background=True))
    probe.add_done_callback(_retrieve)
    return probe


def _retrieve(task: asyncio.Future[ProbeResult]) -> None:
    if not task.cancelled():
        task.exception()


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
