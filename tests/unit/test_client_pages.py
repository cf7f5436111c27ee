"""The index client's project pages and what it keeps of them in the cache: a page parsed
once is reused while its bytes are unchanged (its parse kept in the page's own cache entry,
``_PageSink.summary``), and ``stored_page`` reads it back without any network (for
speculative prefetch)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest
from support.mock_transport import MockTransport, respond
from support.sinks import Summarized

from indexgate.dists.models import dist_row
from indexgate.index import client_pages as client_mod
from indexgate.index import simple
from indexgate.index.cache import FileCache
from indexgate.index.client import IndexClient, PageResult
from indexgate.index.client_types import ACCEPT, FetchError
from indexgate.index.http import HttpClient, Response
from indexgate.index.transport.base import RawResponse, Request
from indexgate.index.transport.headers import Headers
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


class Server:
    """An index serving a dict of page bodies (JSON, or HTML when one starts with ``<``),
    each with an ETag of its bytes (a 304 when the request's ``If-None-Match`` matches
    it); keeps the requests it saw."""

    def __init__(self, bodies: Mapping[str, bytes]) -> None:
        self.bodies = dict(bodies)
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> RawResponse:
        self.seen.append(request)
        body = self.bodies.get(request.url)
        if body is None:
            return respond(404, content=b"")
        etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
        if request.header("If-None-Match") == etag:
            return respond(304, headers={"ETag": etag})
        kind = "text/html" if body.startswith(b"<") else JSON_TYPE
        return respond(200, content=body, headers={"Content-Type": kind, "ETag": etag})

    @property
    def requests(self) -> list[str]:
        return [r.url for r in self.seen]


def client_of(cache: FileCache | None, server: Server, keep: object = None) -> IndexClient:
    """A run's index client: a real ``HttpClient`` (and ``cache``) over ``server``."""
    http = HttpClient(backoff=0.0, transport=MockTransport(server), cache=cache)
    return IndexClient(http, (INDEX,), keep=keep)  # type: ignore[arg-type]


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
    first = fetch(client_of(cache, Server({URL: BODY})), "flask")
    assert [f.filename for f in first.files] == [
        "flask-0.1-py3-none-any.whl",
        "flask-1.0-py3-none-any.whl",
        "flask-2.0rc1-py3-none-any.whl",
        "flask-2.0-py3-none-any.whl",
    ], "another project's file on the page is not the project's"
    offline = Server({})
    stored = client_of(cache, offline).stored_page(INDEX, "Flask")
    assert offline.requests == []
    assert stored == first
    # Every field survives the round trip, including the ones equality ignores.
    assert stored is not None
    for a, b in zip(stored.files, first.files, strict=True):
        assert dist_row(a) == dist_row(b)


def test_a_page_is_kept_as_one_cache_file(cache: FileCache, tmp_path: Path) -> None:
    """The page's answer (headers, its bytes' hash) and its parse are one entry, one file:
    a cold run creates one file per page, not two."""
    fetch(client_of(cache, Server({URL: BODY})), "flask")
    files = [p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.parts[:2] for p in files if p.name != ".pruned"] == [("v1", "answers")]


def test_stored_page_is_none_without_cache_entry_or_for_flat_and_file_indexes(
    cache: FileCache, tmp_path: Path
) -> None:
    server = Server({URL: BODY})
    client = client_of(cache, server)
    assert client.stored_page(INDEX, "flask") is None
    fetch(client, "flask")
    assert client.stored_page(INDEX, "django") is None
    assert client.stored_page(FLAT, "flask") is None
    local = IndexConfig(name="local", url=tmp_path.as_uri() + "/")
    assert client.stored_page(local, "flask") is None
    no_cache = client_of(None, Server({URL: BODY}))
    fetch(no_cache, "flask")
    assert no_cache.stored_page(INDEX, "flask") is None
    assert server.requests == [URL]


def test_unreadable_or_foreign_stored_pages_are_none(cache: FileCache) -> None:
    fetch(client_of(cache, Server({URL: BODY})), "flask")
    hit = cache.lookup("GET", URL, {"Accept": ACCEPT})
    assert hit is not None and hit.response.summary is not None
    answer = hit.response
    tag, (variant, key, rows) = json.loads(answer.summary)
    headers = Headers({"content-type": JSON_TYPE, "etag": '"v1"'})
    for junk in (
        b"{not json",
        b'{"a": 1}',
        b"[1, 2, 3]",
        json.dumps(["page3", [variant, key, rows]]).encode(),  # another format
        json.dumps([tag, ["other", "0" * 64, rows]]).encode(),  # another filter's only
        json.dumps([tag, [variant, key, [["x"]]]]).encode(),  # rows of another shape
    ):
        streamed = Response(URL, 200, "OK", headers, b"", sink=Summarized(junk), body_sha256="ab")
        cache.store("GET", URL, {"Accept": ACCEPT}, streamed)
        assert cache.lookup("GET", URL, {"Accept": ACCEPT}).response.summary == junk  # type: ignore[union-attr]
        assert client_of(cache, Server({})).stored_page(INDEX, "flask") is None, junk


