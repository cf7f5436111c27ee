"""The index client: project pages, core metadata and file probes, each fetched once.

Every fetch is memoized by URL for the run (a blocked URL is never fetched twice) and
shared by all targets. Status codes are interpreted by ``indexgate.policy`` only.

A simple project page is parsed as it streams in (``_PageSink``, given to
``HttpClient.request`` as its sink): only the files a target can use are kept, never the
page's bytes, whatever its size.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

from packaging.tags import Tag
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.credentials import refresher
from indexgate.errors import IndexgateError, IndexUnreachable, name_index, note_context
from indexgate.index import authcheck, simple
from indexgate.index import metadata as md
from indexgate.index.firewall import classify_block
from indexgate.index.http import METADATA_MAX_BODY, BodySinkFactory, HttpClient, Response
from indexgate.index.models import (
    BlockInfo,
    CoreMetadata,
    DistFile,
    ParsedFilename,
    dist_files,
    dist_row,
    parse_filename,
)
from indexgate.index.transport.headers import Headers
from indexgate.policy import FileAction, FileDecision, PageAction
from indexgate.redact import redact, strip_userinfo
from indexgate.report.model import Blocked, Problem
from indexgate.settings import IndexConfig
from indexgate.sources.model import Origin

if TYPE_CHECKING:
    from indexgate.index import wheelzip

T = TypeVar("T")
Stage = Literal["metadata", "download"]
log = logging.getLogger("indexgate.index")


class _Ranks(Protocol):
    label: str

    def tag_rank(self, tags: frozenset[Tag]) -> int | None: ...


class TargetFilter:
    """The files of a page that can serve one of the run's targets: every sdist, and
    the wheels whose tags one of them installs.

    ``check`` keeps only those from each page (a project with native wheels lists
    dozens per version, most for other platforms), so memory follows what the run can
    use, not the page's size. A version none of whose files fits keeps one, so that a
    failure can still say why (see ``simple``). Drift reads whole pages (a lock may pin
    any file).
    """

    # Whether a wheel is kept depends on its tags alone: the page parser may remember the
    # answer per tag string (``page._Files.admit``).
    decides_by_tags = True

    def __init__(self, targets: Sequence[_Ranks]) -> None:
        self._targets = tuple(targets)
        self.label = ",".join(sorted({t.label for t in self._targets}))
        self._memo: dict[frozenset[Tag], bool] = {}

    def __call__(self, parsed: ParsedFilename) -> bool:
        if parsed.kind != "wheel":
            return True
        tags = parsed.tags
        ok = self._memo.get(tags)
        if ok is None:
            ok = self._memo[tags] = any(t.tag_rank(tags) is not None for t in self._targets)
        return ok


class FetchError(IndexgateError):
    """A fetch that policy says must stop the target (auth, missing file, bad answer)."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        index: str,
        status: int | None = None,
        package: str | None = None,
    ) -> None:
        self.kind = kind
        self.index = index
        self.status = status
        self.package = package
        super().__init__(redact(message))


@dataclass(frozen=True)
class PageResult:
    index: IndexConfig
    name: NormalizedName
    status: int  # 200 found, 404 not listed (also for flat indexes without the project)
    files: tuple[DistFile, ...] = ()
    # why this answer is a refusal whatever its status (index/authcheck.py): a login page,
    # or a 404 after which the index failed its auth check again
    refused: str | None = None
    # What the page's files were parsed from (``_page_key``: URL, media type, bytes); None
    # for answers without files and for flat indexes. Equal keys: the same page.
    key: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class BlockHit:
    """A quarantined artifact: the firewall refused the file or its metadata."""

    file: DistFile
    index: str
    stage: Stage
    status: int
    info: BlockInfo

    @property
    def name(self) -> NormalizedName:
        parsed = parse_filename(self.file.filename)
        return parsed.name if parsed else canonicalize_name(self.file.filename)

    @property
    def version(self) -> str:
        parsed = parse_filename(self.file.filename)
        return str(parsed.version) if parsed else "?"

    def to_report(self, fallback: str | None, origin: Origin | None) -> Blocked:
        """The report row; ``origin`` is the requirement line that asked for the package."""
        return Blocked(
            name=self.name,
            version=self.version,
            file=self.file.filename,
            index=self.index,
            stage=self.stage,
            status_code=self.status,
            vendor=self.info.vendor,
            reason=self.info.reason,
            details_url=self.info.details_url,
            fallback=fallback,
            policies=[dict(p) for p in self.info.policies],
            state=self.info.state,
            file_path=origin.file if origin else None,
            line=origin.line if origin else None,
        )


