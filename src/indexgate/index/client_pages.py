"""Project pages, simple and flat: fetched once per run, parsed as they stream in
(``_PageSink``), their parse kept in the page's own cache entry (``_PageSink.summary``,
read back as a ``StoredPage``) so a page that did not change is not parsed again; and the
run-wide bookkeeping of the pages answered
(``page_answers``, ``pages_read``, ``never_matched``). Part of ``IndexClient``
(``client.py``), as a mixin.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from indexgate.dists.models import DistFile, dist_files, dist_row
from indexgate.index import authcheck
from indexgate.index.client_types import (
    ACCEPT,
    FetchError,
    PageResult,
    T,
    TargetFilter,
    noting,
    unreadable,
)
from indexgate.index.http import BodySinkFactory, HttpClient, Response
from indexgate.index.transport.headers import Headers
from indexgate.model import Problem
from indexgate.policy import PageAction
from indexgate.redact import redact
from indexgate.settings import IndexConfig

if TYPE_CHECKING:
    from indexgate.index import simple


class PageFetching:
    """The index client's project pages, and what this run's pages answered."""

    http: HttpClient
    indexes: tuple[IndexConfig, ...]
    keep: TargetFilter | None
    _variant: str
    _tasks: dict[tuple[str, str], asyncio.Future[Any]]
    _stored: dict[str, StoredPage | None]

    if TYPE_CHECKING:  # the core's, in client.py

        def _once(
            self, key: tuple[str, str], factory: Callable[[], Awaitable[T]]
        ) -> Awaitable[T]: ...

        async def _still_refused(self, index: IndexConfig) -> str | None: ...

    # -- project pages -------------------------------------------------------------

    def project_page(self, index: IndexConfig, name: str) -> Awaitable[PageResult]:
        name = canonicalize_name(name)
        if index.format == "flat":
            return self._once(
                ("flat", f"{index.url}#{name}"),
                lambda: noting(partial(self._flat, index, name), index, name),
            )
        return self._once(
            ("page", page_url(index.url, name)),
            lambda: noting(partial(self._simple, index, name), index, name),
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
        stored = self._stored_page(page_url(index.url, name), name)
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
        self,
        url: str,
        name: NormalizedName,
        *,
        reload: bool = False,
        carried: bytes | None = None,
    ) -> tuple[Response, str | None]:
        r = await self.http.request(
            "GET",
            url,
            headers={"Accept": ACCEPT},
            cacheable=True,
            sink=self._page_sink(name, carried),
            reload=reload,
        )
        return r, (_page_key(r, self._variant, name) if 200 <= r.status < 300 else None)

    def _page_sink(self, name: NormalizedName, carried: bytes | None) -> BodySinkFactory:
        """A new page parser for each attempt at the page (a retry starts afresh).
        ``carried``: the summary of the page's cached answer, whose parses for other
        target filters the new entry keeps while they still hold (``_PageSink.summary``).
        """

        def make(url: str, status: int, headers: Headers) -> _PageSink:
            from indexgate.index import simple

            parser = simple.PageParser(
                headers.get("content-type"), url, project=name, keep=self.keep
            )
            return _PageSink(parser, name, self._variant, carried)

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
            login = authcheck.login_page(r, url, name, head=sink.head if sink else None)
            if sink is not None:
                sink.head = b""  # read once; the answer stays memoized for the run
            if login is not None:  # a refusal, not a page (nor kept as one: ``summary``)
                return PageResult(index, name, r.status, refused=login)
            # A page whose bytes an earlier run parsed (a 304, say) is not parsed again:
            # its parse is in the answer the cache gave (under the URL it came from, after
            # any redirect), unless this run read it already.
            assert key is not None  # a 2xx answer
            stored = self._stored.get(url)
            if stored is None or stored.key != key:
                stored = _load_page(r, self._variant, name)
            if stored is not None and stored.key == key:
                return PageResult(index, name, r.status, stored.files, key=key)
            if sink is not None or r.body_sha256 is None or reloaded:
                break
            # The cache kept this page's hash, not its bytes, and no parse of them for this
            # target filter (another filter's only; a login form or a page that did not
            # parse, which keep none): ask for the page again, without validators; its new
            # entry keeps the other filters' parses.
            r, key = await self._page_answer(url, name, reload=True, carried=r.summary)
        if sink is not None:
            if sink.error is not None:
                raise unreadable(index, f"page for {name}", sink.error)
            kept = sink.files
        elif r.body_sha256 is not None:  # not even asking again gave the bytes
            raise unreadable(index, f"page for {name}", "its bytes could not be read again")
        else:  # a body at hand (an older cache entry, a test double): parsed here
            from indexgate.index import simple

            try:
                kept = tuple(
                    simple.parse_project_page(
                        r.content, r.content_type, r.url, project=name, keep=self.keep
                    )
                )
            except simple.PageError as exc:
                raise unreadable(index, f"page for {name}", exc) from None
        if self.http.cache is not None:  # stored_page answers from the cache only
            self._stored[url] = StoredPage(key, r.status, kept)
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

    # -- what the cache keeps of a page besides its headers (``Response.summary``) ------

    def _stored_page(self, url: str, name: NormalizedName) -> StoredPage | None:
        """The parse the cache keeps with ``url``'s page for this run's target filter, read
        from the page's cache entry once per run, without any network. (A page that
        redirects is kept under the URL it came from: none is found here for it.)"""
        if url in self._stored:
            return self._stored[url]
        cache = self.http.cache
        cached = cache.lookup("GET", url, {"Accept": ACCEPT}) if cache is not None else None
        stored = _load_page(cached.response, self._variant, name) if cached is not None else None
        self._stored[url] = stored
        return stored

    async def _flat(self, index: IndexConfig, name: NormalizedName) -> PageResult:
        listing = await self._once(("flat", index.url), lambda: self._flat_listing(index))
        if isinstance(listing, int):
            return PageResult(index, name, listing)
        from indexgate.index import simple

        files = tuple(simple.files_for_project(listing, name))
        return PageResult(index, name, 200 if files else 404, files)

    async def _flat_listing(self, index: IndexConfig) -> list[DistFile] | int:
        from indexgate.index import simple

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
            raise unreadable(index, "flat page", exc) from None


def never_matched(client: PageFetching) -> list[Problem]:
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


def _page_key(r: Response, variant: str, name: NormalizedName) -> str:
    """What a parsed page depends on: its URL (after any redirect), media type and bytes
    (by their sha256: a streamed page's bytes are hashed as they pass, never kept), which
    files the run keeps (``variant``: the target filter's label), and the project asked
    for (a parse keeps that project's files only, and two projects' pages may redirect
    to one URL)."""
    body = r.body_sha256 or hashlib.sha256(r.content).hexdigest()
    text = f"page-v3\0{name}\0{r.url}\0{r.content_type}\0{variant}\0{body}"
    return hashlib.sha256(text.encode()).hexdigest()


class _PageSink:
    """A project page's body as it streams in (``HttpClient.request(sink=...)``): fed to
    its ``simple.PageParser``, with the first bytes kept for the login-form check
    (``authcheck.login_page``). A page that does not parse is kept as ``error`` (a sink
    never raises: the transport is mid-read); the files are ``files`` once closed, and
    ``summary`` is what the cache keeps of them."""

    __slots__ = ("_carried", "_failure", "_name", "_parser", "_variant", "error", "files", "head")

    def __init__(
        self,
        parser: simple.PageParser,
        name: NormalizedName,
        variant: str,
        carried: bytes | None,
    ) -> None:
        from indexgate.index.simple import PageError  # loaded with the parser already

        self._failure = PageError
        self._parser: simple.PageParser | None = parser
        self._name = name
        self._variant = variant
        self._carried = carried
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
        except self._failure as exc:
            self.error, self._parser = exc, None

    def close(self) -> None:
        parser, self._parser = self._parser, None
        if parser is None:
            return
        try:
            self.files = tuple(parser.close())
        except self._failure as exc:
            self.error = exc

    def summary(self, answer: Response) -> bytes | None:
        """The parse, for the cache to keep in the page's entry instead of its bytes
        (``BodySink.summary``; ``_load_page`` reads it back from a cached answer).

        JSON: ``_PAGE_FORMAT``, then one ``[variant, page key, rows]`` per target filter
        (``_page_key``, ``dist_row``): this sink's first, then those of the page's previous
        entry (``carried``) whose key says they were read from these same bytes, up to
        ``_PARSES_KEPT`` in all, so runs of two filters on one cache do not take turns
        fetching the page whole. None for a page that did not parse or is a login form:
        never kept as a page, so a later 304 asks for it again and finds the form. (Only
        the form is looked for here: the cache stores the answer before its redirects are
        recorded, and ``_simple`` checks those on every answer, stored or not, before it
        uses a parse.)
        """
        if self.error is not None:
            return None
        if authcheck.login_page(answer, answer.url, head=self.head) is not None:
            return None
        rows = [dist_row(f) for f in self.files]
        name = self._name
        parses: list[list[Any]] = [[self._variant, _page_key(answer, self._variant, name), rows]]
        for variant, key, kept in _parses(self._carried):
            if len(parses) == _PARSES_KEPT:
                break
            if variant != self._variant and key == _page_key(answer, variant, name):
                parses.append([variant, key, kept])
        return _SUMMARY_JSON.encode([_PAGE_FORMAT, *parses]).encode()


# The summary's first item names its format: summaries of another format are never read.
_PAGE_FORMAT = "page4"
_PARSES_KEPT = 4  # target filters whose parse of a page its cache entry keeps
# One encoder for every summary (``json.dumps`` with options makes one per call); a
# summary is rows of plain data, with no cycle to look for (a container each, per file).
_SUMMARY_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)


@dataclass(frozen=True)
class StoredPage:
    """A page parse kept in the cache, by the hash of the bytes it was read from."""

    key: str  # ``_page_key`` of the bytes it was parsed from
    status: int
    files: tuple[DistFile, ...]  # already filtered to the project's own files


def _parses(summary: bytes | None) -> list[list[Any]]:
    """The ``[variant, page key, rows]`` a ``_PageSink.summary`` holds; none when absent
    or not of this format (never an exception)."""
    if summary is None:
        return []
    try:
        tag, *parses = json.loads(summary)
    except (ValueError, TypeError):
        return []
    if tag != _PAGE_FORMAT:
        return []
    return [p for p in parses if isinstance(p, list) and len(p) == 3 and isinstance(p[2], list)]


def _load_page(answer: Response, variant: str, name: NormalizedName) -> StoredPage | None:
    """The parse ``answer``'s summary keeps for ``variant`` and project ``name``, when
    made from the answer's very bytes (its page key, ``_page_key``, says so); None when
    there is none."""
    parses = _parses(answer.summary)
    if not parses:
        return None
    key = _page_key(answer, variant, name)
    for _, stored_key, rows in parses:
        if stored_key == key:
            try:
                return StoredPage(key, answer.status, dist_files(rows))
            except (ValueError, TypeError):
                return None
    return None