def test_a_revalidated_page_is_not_parsed_again(
    cache: FileCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server({URL: BODY})
    first = fetch(client_of(cache, server), "flask")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(simple, "PageParser", refuse)
    assert fetch(client_of(cache, server), "flask") == first
    assert server.seen[-1].header("If-None-Match") is not None  # a 304, not the bytes


def test_a_changed_page_is_parsed_and_replaces_the_stored_one(cache: FileCache) -> None:
    fetch(client_of(cache, Server({URL: BODY})), "flask")
    newer = page_body("flask", ["1.0", "3.0"])
    changed = fetch(client_of(cache, Server({URL: newer})), "flask")
    assert [f.filename for f in changed.files] == [
        "flask-1.0-py3-none-any.whl",
        "flask-3.0-py3-none-any.whl",
    ]
    stored = client_of(cache, Server({})).stored_page(INDEX, "flask")
    assert stored == changed


def test_stored_page_is_read_once_per_run(
    cache: FileCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = Server({URL: BODY})
    fetch(client_of(cache, server), "flask")
    reads: list[str] = []
    real = client_mod._load_page

    def counting(answer: Response, variant: str, name: str) -> client_mod.StoredPage | None:
        reads.append(answer.url)
        return real(answer, variant, name)

    monkeypatch.setattr(client_mod, "_load_page", counting)
    client = client_of(cache, server)
    prefetched = client.stored_page(INDEX, "flask")
    assert fetch(client, "flask") == prefetched
    assert reads == [URL]


# --- target filters: one entry per page keeps the parse of each -------------------------


class Only:
    """A target filter keeping the files of one version (``TargetFilter``'s shape)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.label = f"only-{version}"

    def __call__(self, parsed: object) -> bool:
        return str(parsed.version) == self.version  # type: ignore[attr-defined]


def validators(server: Server, since: int) -> list[str | None]:
    return [r.header("If-None-Match") for r in server.seen[since:]]


def test_another_target_filter_asks_again_without_validators_then_both_are_kept(
    cache: FileCache,
) -> None:
    """A 304 whose entry holds no parse for the run's target filter is asked again, whole;
    the page's new entry keeps that parse with the other filter's, so later runs of
    either filter are answered by a 304 alone."""
    server = Server({URL: BODY})
    whole = fetch(client_of(cache, server), "flask")
    etag = server.seen[-1].header("If-None-Match")
    assert etag is None
    before = len(server.seen)
    only = fetch(client_of(cache, server, keep=Only("2.0")), "flask")
    assert validators(server, before)[1:] == [None]  # asked again, whole
    assert validators(server, before)[0] is not None  # after the 304
    assert only.files[0].filename == "flask-2.0-py3-none-any.whl" and only != whole
    for keep, expected in ((None, whole), (Only("2.0"), only)):
        before = len(server.seen)
        assert fetch(client_of(cache, server, keep=keep), "flask") == expected
        assert len(server.seen) == before + 1 and validators(server, before)[0] is not None


def test_a_changed_page_keeps_no_parse_of_its_old_bytes(cache: FileCache) -> None:
    server = Server({URL: BODY})
    fetch(client_of(cache, server), "flask")
    fetch(client_of(cache, server, keep=Only("2.0")), "flask")  # both filters' parses kept
    server.bodies[URL] = page_body("flask", ["2.0", "3.0"])
    fetch(client_of(cache, server, keep=Only("2.0")), "flask")  # the new bytes, one filter
    before = len(server.seen)
    whole = fetch(client_of(cache, server), "flask")
    assert [f.filename for f in whole.files][-1] == "flask-3.0-py3-none-any.whl"
    assert validators(server, before)[1:] == [None], "the old bytes' parse is not reused"


def test_a_parse_of_other_bytes_is_not_carried_into_the_new_entry(cache: FileCache) -> None:
    """The page changed between a 304 (a stale one, from a cache in front of the index)
    and the request asking again: the other filter's parse, of the old bytes, is dropped."""
    server = Server({URL: BODY})
    fetch(client_of(cache, server), "flask")
    newer = page_body("flask", ["2.0", "3.0"])
    server.bodies[URL] = newer
    stale = server.__call__

    def answer(request: Request) -> RawResponse:
        if request.header("If-None-Match") is not None:
            server.seen.append(request)
            return respond(304)  # stale: the page changed since
        return stale(request)

    http = HttpClient(backoff=0.0, transport=MockTransport(answer), cache=cache)
    only = fetch(IndexClient(http, (INDEX,), keep=Only("2.0")), "flask")  # type: ignore[arg-type]
    assert [f.filename for f in only.files][-1] == "flask-3.0-py3-none-any.whl"
    hit = cache.lookup("GET", URL, {"Accept": ACCEPT})
    assert hit is not None and hit.response.summary is not None
    assert [p[0] for p in json.loads(hit.response.summary)[1:]] == ["only-2.0"]
    assert client_of(cache, server).stored_page(INDEX, "flask") is None
    whole = fetch(client_of(cache, server), "flask")
    assert [f.filename for f in whole.files] == [
        "flask-2.0-py3-none-any.whl",
        "flask-3.0-py3-none-any.whl",
    ]


def test_an_entry_keeps_the_parses_of_a_few_filters(cache: FileCache) -> None:
    server = Server({URL: BODY})
    versions = ["0.1", "1.0", "2.0rc1", "2.0"]
    fetch(client_of(cache, server), "flask")
    for v in versions:
        fetch(client_of(cache, server, keep=Only(v)), "flask")
    hit = cache.lookup("GET", URL, {"Accept": ACCEPT})
    assert hit is not None and hit.response.summary is not None
    _, *parses = json.loads(hit.response.summary)
    assert [p[0] for p in parses] == ["only-2.0", "only-2.0rc1", "only-1.0", "only-0.1"]
    assert len(parses) == client_mod._PARSES_KEPT


LOGIN = b'<html><form><input name="user"><input type="password" name="pw"></form></html>'


def test_a_login_form_is_never_kept_as_a_page(cache: FileCache) -> None:
    """A page that is a login form keeps no parse: the next run's 304 asks again, and
    finds the form again, instead of taking an empty page from the cache."""
    server = Server({URL: LOGIN})
    for _ in range(2):
        page = fetch(client_of(cache, server), "flask")
        assert page.refused == "answered with a login form" and page.files == ()
    assert validators(server, 0) == [None, validators(server, 0)[1], None]
    assert validators(server, 0)[1] is not None


def test_a_page_that_does_not_parse_is_never_kept(cache: FileCache) -> None:
    server = Server({URL: b'{"meta": {"api-version": "1.1"}, "files": [oops'})
    for _ in range(2):
        with pytest.raises(FetchError, match="page for flask"):
            fetch(client_of(cache, server), "flask")
    assert len(server.seen) == 3  # cold; then a 304 with no parse, and the page again


# --- pages that redirect ------------------------------------------------------------------

SHARED = b"""<html><body>
<a href="/f/foo-1.0-py3-none-any.whl">foo-1.0-py3-none-any.whl</a>
<a href="/f/bar-2.0-py3-none-any.whl">bar-2.0-py3-none-any.whl</a>
</body></html>"""


class Redirecting(Server):
    """``redirects``: page URL -> the URL it answers 302 to (on another host, say)."""

    def __init__(self, bodies: Mapping[str, bytes], redirects: Mapping[str, str]) -> None:
        super().__init__(bodies)
        self.redirects = dict(redirects)

    def __call__(self, request: Request) -> RawResponse:
        target = self.redirects.get(request.url)
        if target is None:
            return super().__call__(request)
        self.seen.append(request)
        return respond(302, headers={"Location": target})


def test_two_projects_whose_pages_redirect_to_one_url_each_get_their_own_files(
    cache: FileCache,
) -> None:
    """The parse kept with the shared URL's entry is one project's files only: the other
    project must not be handed it on a 304."""
    shared = "https://cdn.example/all/"
    server = Redirecting({shared: SHARED}, {URL: shared, INDEX.url + "bar/": shared})
    for _ in range(2):  # cold, then warm (304s)
        client = client_of(cache, server)
        assert [f.filename for f in fetch(client, "flask").files] == []
        assert [f.filename for f in fetch(client, "bar").files] == ["bar-2.0-py3-none-any.whl"]


def test_a_redirected_page_is_revalidated_once_after_a_prefetch_found_nothing(
    cache: FileCache,
) -> None:
    """Its parse is kept under the URL it came from, where the prefetch's look-up of the
    asked URL does not find it; the 304 still hands it back, so the page is not asked
    for again whole."""
    moved = "https://idx.example/simple2/flask/"
    server = Redirecting({moved: BODY}, {URL: moved})
    fetch(client_of(cache, server), "flask")
    server.seen.clear()

    client = client_of(cache, server)
    assert client.stored_page(INDEX, "flask") is None
    page = fetch(client, "flask")

    assert len(page.files) == 4
    assert [(r.url, r.header("If-None-Match") is not None) for r in server.seen] == [
        (URL, False),
        (moved, True),
    ]
