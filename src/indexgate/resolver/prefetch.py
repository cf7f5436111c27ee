"""Prefetch: fetches started ahead of the resolver.

A listing starts the metadata read of its likeliest candidate, whose dependencies'
listings start in turn, so the network works ahead of the resolver. On a warm run the
walk starts from the pages the cache holds, while they revalidate (``_walk_stored``).
Runs on the fetch_loop's event loop while the resolver waits (see fetch_loop.py).
Part of the Provider (``provider.py``), as a mixin.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

from packaging.utils import NormalizedName

from indexgate.dists.models import DistFile
from indexgate.index.client import IndexClient
from indexgate.resolver.candidates import Req
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import Finder, Listing, VersionEntry
from indexgate.targets import Target


class Prefetcher:
    """The Provider's prefetch walk."""

    target: Target
    fetch_loop: FetchLoop
    finder: Finder
    client: IndexClient
    _prefetched: set[tuple[NormalizedName, frozenset[str]]]
    _guesses: deque[Req]
    _walker: asyncio.Future[None] | None
    _in_prerelease_order: Callable[[Iterable[VersionEntry]], Iterator[VersionEntry]]
    _files_for_target: Callable[..., tuple[tuple[DistFile, ...], list[str]]]

    def prefetch(self, req: Req) -> None:
        """Start the listing and the likeliest candidate's metadata, then its deps', now."""
        key = (req.name, req.extras)
        if key in self._prefetched:
            return
        self._prefetched.add(key)
        self.fetch_loop.submit(lambda: self._prefetch(req))

    async def _prefetch(self, req: Req) -> None:
        listing = self.finder.listing(req.name)
        if not listing.done():
            self._guess(req)
        try:
            await listing
        except Exception:  # the resolver will meet and report the same error
            return
        await self._follow(req, listing.result())

    def _guess(self, req: Req) -> None:
        """Queue ``req`` for the walk of the pages the cache holds (``_walk_stored``)."""
        self._guesses.append(req)
        if self._walker is None or self._walker.done():
            self._walker = asyncio.ensure_future(self._walk_stored())
            self._walker.add_done_callback(_seen)

    async def _walk_stored(self) -> None:
        """While pages revalidate, walk the ones the cache holds.

        Their likely picks' metadata is usually cached too, so the next level's pages are
        asked for now, not a round trip later. Only requests start early: the resolver
        sees the revalidated pages alone. One task, one package per turn of the loop, so
        that the answers arriving meanwhile are read first (a burst of walking would
        leave every connection's answer unread, and the connections busy).
        """
        while self._guesses:
            req = self._guesses.popleft()
            try:
                if not self.finder.listing(req.name).done():
                    stored = self.finder.stored_listing(req.name)
                    if stored is not None:
                        await self._follow(req, stored)
            except Exception:  # a guess that fails costs nothing: the real walk goes on
                pass
            await asyncio.sleep(0)

    async def _follow(self, req: Req, listing: Listing) -> None:
        """Read the likeliest candidate's metadata; prefetch its dependencies."""
        # The versions the resolver will consider, pre-releases by the same rule as there
        # (a wrong guess here costs a sequential fetch later, on the critical path); only
        # as far as the first with a file for the target (usually the newest).
        for entry in self._in_prerelease_order(listing.entries):
            if not entry.files or not req.specifier.contains(entry.version, prereleases=True):
                continue
            files, _ = self._files_for_target(req.name, entry, frozenset(), frozenset())
            if not files:
                continue
            # Only the metadata gates the next level; the probe runs alongside, unwaited.
            f = files[0]
            if f.metadata_url is not None:
                _started(self.client.probe(entry.index, f, background=True))
            try:
                meta = await self.client.metadata(entry.index, f)
            except Exception:  # the resolver will meet and report the same error
                return
            if meta.from_cache and f.metadata_url is None:
                _started(self.client.probe(entry.index, f, background=True))
            if meta.metadata is None:
                return
            for dep in meta.metadata.requires_dist:
                if self.target.evaluate(dep.marker, req.extras):
                    self.prefetch(Req.from_requirement(dep))
            return


def _started(task: Awaitable[Any]) -> None:
    """A fetch started for later: its error is seen by whoever awaits it, not logged."""
    asyncio.ensure_future(task).add_done_callback(_seen)


def _seen(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
