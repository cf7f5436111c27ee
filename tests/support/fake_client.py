"""An in-memory stand-in for ``IndexClient``: pages, stored pages, metadata and probes.

For the resolver's unit tests (finder, provider): what it was asked, in order, is in
``log``; a page can be held back until another page is asked for (``hold``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from indexgate.dists.models import CoreMetadata, DistFile, parse_filename
from indexgate.index.client import MetadataResult, PageResult, ProbeResult
from indexgate.settings import IndexConfig

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/")


def wheel(
    name: str,
    version: str,
    *,
    index: IndexConfig = INDEX,
    tag: str = "py3-none-any",
    digest: str = "0" * 64,
    requires_python: str | None = None,
) -> DistFile:
    filename = f"{name.replace('-', '_')}-{version}-{tag}.whl"
    host = index.url.removesuffix("/simple/")
    return DistFile(
        filename,
        f"{host}/files/{filename}",
        hashes={"sha256": digest},
        requires_python=requires_python,
        metadata_hashes={"sha256": digest},
    )


class _Http:
    cache = None

    def add_credentials(self, url: str, auth: object) -> None:
        return None


class FakeClient:
    """``pages``/``stored``: (index name, project) -> files; ``requires``: file URL -> deps."""

    def __init__(
        self,
        pages: dict[tuple[str, str], Iterable[DistFile]],
        requires: dict[str, list[str]] | None = None,
        stored: dict[tuple[str, str], Iterable[DistFile]] | None = None,
        indexes: tuple[IndexConfig, ...] = (INDEX,),
    ) -> None:
        self.http = _Http()
        self.indexes = indexes
        self.allow_build = False
        self.stored = {key: tuple(files) for key, files in (stored or {}).items()}
        # A page unchanged since it was stored is the stored tuple itself, as in the client.
        self.pages = {
            key: self.stored[key] if tuple(files) == self.stored.get(key) else tuple(files)
            for key, files in pages.items()
        }
        self.requires = requires or {}
        self.log: list[str] = []
        self.hold: dict[str, tuple[str, asyncio.Event]] = {}  # page -> (until page, event)
        self._tasks: dict[tuple[str, str], asyncio.Future[Any]] = {}

    def _once(self, key: tuple[str, str], make: Any) -> Awaitable[Any]:
        if key not in self._tasks:
            self._tasks[key] = asyncio.ensure_future(make())
        return self._tasks[key]

    def project_page(self, index: IndexConfig, name: str) -> Awaitable[PageResult]:
        return self._once(("page", f"{index.name}:{name}"), lambda: self._page(index, name))

    async def _page(self, index: IndexConfig, name: str) -> PageResult:
        self.log.append(f"ask {name}")
        for until, event in self.hold.values():
            if until == name:
                event.set()
        if name in self.hold:
            until, event = self.hold[name]
            try:
                await asyncio.wait_for(event.wait(), 1)
            except TimeoutError:
                self.log.append(f"gave up waiting for {until}")
        await asyncio.sleep(0)
        self.log.append(f"answer {name}")
        files = self.pages.get((index.name, name))
        if files is None:
            return PageResult(index, canonicalize_name(name), 404)
        return PageResult(index, canonicalize_name(name), 200, files)

    def stored_page(self, index: IndexConfig, name: str) -> PageResult | None:
        files = self.stored.get((index.name, name))
        if files is None:
            return None
        return PageResult(index, canonicalize_name(name), 200, files)

    def metadata(self, index: IndexConfig, file: DistFile) -> Awaitable[MetadataResult]:
        return self._once(("metadata", file.url), lambda: self._metadata(file))

    def metadata_started(self, file: DistFile) -> asyncio.Future[MetadataResult] | None:
        return self._tasks.get(("metadata", file.url))

    async def _metadata(self, file: DistFile) -> MetadataResult:
        self.log.append(f"metadata {file.filename}")
        parsed = parse_filename(file.filename)
        assert parsed is not None
        deps = tuple(Requirement(r) for r in self.requires.get(file.url, []))
        return MetadataResult(
            metadata=CoreMetadata(parsed.name, Version(str(parsed.version)), deps),
            from_cache=True,
        )

    def probe(self, index: IndexConfig, file: DistFile, **_: object) -> Awaitable[ProbeResult]:
        return self._once(("probe", file.url), lambda: self._probe(file))

    async def _probe(self, file: DistFile) -> ProbeResult:
        return ProbeResult()