@dataclass(frozen=True)
class MetadataResult:
    metadata: CoreMetadata | None = None
    block: BlockHit | None = None
    unusable: str | None = None  # why this file cannot be used (never a block)
    from_cache: bool = False  # no request reached the index: the file was not probed


@dataclass(frozen=True)
class ProbeResult:
    block: BlockHit | None = None


class IndexClient:
    def __init__(
        self,
        http: HttpClient,
        indexes: tuple[IndexConfig, ...],
        *,
        allow_build: bool = False,
        keep: TargetFilter | None = None,
    ) -> None:
        self.http = http
        self.indexes = indexes
        self.allow_build = allow_build
        self.keep = keep  # None: every file of a page is kept
        self._variant = keep.label if keep is not None else ""  # part of a stored parse's key
        for index in indexes:
            http.add_credentials(index.url, index.auth)
            if index.cert or index.client_cert:
                http.add_tls(index.url, index.cert, index.client_cert, index.name)
            # For the run deadline's message; test doubles of HttpClient may not keep names.
            getattr(http, "index_names", {}).setdefault(index.url, index.name)
            if index.auth is not None:
                http.add_refresher(
                    index.url,
                    refresher(
                        index.url,
                        index.name,
                        index.username,
                        index.keyring_provider,
                        index.password_command,
                    ),
                )
        self._tasks: dict[tuple[str, str], asyncio.Future[Any]] = {}
        self._stored: dict[str, _StoredPage | None] = {}  # page URL -> last stored parse
        self._proofs: dict[str, tuple[float, asyncio.Future[Problem | None]]] = {}
        self._touched: dict[str, tuple[IndexConfig, DistFile]] = {}  # by ``file_key``

    def _once(self, key: tuple[str, str], factory: Callable[[], Awaitable[T]]) -> Awaitable[T]:
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._tasks[key] = task
        return task

    # -- proving the credentials (index/authcheck.py) ------------------------------------

    def prove(self, index: IndexConfig) -> Awaitable[Problem | None]:
        """The index's auth check; asked again when the last one passed more than
        ``authcheck.REPROVE_AFTER`` seconds ago (concurrent callers share one request)."""
        now = time.monotonic()
        last = self._proofs.get(index.name)
        if last is None or (
            last[1].done()
            and last[1].exception() is None
            and last[1].result() is None
            and now - last[0] > authcheck.REPROVE_AFTER
        ):
            task = asyncio.ensure_future(authcheck.check_index(self.http, index))
            last = self._proofs[index.name] = (now, task)
        return last[1]

    async def _still_refused(self, index: IndexConfig) -> str | None:
        """After a 404 from a proven index: why its credentials no longer pass, or None."""
        if index.name not in self._proofs or not authcheck.needs_proof(index):
            return None
        problem = await self.prove(index)
        if problem is None:
            return None
        detail = f"HTTP {problem.status_code}" if problem.kind == "auth-failure" else problem.kind
        return f"answered HTTP 404, then failed its auth check again ({detail})"

    # -- project pages -------------------------------------------------------------

    def project_page(self, index: IndexConfig, name: str) -> Awaitable[PageResult]:
        name = canonicalize_name(name)
        if index.format == "flat":
            return self._once(
                ("flat", f"{index.url}#{name}"),
                lambda: _noting(self._flat(index, name), index, name),
            )
        return self._once(
            ("page", page_url(index.url, name)),
            lambda: _noting(self._simple(index, name), index, name),
        )

    def stored_page(self, index: IndexConfig, name: str) -> PageResult | None:
        """The project page this cache holds for ``name`` on ``index``, parsed, without
        any network: for speculative prefetch only (it may be stale).

        None without a cache, without a stored page, or for flat and ``file:`` indexes.
        Reads the cache once per page and run (``project_page`` then reuses what it read);
        safe to call from any thread.
        """
        if index.format == "flat" or not index.url.startswith(("http:", "https:")):
            return None
        name = canonicalize_name(name)
        stored = self._stored_page(page_url(index.url, name))
        if stored is None:
            return None
        return PageResult(index, name, stored.status, stored.files)

    def page_answer(self, index: IndexConfig, name: str) -> Awaitable[tuple[Response, str | None]]:
        """A simple index's answer for the project page, with the ``_page_key`` of a
        success: enough to tell whether the page changed. ``project_page`` reads the same
        answer (one request for both); a 2xx body was parsed as it arrived (the answer's
        ``sink``), not kept."""
        name = canonicalize_name(name)
        url = page_url(index.url, name)
        return self._once(("answer", url), lambda: self._page_answer(url, name))

    async def _page_answer(
        self, url: str, name: NormalizedName, *, reload: bool = False
    ) -> tuple[Response, str | None]:
        r = await self.http.request(
            "GET",
            url,
            headers={"Accept": simple.ACCEPT},
            cacheable=True,
            sink=self._page_sink(name),
            reload=reload,
        )
        return r, (_page_key(r, self._variant) if 200 <= r.status < 300 else None)

    def _page_sink(self, name: NormalizedName) -> BodySinkFactory:
        """A new page parser for each attempt at the page (a retry starts afresh)."""

        def make(url: str, status: int, headers: Headers) -> _PageSink:
            parser = simple.PageParser(
                headers.get("content-type"), url, project=name, keep=self.keep
            )
            return _PageSink(parser)

        return make

    async def _simple(self, index: IndexConfig, name: NormalizedName) -> PageResult:
        url = page_url(index.url, name)
        r, key = await self.page_answer(index, name)
        for reloaded in (False, True):
            if r.status == 404 and (refused := await self._still_refused(index)) is not None:
                return PageResult(index, name, r.status, refused=refused)
            if not 200 <= r.status < 300:
                return PageResult(index, name, r.status)
            sink = r.sink if isinstance(r.sink, _PageSink) else None
            login = authcheck.login_page(replace(r, content=sink.head) if sink else r, url, name)
            if sink is not None:
                sink.head = b""  # read once; the answer stays memoized for the run
            if login is not None:  # never stored as a page: a refusal, not a page
                return PageResult(index, name, r.status, refused=login)
            # A page whose bytes an earlier run parsed (a 304, say) is not parsed again.
            assert key is not None  # a 2xx answer
            stored = self._stored_page(url)
            if stored is not None and stored.key == key:
                return PageResult(index, name, r.status, stored.files, key=key)
            if sink is not None or r.body_sha256 is None or reloaded:
                break
            # The cache kept this page's hash, not its bytes, and no parse of them (another
            # target filter, a pruned entry): ask for the page again, without validators.
            r, key = await self._page_answer(url, name, reload=True)
        if sink is not None:
            if sink.error is not None:
                raise _unreadable(index, f"page for {name}", sink.error)
            kept = sink.files
        elif r.body_sha256 is not None:  # not even asking again gave the bytes
            raise _unreadable(index, f"page for {name}", "its bytes could not be read again")
        else:  # a body at hand (an older cache entry, a test double): parsed here
            try:
                kept = tuple(
                    simple.parse_project_page(
                        r.content, r.content_type, r.url, project=name, keep=self.keep
                    )
                )
            except simple.PageError as exc:
                raise _unreadable(index, f"page for {name}", exc) from None
        cache = self.http.cache
        if cache is not None:  # stored_page answers from the cache only
            cache.put_blob(_PAGE_KIND, self._page_slot(url), _page_blob(key, r.status, kept))
            self._stored[url] = _StoredPage(key, r.status, kept)
        return PageResult(index, name, r.status, kept, key=key)

    def page_answers(self) -> dict[str, tuple[IndexConfig, list[PageResult]]]:
        """Every project page answered so far this run, by index name (an index whose
        page could not be fetched at all is reported elsewhere, as unreachable)."""
        out: dict[str, tuple[IndexConfig, list[PageResult]]] = {}
        for task in self._tasks.values():
            if not task.done() or task.cancelled() or task.exception() is not None:
                continue
            page = task.result()
            if isinstance(page, PageResult):
                out.setdefault(page.index.name, (page.index, []))[1].append(page)
        return out

    def pages_read(self) -> list[PageResult]:
        """Every simple project page this run has read so far, first asked first (pages
        still in flight or that failed are left out): what a reused outcome depends on."""
        out = []
        for (kind, _), task in self._tasks.items():
            if kind != "page" or not task.done() or task.cancelled():
                continue
            if task.exception() is None:
                out.append(task.result())
        return out

    def touched_files(self) -> list[tuple[IndexConfig, DistFile]]:
        """Every file whose metadata or downloadability this run asked about, first first."""
        return list(self._touched.values())

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

    # -- what the cache keeps besides HTTP answers (``HttpCache.get_blob``) ------------

    def _page_slot(self, url: str) -> str:
        return _page_slot(url, self._variant)

    def _blob(self, kind: str, key: str | None) -> bytes | None:
        cache = self.http.cache
        return cache.get_blob(kind, key) if cache is not None and key else None

    def _store_blob(self, kind: str, key: str | None, data: bytes) -> None:
        cache = self.http.cache
        if cache is not None and key:
            cache.put_blob(kind, key, data)

    def _stored_page(self, url: str) -> _StoredPage | None:
        """The parsed page last stored for ``url`` (read from the cache once per run)."""
        if url in self._stored:
            return self._stored[url]
        stored = _load_page(self._blob(_PAGE_KIND, self._page_slot(url)))
        self._stored[url] = stored
        return stored

    async def _flat(self, index: IndexConfig, name: NormalizedName) -> PageResult:
        listing = await self._once(("flat", index.url), lambda: self._flat_listing(index))
        if isinstance(listing, int):
            return PageResult(index, name, listing)
        files = tuple(simple.files_for_project(listing, name))
        return PageResult(index, name, 200 if files else 404, files)

    async def _flat_listing(self, index: IndexConfig) -> list[DistFile] | int:
        if index.url.startswith("file:"):
            path = Path(unquote(urlsplit(index.url).path))
            if path.is_dir():
                return simple.list_local_folder(path)
        r = await self.http.request("GET", index.url, cacheable=True)
        if not 200 <= r.status < 300:
            return r.status
        login = authcheck.login_page(r, index.url)
        if login is not None:  # an empty "listing" would read as "nothing here"
            raise FetchError(
                "auth-failure",
                f"index '{index.name}' ({redact(index.url)}) {login}: the credentials were "
                "refused; check them (username/password, keyring-provider, password-command)",
                index=index.name,
                status=r.status,
            )
        try:
            return simple.parse_flat_page(r.content, r.content_type, r.url, keep=self.keep)
        except simple.PageError as exc:
            raise _unreadable(index, "flat page", exc) from None

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
            ("metadata", key), lambda: _noting(self._metadata(index, file), index, None, file)
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

        With the wheel's hash known, the cache keeps the METADATA found, not the ranges.
        """
        from indexgate.index import wheelzip  # not needed by a run that reads no wheel

        key = _metadata_key(file)
        stored = self._blob("metadata", key)
        if stored is not None:
            return replace(self._parse(file, _noop, stored), from_cache=True)
        cacheable = key is None  # else the cache keeps the METADATA, not the ranges

        def found(data: bytes, from_cache: bool) -> MetadataResult:
            result = self._parse(file, _noop, data)
            if result.metadata is not None and not from_cache:
                self._store_blob("metadata", key, data)
            return replace(result, from_cache=from_cache)

        project = parse_filename(file.filename).name  # type: ignore[union-attr]
        r = await self._file_get(file, f"bytes=-{wheelzip.TAIL_SIZE}", cacheable=cacheable)
        outcome = self._judge(index, file, r, "download")
        if isinstance(outcome, BlockHit):
            return MetadataResult(block=outcome)
        if outcome is not None:
            raise self._file_error(index, file, r)
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
        outcome = self._judge(index, file, r, "download")
        if isinstance(outcome, BlockHit):
            return MetadataResult(block=outcome)
        if outcome is not None:
            raise self._file_error(index, file, r)
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
        from indexgate.index.build import build_metadata

        try:
            built = await asyncio.to_thread(build_metadata, r.content, file.filename, self.indexes)
            return MetadataResult(metadata=md.parse_core_metadata(built))
        except md.MetadataError as exc:
            return _unusable(f"{file.filename}: {exc}")

    # -- probes -----------------------------------------------------------------

    def probe(
        self, index: IndexConfig, file: DistFile, *, track: bool = True
    ) -> Awaitable[ProbeResult]:
        """Is the file itself downloadable? HEAD, or a one-byte GET where HEAD is refused."""
        if track:
            self._touched.setdefault(file_key(file), (index, file))
        return self._once(
            ("probe", file.url), lambda: _noting(self._probe(index, file), index, None, file)
        )

    async def _probe(self, index: IndexConfig, file: DistFile) -> ProbeResult:
        r = await self.http.request("HEAD", file.url)
        again = r.status in (405, 501)  # HEAD refused
        blocked = index.policy.on_file(r.status).action is FileAction.BLOCKED
        if not again and blocked and not r.content:
            # A firewall's HEAD answer has no body; unless its reason phrase already says
            # who blocked it and why (Nexus), ask for one byte to read the reason.
            again = classify_block(r.status, r.reason, r.headers, b"").vendor == "unknown"
        if again:
            r = await self.http.request("GET", file.url, headers={"Range": "bytes=0-0"})
        outcome = self._judge(index, file, r, "download")
        if isinstance(outcome, BlockHit):
            return ProbeResult(block=outcome)
        if outcome is not None:
            raise self._file_error(index, file, r)
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

    def _file_error(self, index: IndexConfig, file: DistFile, r: Response) -> FetchError:
        """The error of a listed file the index would not serve (``IndexPolicy.on_file``)."""
        decision = index.policy.on_file(r.status)
        return FetchError(
            decision.kind or "index-unreachable",
            decision.message(index.name, file.filename),
            index=index.name,
            status=r.status,
            package=_project(file),
        )


def _unusable(why: str) -> MetadataResult:
    """A file whose metadata cannot be used (its version is skipped, as pip does): said
    at ``-v``, and kept for the no-solution message."""
    log.info("skipping %s (the file cannot be used)", redact(why))
    return MetadataResult(unusable=why)


async def _noting(
    work: Awaitable[T], index: IndexConfig, name: str | None, file: DistFile | None = None
) -> T:
    """``work``, its unreachable-index errors (deadlines, throttling) naming the index, and
    the package, index and file it was about noted on any bug it raises (the
    internal-error report names them; see ``errors.note_context``)."""
    try:
        return await work
    except IndexUnreachable as exc:
        raise name_index(exc, index.name) from None
    except Exception as exc:
        package = name or (_project(file) if file is not None else None)
        note_context(exc, package=package, index=index.name, file=file.filename if file else None)
        raise


def never_matched(client: IndexClient) -> list[Problem]:
    """``index-never-matched``: an index asked for at least one project this run that
    answered "not here" (404, or a code in its ``ignore-error-codes``) for every one.

    A wrong URL (a missing ``/simple``, a typo in a repository name) looks exactly like
    that, and resolution then quietly moves on to the next index: the fall-through this
    gate exists to stop. An index no project was asked of (an explicit index nothing is
    pinned to) had nothing to match and is not reported; nor is a project a higher-ranked
    index already had (drift's shadow check asks later indexes for private names).
    """
    answers = client.page_answers()
    rank = {index.name: i for i, index in enumerate(client.indexes)}
    best: dict[str, int] = {}  # project -> rank of the best index that has it
    for index, pages in answers.values():
        for p in pages:
            if _found(index, p.status):
                best[p.name] = min(best.get(p.name, len(rank)), rank.get(index.name, len(rank)))
    problems = []
    for name, (index, all_pages) in answers.items():
        own = rank.get(name, len(rank))
        pages = [p for p in all_pages if best.get(p.name, len(rank)) >= own]
        if not pages or any(_found(index, p.status) for p in pages):
            continue
        asked = sorted({p.name for p in pages})
        shown = ", ".join(asked[:5]) + (f" and {len(asked) - 5} more" if len(asked) > 5 else "")
        problems.append(
            Problem(
                kind="index-never-matched",
                index=name,
                status_code=404 if all(p.status == 404 for p in pages) else None,
                message=(
                    f"index '{name}' ({redact(index.url)}) had none of the {len(asked)} "
                    f"project(s) asked of it ({shown}): every page answered "
                    f"{_codes(pages)}. Check its URL (e.g. a missing /simple/ or a wrong "
                    "repository name): a misconfigured index would otherwise go unnoticed"
                ),
            )
        )
    return problems


def _found(index: IndexConfig, status: int) -> bool:
    """The index did not say "not here" (404 or an ignore-error-code) for the page."""
    return index.policy.on_page(status).action is not PageAction.NEXT


def _codes(pages: list[PageResult]) -> str:
    return "/".join(f"HTTP {c}" for c in sorted({p.status for p in pages}))


def page_url(base: str, name: str) -> str:
    """A project page's URL: the base index URL, a ``/`` if it lacks one, the name, ``/``.

    As pip and uv join them: ``file:///srv/simple`` and ``file:///srv/simple/`` both give
    ``file:///srv/simple/httpx/`` (a base without its slash once gave ``.../simplehttpx/``,
    a 404 for every project, and a silent fall-through to the next index).
    """
    return f"{base}{name}/" if base.endswith("/") else f"{base}/{name}/"


def _unreadable(index: IndexConfig, what: str, exc: Exception | str) -> FetchError:
    """An index answer we cannot read: fail closed, as if the index were unreachable."""
    return FetchError(
        "index-unreachable",
        f"index '{index.name}' sent an unreadable {what}: {exc}",
        index=index.name,
    )


def _project(file: DistFile) -> str | None:
    parsed = parse_filename(file.filename)
    return parsed.name if parsed else None


def _noop() -> None:
    return None


def _metadata_key(file: DistFile) -> str | None:
    """The wheel's sha256 with its URL: bytes read from one server never answer for
    another server's file, whatever hash that one claims."""
    digest = (file.hashes or {}).get("sha256")
    if not digest:
        return None
    return hashlib.sha256(f"{strip_userinfo(file.url)}\0{digest.lower()}".encode()).hexdigest()


