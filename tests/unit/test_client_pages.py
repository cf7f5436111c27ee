"""The index client's project pages and what it keeps of them in the cache: a page parsed
once is reused while its bytes are unchanged, and ``stored_page`` reads it back without
any network (for speculative prefetch)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from indexgate.dists.models import DistFile, dist_row
from indexgate.index import client_pages as client_mod
from indexgate.index import simple
from indexgate.index.cache import FileCache
from indexgate.index.client import IndexClient, PageResult
from indexgate.index.http import Response
from indexgate.settings import IndexConfig

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/")
FLAT = IndexConfig(name="flat", url="https://idx.example/links/", format="flat")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def page_body(name: str, versions: list[str], *, extra: list[dict] | None = None) -> bytes:
    files = [
        {
            "filename": f"{name}-{v}-py3-none-any.whl",
            "url": f"../../files/{name}-{v}-py3-none-any.whl",
            "hashes": {"sha256": f"{i:064x}"},
            "requires-python": ">=3.8" if i % 2 else None,
            "yanked": "broken" if v == "0.1" else False,
            "core-metadata": {"sha256": "ab" * 32} if i % 3 == 0 else (i % 3 == 1),
            "size": 1000 + i,
        }
        for i, v in enumerate(versions)
    ]
    files += extra or []
    return json.dumps({"meta": {"api-version": "1.1"}, "name": name, "files": files}).encode()


class FakeHttp:
    """The part of ``HttpClient`` the index client uses, answering from a dict of bodies
    (``from_cache`` as a revalidated page would be); counts requests."""

    def __init__(self, cache: FileCache | None, bodies: Mapping[str, bytes]) -> None:
        self.cache = cache
        self.bodies = dict(bodies)
        self.requests: list[str] = []
        self.from_cache = False
        self.index_names: dict[str, str] = {}  # as HttpClient keeps them, for messages

    def add_credentials(self, url: str, auth: tuple[str, str] | None) -> None:
        return None

    async def request(self, method: str, url: str, **_: object) -> Response:
        self.requests.append(url)
        body = self.bodies.get(url)
        if body is None:
            return Response(url, 404, "Not Found", {}, b"")
        headers = {"content-type": JSON_TYPE}
        return Response(url, 200, "OK", headers, body, self.from_cache)  # type: ignore[arg-type]


def fetch(client: IndexClient, name: str, index: IndexConfig = INDEX) -> PageResult:
    async def go() -> PageResult:
        return await client.project_page(index, name)

    return asyncio.run(go())


URL = INDEX.url + "flask/"
OTHER = "https://idx.example/files/other-1.0-py3-none-any.whl"
BODY = page_body(
    "flask",
    ["0.1", "1.0", "2.0rc1", "2.0"],
    extra=[{"filename": "other-1.0-py3-none-any.whl", "url": OTHER, "hashes": {}}],
)


@pytest.fixture
def cache(tmp_path: Path) -> FileCache:
    return FileCache(tmp_path)


def test_stored_page_is_what_project_page_gave_without_network(cache: FileCache) -> None:
    first = fetch(IndexClient(FakeHttp(cache, {URL: BODY}), (INDEX,)), "flask")  # type: ignore[arg-type]
    assert [f.filename for f in first.files] == [
        "flask-0.1-py3-none-any.whl",
        "flask-1.0-py3-none-any.whl",
        "flask-2.0rc1-py3-none-any.whl",
        "flask-2.0-py3-none-any.whl",
    ], "another project's file on the page is not the project's"
    offline = FakeHttp(cache, {})
    stored = IndexClient(offline, (INDEX,)).stored_page(INDEX, "Flask")  # type: ignore[arg-type]
    assert offline.requests == []
    assert stored == first
    # Every field survives the round trip, including the ones equality ignores.
    for a, b in zip(stored.files, first.files, strict=True):
        assert dist_row(a) == dist_row(b)


def test_stored_page_is_none_without_cache_entry_or_for_flat_and_file_indexes(
    cache: FileCache, tmp_path: Path
) -> None:
    http = FakeHttp(cache, {URL: BODY})
    client = IndexClient(http, (INDEX,))  # type: ignore[arg-type]
    assert client.stored_page(INDEX, "flask") is None
    fetch(client, "flask")
    assert client.stored_page(INDEX, "django") is None
    assert client.stored_page(FLAT, "flask") is None
    local = IndexConfig(name="local", url=tmp_path.as_uri() + "/")
    assert client.stored_page(local, "flask") is None
    no_cache = IndexClient(FakeHttp(None, {URL: BODY}), (INDEX,))  # type: ignore[arg-type]
    fetch(no_cache, "flask")
    assert no_cache.stored_page(INDEX, "flask") is None
    assert http.requests == [URL]


def test_unreadable_or_foreign_stored_pages_are_none(cache: FileCache) -> None:
    fetch(IndexClient(FakeHttp(cache, {URL: BODY}), (INDEX,)), "flask")  # type: ignore[arg-type]
    slot = client_mod._page_slot(URL)
    for junk in (b"", b"{not json", b'{"a": 1}', b'["k", 200, [["x"]]]', b"[1, 2, 3]"):
        cache.put_blob(client_mod._PAGE_KIND, slot, junk)
        client = IndexClient(FakeHttp(cache, {}), (INDEX,))  # type: ignore[arg-type]
        assert client.stored_page(INDEX, "flask") is None, junk


def test_a_revalidated_page_is_not_parsed_again(
    cache: FileCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = fetch(IndexClient(FakeHttp(cache, {URL: BODY}), (INDEX,)), "flask")  # type: ignore[arg-type]

    def refuse(*args: object) -> list[DistFile]:
        raise AssertionError("parsed again")

    monkeypatch.setattr(simple, "parse_project_page", refuse)
    again = FakeHttp(cache, {URL: BODY})
    again.from_cache = True
    assert fetch(IndexClient(again, (INDEX,)), "flask") == first  # type: ignore[arg-type]


def test_a_changed_page_is_parsed_and_replaces_the_stored_one(cache: FileCache) -> None:
    fetch(IndexClient(FakeHttp(cache, {URL: BODY}), (INDEX,)), "flask")  # type: ignore[arg-type]
    newer = page_body("flask", ["1.0", "3.0"])
    changed = fetch(IndexClient(FakeHttp(cache, {URL: newer}), (INDEX,)), "flask")  # type: ignore[arg-type]
    assert [f.filename for f in changed.files] == [
        "flask-1.0-py3-none-any.whl",
        "flask-3.0-py3-none-any.whl",
    ]
    stored = IndexClient(FakeHttp(cache, {}), (INDEX,)).stored_page(INDEX, "flask")  # type: ignore[arg-type]
    assert stored == changed


def test_stored_page_is_read_once_per_run(
    cache: FileCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    fetch(IndexClient(FakeHttp(cache, {URL: BODY}), (INDEX,)), "flask")  # type: ignore[arg-type]
    reads: list[str] = []
    real = cache.get_blob

    def counting(kind: str, key: str) -> bytes | None:
        reads.append(kind)
        return real(kind, key)

    monkeypatch.setattr(cache, "get_blob", counting)
    http = FakeHttp(cache, {URL: BODY})
    http.from_cache = True
    client = IndexClient(http, (INDEX,))  # type: ignore[arg-type]
    prefetched = client.stored_page(INDEX, "flask")
    assert fetch(client, "flask") == prefetched
    assert reads == [client_mod._PAGE_KIND]
