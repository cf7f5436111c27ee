"""Streamed bodies (issue 13): the HTTP/1.1 parser hands a body to the caller's sink as
it arrives (de-chunked, decoded), ``HttpClient`` gives each attempt a new sink and
streams 2xx answers only, and the cache keeps a streamed page's hash, not its bytes,
while a warm run still revalidates it and reuses the stored parse. Real sockets:
tests/integration/test_streamed_pages.py."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import zlib
from pathlib import Path

import pytest
from support.mock_transport import MockTransport, mock_http2, respond

from indexgate.errors import IndexUnreachable
from indexgate.index.cache import FileCache
from indexgate.index.client import IndexClient, PageResult
from indexgate.index.http import HttpClient, Response
from indexgate.index.transport.base import (
    BodyTooLarge,
    RawResponse,
    ReadError,
    RemoteProtocolError,
    Request,
    SinkFactory,
)
from indexgate.index.transport.headers import Headers
from indexgate.index.transport.http11_parser import ResponseParser, StreamDecoder, decode_content
from indexgate.settings import IndexConfig

CAP = 1 << 20
JSON_TYPE = "application/vnd.pypi.simple.v1+json"


class Collect:
    """A sink that keeps what it is fed (and whether it was closed)."""

    def __init__(self, url: str = "", status: int = 0) -> None:
        self.url = url
        self.status = status
        self.pieces: list[bytes] = []
        self.closed = False

    def feed(self, data: bytes) -> None:
        self.pieces.append(data)

    def close(self) -> None:
        self.closed = True

    @property
    def body(self) -> bytes:
        return b"".join(self.pieces)


def streamed(pieces: list[bytes], method: str = "GET", cap: int = CAP) -> ResponseParser:
    calls: list[tuple[int, Headers]] = []

    def factory(status: int, headers: Headers) -> Collect:
        calls.append((status, headers))
        return Collect()

    parser = ResponseParser(method, cap, factory)
    done = [parser.feed(p) for p in pieces]
    if not done[-1]:
        assert parser.feed_eof()
    assert not any(done[:-1])
    assert len(calls) <= 1
    return parser


SIMPLE = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\nhello world"
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;ext\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: a\r\n\r\n"
)
UNTIL_CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nbody to the end"


# --- the parser --------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [SIMPLE, CHUNKED, UNTIL_CLOSE], ids=["length", "chunked", "close"])
def test_the_sink_gets_the_body_the_buffer_would_have_held(raw: bytes) -> None:
    whole = ResponseParser("GET", CAP)
    if not whole.feed(raw):
        assert whole.feed_eof()
    for i in range(1, len(raw)):
        p = streamed([raw[:i], raw[i:]])
        assert isinstance(p.sink, Collect)
        assert p.sink.body == whole.body, i
        assert p.body == b""  # nothing kept besides what went to the sink
    one_by_one = streamed([raw[i : i + 1] for i in range(len(raw))])
    assert one_by_one.sink.body == whole.body  # type: ignore[union-attr]


def test_a_content_length_body_read_after_its_head_is_handed_on_as_it_came() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
    piece = b"hello world"
    parser = ResponseParser("GET", CAP, lambda status, headers: Collect())
    assert not parser.feed(head)
    assert parser.feed(piece)
    assert isinstance(parser.sink, Collect) and parser.sink.pieces[0] is piece  # not copied
    buffered = ResponseParser("GET", CAP)
    assert not buffered.feed(head)
    assert buffered.feed(piece)
    assert buffered.body is piece


def test_pieces_reach_the_sink_before_the_body_is_complete() -> None:
    parser = ResponseParser("GET", CAP, lambda status, headers: Collect())
    assert not parser.feed(CHUNKED[:60])
    assert isinstance(parser.sink, Collect) and parser.sink.body == b"hello"
    assert not parser.feed(CHUNKED[60:75])
    assert parser.sink.body.startswith(b"hello ")


@pytest.mark.parametrize(
    ("method", "raw"),
    [
        ("HEAD", SIMPLE),
        ("GET", b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n"),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n"),
    ],
)
def test_no_sink_is_asked_for_an_answer_without_a_body(method: str, raw: bytes) -> None:
    asked: list[int] = []
    parser = ResponseParser(method, CAP, lambda status, headers: asked.append(status))  # type: ignore[arg-type,func-returns-value]
    assert parser.feed(raw)
    assert asked == [] and parser.sink is None


def test_a_factory_that_declines_leaves_the_body_buffered() -> None:
    seen: list[tuple[int, str]] = []

    def factory(status: int, headers: Headers) -> None:
        seen.append((status, headers["content-type"]))
        return None

    parser = ResponseParser("GET", CAP, factory)
    assert parser.feed(SIMPLE)
    assert seen == [(200, "text/html")]
    assert parser.sink is None and parser.body == b"hello world"


def test_the_cap_holds_for_streamed_bodies() -> None:
    big_chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"10\r\n" + b"x" * 16
    with pytest.raises(BodyTooLarge):
        streamed([big_chunk + b"\r\n10\r\n" + b"y" * 16], cap=20)
    parser = ResponseParser("GET", 20, lambda s, h: Collect())
    with pytest.raises(BodyTooLarge):
        parser.feed(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"z" * 21)
    with pytest.raises(BodyTooLarge):  # announced too large: refused before any byte
        ResponseParser("GET", 20, lambda s, h: Collect()).feed(
            b"HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n"
        )


# --- decoding as it streams ----------------------------------------------------------------

DATA = b"".join(b"<a href='f-%d.whl'>f-%d</a>\n" % (i, i) for i in range(3000))


def _raw_deflate(data: bytes) -> bytes:
    c = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return c.compress(data) + c.flush()


@pytest.mark.parametrize(
    ("coding", "body"),
    [
        ("gzip", gzip.compress(DATA)),
        ("x-gzip", gzip.compress(DATA)),
        ("deflate", zlib.compress(DATA)),
        ("deflate", _raw_deflate(DATA)),
        ("deflate, gzip", gzip.compress(zlib.compress(DATA))),
        ("br", DATA),  # not a coding indexgate undoes: passed as it is, as decode_content does
    ],
)
@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_decoding_in_pieces_matches_decoding_whole(coding: str, body: bytes, piece: int) -> None:
    headers = Headers({"content-encoding": coding})
    out = Collect()
    decoder = StreamDecoder.around(out, headers, CAP)
    for start in range(0, len(body), piece):
        decoder.feed(body[start : start + piece])
    if isinstance(decoder, StreamDecoder):
        decoder.finish()
    assert out.body == decode_content(body, headers, CAP)


def test_a_compressed_bomb_is_refused_as_it_streams() -> None:
    bomb = gzip.compress(b"\0" * (4 * CAP))
    raw = (
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb)
        + bomb
    )
    with pytest.raises(BodyTooLarge, match="decompressed"):
        streamed([raw])


def test_a_corrupt_compressed_body_is_a_protocol_error() -> None:
    raw = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 10\r\n\r\nnot-a-gzip"
    with pytest.raises(RemoteProtocolError, match="undecodable"):
        streamed([raw])


# --- HttpClient: attempts, redirects, caps -------------------------------------------------


class Scripted:
    """A transport playing a list of steps, one per exchange: a RawResponse to answer
    (streamed to the sink when asked, as a real transport does), or ("partial", bytes)
    to feed those bytes to the sink and then fail as a broken connection."""

    def __init__(self, steps: list[object]) -> None:
        self.steps = list(steps)
        self.requests: list[Request] = []

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        self.requests.append(request)
        step = self.steps.pop(0)
        if isinstance(step, tuple):
            headers = Headers({"content-type": "text/html"})
            target = sink(200, headers) if sink is not None else None
            if target is not None:
                target.feed(step[1])
            raise ReadError("connection closed before the answer was complete")
        assert isinstance(step, RawResponse)
        return await MockTransport(lambda r: step).exchange(
            request, max_body=max_body, within=within, sink=sink
        )

    async def aclose(self) -> None:
        return None


def _request(transport: object, url: str, made: list[Collect], **kwargs: object) -> Response:
    def factory(final: str, status: int, headers: Headers) -> Collect:
        made.append(Collect(final, status))
        return made[-1]

    async def main() -> Response:
        http = HttpClient(backoff=0.0, transport=transport, **kwargs)  # type: ignore[arg-type]
        return await http.request("GET", url, sink=factory)

    return asyncio.run(main())


def test_a_retry_starts_a_new_sink_and_the_broken_one_is_dropped() -> None:
    body = b"<a href='x-1.0.tar.gz'>x</a>" * 100
    transport = Scripted([("partial", body[:50]), respond(200, content=body)])
    made: list[Collect] = []
    r = _request(transport, "https://idx.example/simple/x/", made)
    assert len(transport.requests) == 2
    assert len(made) == 2
    broken, good = made
    assert broken.body == body[:50] and not broken.closed  # never closed, never used
    assert r.sink is good and good.closed and good.body == body
    assert r.content == b"" and r.body_sha256 == hashlib.sha256(body).hexdigest()


def test_redirects_and_refusals_are_buffered_and_only_the_final_2xx_streams() -> None:
    final = "https://idx.example/simple/y/"
    transport = Scripted(
        [
            respond(503, text="busy"),
            respond(302, content=b"moved", headers={"Location": final}),
            respond(200, content=b"the page"),
        ]
    )
    made: list[Collect] = []
    r = _request(transport, "https://idx.example/simple/Y/", made)
    assert [(c.url, c.status) for c in made] == [(final, 200)]
    assert r.sink is made[0] and made[0].body == b"the page"

    made.clear()
    r = _request(Scripted([respond(404, content=b"Not Found")]), final, made)
    assert made == [] and r.sink is None and r.content == b"Not Found"


def test_max_body_caps_streamed_bytes() -> None:
    big = b"x" * 5000
    made: list[Collect] = []
    with pytest.raises(IndexUnreachable, match="larger than"):
        _request(
            Scripted([respond(200, content=big, headers={"Connection": "close"})]),
            "https://idx.example/simple/big/",
            made,
            max_body=4096,
        )


def test_file_urls_are_read_whole_and_fed_to_the_sink(tmp_path: Path) -> None:
    page = tmp_path / "index.html"
    page.write_bytes(b"<a href='z-1.0.tar.gz'>z</a>")
    made: list[Collect] = []

    async def main() -> Response:
        http = HttpClient()
        return await http.request(
            "GET",
            tmp_path.as_uri() + "/",
            sink=lambda u, s, h: made.append(Collect(u, s)) or made[-1],
        )

    r = asyncio.run(main())
    assert r.sink is made[0] and made[0].closed
    assert made[0].body == page.read_bytes()


# --- the cache keeps a streamed page compact, and a warm run reuses its parse ------------

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/")
PAGE_URL = INDEX.url + "flask/"


def _page_body() -> bytes:
    files = [
        {
            "filename": f"flask-{v}-py3-none-any.whl",
            "url": f"../../files/flask-{v}-py3-none-any.whl",
            "hashes": {"sha256": f"{i:064x}"},
        }
        for i, v in enumerate(["1.0", "2.0", "3.0"])
    ]
    doc = {"meta": {"api-version": "1.1"}, "name": "flask", "files": files}
    return json.dumps(doc).encode() + b" " * 20000  # a page larger than its cache entry


class EtagServer:
    """A project page with an ETag, answering 304 to a matching If-None-Match."""

    def __init__(self) -> None:
        self.body = _page_body()
        self.seen: list[Request] = []

    def __call__(self, request: Request) -> RawResponse:
        self.seen.append(request)
        if request.url != PAGE_URL:
            return respond(404, content=b"")
        if request.header("If-None-Match") == '"v1"':
            return respond(304, headers={"ETag": '"v1"'})
        return respond(200, content=self.body, headers={"Content-Type": JSON_TYPE, "ETag": '"v1"'})


def _fetch(cache: FileCache, server: EtagServer, keep: object = None) -> PageResult:
    async def main() -> PageResult:
        http = HttpClient(backoff=0.0, transport=MockTransport(server), cache=cache)
        client = IndexClient(http, (INDEX,), keep=keep)  # type: ignore[arg-type]
        return await client.project_page(INDEX, "flask")

    return asyncio.run(main())


def test_a_streamed_page_is_cached_by_its_hash_and_revalidated_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = FileCache(tmp_path)
    server = EtagServer()
    cold = _fetch(cache, server)
    assert cold.files[0].filename == "flask-1.0-py3-none-any.whl"
    entries = [p for p in (tmp_path / "v1" / "answers").rglob("*") if p.is_file()]
    assert len(entries) == 1
    assert entries[0].stat().st_size < 2000 < len(server.body)  # the hash, not the page

    # Warm: revalidated with the ETag, answered 304, and the stored parse reused (no
    # page parser is even made).
    from indexgate.index import simple

    made: list[object] = []
    real = simple.PageParser

    def counting(*args: object, **kwargs: object) -> object:
        made.append(args)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(simple, "PageParser", counting)
    warm = _fetch(cache, server)
    assert server.seen[-1].header("If-None-Match") == '"v1"'
    assert warm.files == cold.files and warm.key == cold.key
    assert made == []


def test_a_warm_run_without_a_stored_parse_asks_again_without_validators(tmp_path: Path) -> None:
    """Another target filter has no stored parse of the page, and the cache kept only
    the page's hash and the first filter's parse: the client asks for the page again,
    whole, and parses it."""
    cache = FileCache(tmp_path)
    server = EtagServer()
    _fetch(cache, server)

    class Only2:
        label = "only-2.0"

        def __call__(self, parsed: object) -> bool:
            return str(parsed.version) == "2.0"  # type: ignore[attr-defined]

    before = len(server.seen)
    page = _fetch(cache, server, keep=Only2())
    asked = server.seen[before:]
    assert [r.header("If-None-Match") for r in asked] == ['"v1"', None]
    # parsed afresh for this filter: its kept file first, the others' versions after it
    # (one file stands in for a version none of whose files fits)
    assert page.files[0].filename == "flask-2.0-py3-none-any.whl"


def test_the_http2_transport_streams_to_the_sink_as_httpx_decodes() -> None:
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/moved":
            return httpx.Response(302, headers={"Location": "/simple/x/"}, content=b"moved")
        body = gzip.compress(DATA)
        return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=body)

    h2 = mock_http2(handler)
    made: list[Collect] = []

    def factory(status: int, headers: Headers) -> Collect | None:
        made.append(Collect("", status))
        return made[-1] if status == 200 else None

    async def main() -> tuple[RawResponse, RawResponse]:
        try:
            page = await h2.exchange(
                Request("GET", "https://idx.example/simple/x/"), max_body=CAP, sink=factory
            )
            moved = await h2.exchange(
                Request("GET", "https://idx.example/moved"), max_body=CAP, sink=factory
            )
            return page, moved
        finally:
            await h2.aclose()

    page, moved = asyncio.run(main())
    assert page.sink is made[0] and page.content == b"" and made[0].body == DATA
    assert moved.sink is None and moved.content == b"moved"  # declined: buffered


def test_a_streamed_page_that_is_a_login_form_is_a_refusal(tmp_path: Path) -> None:
    """The login-form check reads the first bytes the page's sink kept."""
    form = b"<html><body><form><input name='pw' type='password'></form>" + b" " * 100000
    form += b"<a href='../../files/flask-1.0-py3-none-any.whl'>flask</a></body></html>"

    def server(request: Request) -> RawResponse:
        return respond(200, content=form, headers={"Content-Type": "text/html"})

    async def main() -> PageResult:
        http = HttpClient(backoff=0.0, transport=MockTransport(server))
        return await IndexClient(http, (INDEX,)).project_page(INDEX, "flask")

    page = asyncio.run(main())
    assert page.refused == "answered with a login form" and page.files == ()