def _page_key(r: Response, variant: str) -> str:
    """What a parsed page depends on: its URL, media type and bytes (by their sha256:
    a streamed page's bytes are hashed as they pass, never kept), and which files the
    run keeps (``variant``: the target filter's label)."""
    body = r.body_sha256 or hashlib.sha256(r.content).hexdigest()
    text = f"page-v2\0{r.url}\0{r.content_type}\0{variant}\0{body}"
    return hashlib.sha256(text.encode()).hexdigest()


class _PageSink:
    """A project page's body as it streams in (``HttpClient.request(sink=...)``): fed to
    its ``simple.PageParser``, with the first bytes kept for the login-form check
    (``authcheck.login_page``). A page that does not parse is kept as ``error`` (a sink
    never raises: the transport is mid-read); the files are ``files`` once closed."""

    __slots__ = ("_parser", "error", "files", "head")

    def __init__(self, parser: simple.PageParser) -> None:
        self._parser: simple.PageParser | None = parser
        self.head = b""
        self.files: tuple[DistFile, ...] = ()
        self.error: simple.PageError | None = None

    def feed(self, data: bytes) -> None:
        if len(self.head) < authcheck.SNIFF:
            self.head += data[: authcheck.SNIFF - len(self.head)]
        if self._parser is None:
            return
        try:
            self._parser.feed(data)
        except simple.PageError as exc:
            self.error, self._parser = exc, None

    def close(self) -> None:
        parser, self._parser = self._parser, None
        if parser is None:
            return
        try:
            self.files = tuple(parser.close())
        except simple.PageError as exc:
            self.error = exc


# The blob kind names the format: entries of another format are simply never read.
_PAGE_KIND = "page3"


def _page_slot(url: str, variant: str = "") -> str:
    """Where a page URL's parse is kept: one slot per URL (and target filter), so it can
    be found (and replaced) without the page's bytes."""
    text = f"{strip_userinfo(url)}\0{simple.ACCEPT}"
    if variant:
        text += f"\0{variant}"
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _StoredPage:
    key: str  # ``_page_key`` of the bytes it was parsed from
    status: int
    files: tuple[DistFile, ...]  # already filtered to the project's own files


def _page_blob(key: str, status: int, files: tuple[DistFile, ...]) -> bytes:
    """The page as JSON arrays (``dist_row``), after its key and status."""
    rows = [dist_row(f) for f in files]
    return json.dumps([key, status, rows], separators=(",", ":")).encode()


def _load_page(raw: bytes | None) -> _StoredPage | None:
    """A ``_page_blob``; None when absent or not of this format (never an exception)."""
    if raw is None:
        return None
    try:
        key, status, rows = json.loads(raw)
        if not isinstance(key, str) or not isinstance(status, int):
            return None
        return _StoredPage(key, status, dist_files(rows))
    except (ValueError, TypeError):
        return None


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
