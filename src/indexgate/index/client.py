"""The index client: project pages, core metadata and file probes, each fetched once.

This module owns ``IndexClient``'s core: per-index credentials, TLS and refreshers, the
run's memo of fetches (``_once``), the auth-check proofs (``prove``) and the cache's blobs.
Pages are fetched by ``client_pages.PageFetching``, files' metadata and probes by
``client_files.FileFetching`` (mixins over this state); the shared result types live in
``client_types``. The names other modules use are re-exported here.

Every fetch is memoized by URL for the run (a blocked URL is never fetched twice) and
shared by all targets. Status codes are interpreted by ``indexgate.policy`` only.

A simple project page is parsed as it streams in (``_PageSink``, given to
``HttpClient.request`` as its sink): only the files a target can use are kept, never the
page's bytes, whatever its size.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from indexgate.credentials import refresher
from indexgate.dists.models import DistFile
from indexgate.index import authcheck
from indexgate.index.client_files import FileFetching, file_key
from indexgate.index.client_pages import PageFetching, StoredPage, never_matched, page_url
from indexgate.index.client_types import (
    BlockHit,
    FetchError,
    MetadataResult,
    PageResult,
    ProbeResult,
    Stage,
    T,
    TargetFilter,
)
from indexgate.index.http import HttpClient
from indexgate.model import Problem
from indexgate.settings import IndexConfig

__all__ = [
    "BlockHit",
    "FetchError",
    "IndexClient",
    "MetadataResult",
    "PageResult",
    "ProbeResult",
    "Stage",
    "TargetFilter",
    "file_key",
    "never_matched",
    "page_url",
]


class IndexClient(PageFetching, FileFetching):
    """One run's fetches from its indexes: credentials and TLS set up per index, each
    page, metadata read and probe made once (``_once``) and shared by all targets. Pages
    are ``PageFetching``'s (client_pages.py), files ``FileFetching``'s (client_files.py).
    """

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
            http.index_names.setdefault(index.url, index.name)  # for the deadline's message
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
        self._stored: dict[str, StoredPage | None] = {}  # page URL -> last stored parse
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

    # -- what the cache keeps besides HTTP answers (``HttpCache.get_blob``) ------------

    def _blob(self, kind: str, key: str | None) -> bytes | None:
        cache = self.http.cache
        return cache.get_blob(kind, key) if cache is not None and key else None

    def _store_blob(self, kind: str, key: str | None, data: bytes) -> None:
        cache = self.http.cache
        if cache is not None and key:
            cache.put_blob(kind, key, data)
