"""Listed files: their core metadata (the ``.metadata`` file, wheel ranges, sdist
PKG-INFO, a build with ``--allow-build``) and probes of their downloadability, each read
once per run, with the firewall's blocks turned into ``BlockHit``s (``_judge``) and every
other refusal into a ``FetchError`` (``_file_error``). Part of ``IndexClient``
(``client.py``), as a mixin.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

from indexgate.dists import metadata as md
from indexgate.dists.models import DistFile, parse_filename
from indexgate.index.client_types import (
    BlockHit,
    FetchError,
    MetadataResult,
    ProbeResult,
    Stage,
    T,
    file_project,
    noting,
)
from indexgate.index.firewall import classify_block
from indexgate.index.http import METADATA_MAX_BODY, HttpClient, Response
from indexgate.policy import FileAction, FileDecision
from indexgate.redact import redact, strip_userinfo
from indexgate.settings import IndexConfig

if TYPE_CHECKING:
    from indexgate.dists import wheelzip

log = logging.getLogger("indexgate.index")


class FileFetching:
    """The index client's metadata reads and probes of listed files."""

    http: HttpClient
    indexes: tuple[IndexConfig, ...]
    allow_build: bool
    _tasks: dict[tuple[str, str], asyncio.Future[Any]]
    _touched: dict[str, tuple[IndexConfig, DistFile]]

    if TYPE_CHECKING:  # the core's, in client.py

        def _once(
            self, key: tuple[str, str], factory: Callable[[], Awaitable[T]]
        ) -> Awaitable[T]: ...

        def _blob(self, kind: str, key: str | None) -> bytes | None: ...

        def _store_blob(self, kind: str, key: str | None, data: bytes) -> None: ...

    def touched_files(self) -> list[tuple[IndexConfig, DistFile]]:
        """Every file whose metadata or downloadability this run asked about, first first."""
        return list(self._touched.values())

    def metadata_started(self, file: DistFile) -> asyncio.Future[MetadataResult] | None:
        """The file's metadata read if this run started it (done or not), else None."""
        return self._tasks.get(("metadata", file_key(file)))

    def block_found(self, file: DistFile) -> BlockHit | Literal["unknown"] | None:
        """The block this run's metadata read, else its probe, of ``file`` met (the order
        a resolution reads them in); None when those made found none; "unknown" when one
        that decides is still running or failed. Starts no fetch."""
        for key in (("metadata", file_key(file)), ("probe", file.url)):
            task = self._tasks.get(key)
            if task is None:
                continue
            if not task.done() or task.cancelled() or task.exception() is not None:
                return "unknown"
            if task.result().block is not None:
                return task.result().block  # type: ignore[no-any-return]
        return None

    # -- metadata ---------------------------------------------------------------

    def metadata(
        self, index: IndexConfig, file: DistFile, *, track: bool = True
    ) -> Awaitable[MetadataResult]:
        """Read once per run per file: by URL *and* hashes, because a stored page read for
        speculation may list a URL whose file was since replaced in place.

        ``track=False``: not one of the files this run's outcome depends on (``touched_files``).
        """
        key = file_key(file)
        if track:
            self._touched.setdefault(key, (index, file))
        return self._once(
            ("metadata", key),
            lambda: noting(partial(self._metadata, index, file), index, None, file),
        )

    async def _metadata(self, index: IndexConfig, file: DistFile) -> MetadataResult:
        parsed = parse_filename(file.filename)
        if parsed is None:
            return MetadataResult(unusable=f"{file.filename} is not a wheel or sdist")
        if file.metadata_url is not None:
            r = await self.http.request(
                "GET",
                file.metadata_url,
                cacheable=True,
                digest=_digest(file.metadata_hashes),
                max_body=METADATA_MAX_BODY,
            )
            outcome = self._judge(index, file, r, "metadata")
            if isinstance(outcome, BlockHit):
                return MetadataResult(block=outcome)
            if outcome is None:
                hashes = file.metadata_hashes or {}
                result = self._parse(file, lambda: md.check_hash(r.content, hashes), r.content)
                return replace(result, from_cache=r.from_cache)
            if r.status != 404:
                raise self._file_error(index, file, r)
            # 404 on an advertised .metadata: read the file instead, as pip does.
        if parsed.kind == "wheel":
            return await self._wheel_metadata(index, file)
        return await self._sdist_metadata(index, file)

    async def _file_get(
        self, file: DistFile, range_: str | None = None, *, cacheable: bool = True
    ) -> Response:
        """GET (part of) a listed file; its bytes are cached by the hash the page gave."""
        headers = {"Range": range_} if range_ else None
        return await self.http.request(
            "GET", file.url, headers=headers, cacheable=cacheable, digest=_digest(file.hashes)
        )

    def _parse(self, file: DistFile, verify: Callable[[], None], data: bytes) -> MetadataResult:
        try:
            verify()
            meta = md.parse_core_metadata(data)
        except md.MetadataError as exc:
            return _unusable(f"{file.filename}: {exc}")
        return MetadataResult(metadata=meta)

    async def _wheel_metadata(self, index: IndexConfig, file: DistFile) -> MetadataResult:
        """Range requests: the tail (central directory, usually METADATA too), then one more.

        With the wheel's hash known, the cache keeps the METADATA found, not the ranges,
        and of it only the header section, all a parse reads (``md.header_section``): the
        description is often nine tenths of the bytes.
        """
        from indexgate.dists import wheelzip  # not needed by a run that reads no wheel

        key = _metadata_key(file)
        stored = self._blob("metadata", key)
        if stored is not None:
            return replace(self._parse(file, _noop, stored), from_cache=True)
        cacheable = key is None  # else the cache keeps the METADATA, not the ranges

        def found(data: bytes, from_cache: bool) -> MetadataResult:
            result = self._parse(file, _noop, data)
            if result.metadata is not None and not from_cache:
                self._store_blob("metadata", key, md.header_section(data))
            return replace(result, from_cache=from_cache)

        project = parse_filename(file.filename).name  # type: ignore[union-attr]
        r = await self._file_get(file, f"bytes=-{wheelzip.TAIL_SIZE}", cacheable=cacheable)
        hit = self._served(index, file, r, "download")
        if hit is not None:
            return MetadataResult(block=hit)
        try:
            if r.status != 206:  # no range support: we have the whole wheel
                md.check_hash(r.content, file.hashes)
                return found(wheelzip.metadata_from_whole_wheel(r.content, project), r.from_cache)
            start, total = _content_range(r)
            loc = wheelzip.locate_metadata(r.content, start, total, project)
            buf, buf_start = r.content, start
            for _ in range(6):  # each round makes progress (wheelzip guarantees it)
                if isinstance(loc, wheelzip.NeedRange):
                    buf, buf_start = await self._range(index, file, loc, cacheable)
                    loc = wheelzip.locate_metadata(buf, buf_start, total, project)
                    continue
                data = wheelzip.extract_member(buf, buf_start, loc)
                if isinstance(data, wheelzip.NeedRange):
                    buf, buf_start = await self._range(index, file, data, cacheable)
                    continue
                return found(data, r.from_cache)
        except md.MetadataError as exc:
            return _unusable(f"{file.filename}: {exc}")
        return _unusable(f"{file.filename}: could not locate METADATA in the wheel")

    async def _range(
        self, index: IndexConfig, file: DistFile, need: wheelzip.NeedRange, cacheable: bool
    ) -> tuple[bytes, int]:
        r = await self._file_get(file, need.header, cacheable=cacheable)
        if r.status == 206:
            return r.content, _content_range(r)[0]
        if r.status == 200:
            return r.content, 0
        raise self._file_error(index, file, r)

    async def _sdist_metadata(self, index: IndexConfig, file: DistFile) -> MetadataResult:
        r = await self._file_get(file)
        hit = self._served(index, file, r, "download")
        if hit is not None:
            return MetadataResult(block=hit)
        try:
            md.check_hash(r.content, file.hashes)
            pkg_info = md.read_sdist_pkg_info(r.content, file.filename)
            meta = md.static_sdist_metadata(pkg_info)
            return MetadataResult(metadata=meta, from_cache=r.from_cache)
        except md.HashMismatch as exc:
            return _unusable(f"{file.filename}: {exc}")
        except md.MetadataError as exc:
            if not self.allow_build:
                return _unusable(
                    f"{file.filename}: {exc} (indexgate never runs package code; "
                    "a wheel of this version, or --allow-build, would be needed)"
                )
        # --allow-build: the user asked for the build backend to run (imported only then).
        from indexgate.dists.build import build_metadata

        try:
            built = await asyncio.to_thread(build_metadata, r.content, file.filename, self.indexes)
            return MetadataResult(metadata=md.parse_core_metadata(built))
        except md.MetadataError as exc:
            return _unusable(f"{file.filename}: {exc}")

    # -- probes -----------------------------------------------------------------

    def probe(
        self, index: IndexConfig, file: DistFile, *, track: bool = True, background: bool = False
    ) -> Awaitable[ProbeResult]:
        """Is the file itself downloadable? HEAD, or a one-byte GET where HEAD is refused.

        ``background``: nothing waits on this answer to ask for the next level (a cold
        resolution's probes), so it goes after the pages and metadata waiting for a slot.
        The first caller of a file's probe decides (each is made once per run).
        """
        if track:
            self._touched.setdefault(file_key(file), (index, file))
        return self._once(
            ("probe", file.url),
            lambda: noting(partial(self._probe, index, file, background), index, None, file),
        )

    async def _probe(self, index: IndexConfig, file: DistFile, background: bool) -> ProbeResult:
        r = await self.http.request("HEAD", file.url, background=background)
        again = r.status in (405, 501)  # HEAD refused
        blocked = index.policy.on_file(r.status).action is FileAction.BLOCKED
        if not again and blocked and not r.content:
            # A firewall's HEAD answer has no body; unless its reason phrase already says
            # who blocked it and why (Nexus), ask for one byte to read the reason.
            again = classify_block(r.status, r.reason, r.headers, b"").vendor == "unknown"
        if again:
            r = await self.http.request(
                "GET", file.url, headers={"Range": "bytes=0-0"}, background=background
            )
        hit = self._served(index, file, r, "download")
        if hit is not None:
            return ProbeResult(block=hit)
        return ProbeResult()

    # -- policy glue -------------------------------------------------------------

    def _judge(
        self, index: IndexConfig, file: DistFile, r: Response, stage: Stage
    ) -> BlockHit | FileDecision | None:
        """None when fine; a BlockHit when quarantined; else the failing decision."""
        decision = index.policy.on_file(r.status)
        if decision.action is FileAction.OK:
            return None
        if decision.action is FileAction.BLOCKED:
            info = classify_block(r.status, r.reason, r.headers, r.content)
            return BlockHit(file, index.name, stage, r.status, info)
        return decision

    def _served(
        self, index: IndexConfig, file: DistFile, r: Response, stage: Stage
    ) -> BlockHit | None:
        """None when the index served the file, a BlockHit when it quarantined it; any
        other refusal raises the file's FetchError."""
        outcome = self._judge(index, file, r, stage)
        if outcome is None or isinstance(outcome, BlockHit):
            return outcome
        raise self._file_error(index, file, r)

    def _file_error(self, index: IndexConfig, file: DistFile, r: Response) -> FetchError:
        """The error of a listed file the index would not serve (``IndexPolicy.on_file``)."""
        decision = index.policy.on_file(r.status)
        return FetchError(
            decision.kind or "index-unreachable",
            decision.message(index.name, file.filename),
            index=index.name,
            status=r.status,
            package=file_project(file),
        )


def _unusable(why: str) -> MetadataResult:
    """A file whose metadata cannot be used (its version is skipped, as pip does): said
    at ``-v``, and kept for the no-solution message."""
    log.info("skipping %s (the file cannot be used)", redact(why))
    return MetadataResult(unusable=why)


def _noop() -> None:
    return None


def _metadata_key(file: DistFile) -> str | None:
    """The wheel's sha256 with its URL: bytes read from one server never answer for
    another server's file, whatever hash that one claims."""
    digest = (file.hashes or {}).get("sha256")
    if not digest:
        return None
    return hashlib.sha256(f"{strip_userinfo(file.url)}\0{digest.lower()}".encode()).hexdigest()


def file_key(file: DistFile) -> str:
    """A listed file's identity: its URL and the hashes the page gave for it."""
    return f"{file.url}#{_hash_key(file.hashes)}#{_hash_key(file.metadata_hashes)}"


def _hash_key(hashes: dict[str, str] | None) -> str:
    return ",".join(f"{algo}:{value}" for algo, value in sorted((hashes or {}).items()))


def _digest(hashes: dict[str, str] | None) -> str | None:
    """``sha256:<hex>`` when the index gave that hash: the cache key of immutable bytes."""
    value = (hashes or {}).get("sha256")
    return f"sha256:{value}" if value else None


_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)")


def _content_range(r: Response) -> tuple[int, int]:
    """(start, total size) from a 206 answer."""
    m = _CONTENT_RANGE.match(r.headers.get("content-range", ""))
    if not m or m.group(3) == "*":
        raise md.MetadataError("the server's range answer has no usable Content-Range")
    return int(m.group(1)), int(m.group(3))
