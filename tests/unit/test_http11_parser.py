"""The lean HTTP/1.1 client's pure parts: the response parser, content decoding, request
encoding and the headers class. Real sockets are in tests/integration/test_http11_server.py."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from urllib.parse import urlsplit

import pytest

from indexgate.errors import IndexUnreachable
from indexgate.index.http import HttpClient
from indexgate.index.transport.base import (
    BodyTooLarge,
    RemoteProtocolError,
    request_target,
    split_target,
)
from indexgate.index.transport.headers import Headers
from indexgate.index.transport.http11_parser import (
    ResponseParser,
    decode_content,
    encode_request,
)

CAP = 1 << 20

SIMPLE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n"
    b'ETag: "v1"\r\n\r\nhello world'
)
CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
    b"5;name=value;other\r\nhello\r\n"
    b'1 ; ext="quoted;still"\r\n \r\n'
    b"A\r\n0123456789\r\n"
    b"0;last\r\nX-Checksum: abc\r\nX-Other: def\r\n\r\n"
)


def parse(data: bytes, method: str = "GET", cap: int = CAP) -> ResponseParser:
    parser = ResponseParser(method, cap)
    assert parser.feed(data), "the answer should be complete"
    return parser


def feed_in_pieces(pieces: list[bytes], method: str = "GET") -> ResponseParser:
    parser = ResponseParser(method, CAP)
    done = [parser.feed(p) for p in pieces]
    assert done[-1] and not any(done[:-1]), done
    return parser


# --- framing ---------------------------------------------------------------------------


def test_content_length_answer() -> None:
    p = parse(SIMPLE)
    assert (p.status, p.reason, p.version) == (200, "OK", "1.1")
    assert p.body == b"hello world"
    assert p.headers["content-type"] == "text/html" and p.headers["ETag"] == '"v1"'
    assert p.keep_alive


@pytest.mark.parametrize("raw", [SIMPLE, CHUNKED], ids=["content-length", "chunked"])
def test_split_at_every_byte_boundary(raw: bytes) -> None:
    whole = parse(raw)
    for i in range(1, len(raw)):
        p = feed_in_pieces([raw[:i], raw[i:]])
        assert (p.status, p.body, dict(p.headers.items())) == (
            whole.status,
            whole.body,
            dict(whole.headers.items()),
        ), i
        assert p.keep_alive


@pytest.mark.parametrize("raw", [SIMPLE, CHUNKED], ids=["content-length", "chunked"])
def test_one_byte_at_a_time(raw: bytes) -> None:
    p = feed_in_pieces([raw[i : i + 1] for i in range(len(raw))])
    assert p.body == parse(raw).body


def test_chunked_with_extensions_and_trailers() -> None:
    p = parse(CHUNKED)
    assert p.body == b"hello 0123456789"
    assert "x-checksum" not in p.headers  # trailers are read past, not merged
    assert p.keep_alive


def test_chunked_waits_for_the_last_chunk_and_trailers() -> None:
    parser = ResponseParser("GET", CAP)
    assert not parser.feed(CHUNKED[:-2])  # the empty line that ends the trailers is missing
    assert not parser.feed_eof(), "a chunked answer cut short is not complete"


@pytest.mark.parametrize(
    "bad",
    [
        b"5\r\nhelloXX0\r\n\r\n",  # no CRLF after the data
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"\r\nhello\r\n0\r\n\r\n",  # no size
    ],
)
def test_malformed_chunks_are_protocol_errors(bad: bytes) -> None:
    parser = ResponseParser("GET", CAP)
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + bad)


def test_close_delimited_body_ends_with_the_connection() -> None:
    parser = ResponseParser("GET", CAP)
    assert not parser.feed(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nsome ")
    assert not parser.feed(b"bytes")
    assert parser.feed_eof()
    assert parser.body == b"some bytes" and not parser.keep_alive


def test_content_length_cut_short_is_not_complete() -> None:
    parser = ResponseParser("GET", CAP)
    assert not parser.feed(SIMPLE[:-3])
    assert not parser.feed_eof()


@pytest.mark.parametrize(
    ("method", "status"), [("HEAD", 200), ("GET", 304), ("GET", 204), ("HEAD", 404)]
)
def test_no_body_for_head_204_and_304(method: str, status: int) -> None:
    raw = f'HTTP/1.1 {status} X\r\nContent-Length: 1234\r\nETag: "e"\r\n\r\n'.encode()
    p = parse(raw, method)
    assert p.status == status and p.body == b"" and p.keep_alive
    assert p.headers["content-length"] == "1234"


def test_informational_answers_are_skipped() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + SIMPLE
    p = parse(raw)
    assert p.status == 200 and p.body == b"hello world" and "link" not in p.headers


def test_bare_lf_line_endings_are_accepted() -> None:
    p = parse(b"HTTP/1.1 404 Not Found\nContent-Length: 2\nX-A: b\n\nno")
    assert (p.status, p.reason, p.body, p.headers["x-a"]) == (404, "Not Found", b"no", "b")
    p = parse(b"HTTP/1.1 200 OK\nContent-Length: 4\n\n\r\nok")  # the body starts "\r\n"
    assert p.body == b"\r\nok"


@pytest.mark.parametrize(
    ("raw", "keep_alive"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", False),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", False),  # bytes past the end
    ],
)
def test_keep_alive_rules(raw: bytes, keep_alive: bool) -> None:
    assert parse(raw).keep_alive is keep_alive


def test_bytes_after_a_complete_answer_spoil_the_connection() -> None:
    parser = ResponseParser("GET", CAP)
    assert parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert parser.keep_alive
    assert parser.feed(b"HTTP/1.1 200 OK")
    assert not parser.keep_alive


# --- malformed answers -------------------------------------------------------------------


@pytest.mark.parametrize(
    "status_line",
    [
        b"garbage",
        b"HTTP/1.1",
        b"HTTP/1.1 abc OK",
        b"HTTP/1.1 20 OK",
        b"HTTP/1.1 2000 OK",
        b"HTTP/1.1 200OK",
        b"HTTP/2 200 OK",
        b"HTTP/1.2 200 OK",
        b"HTTPS/1.1 200 OK",
        b"ICY 200 OK",
        b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c",
    ],
)
def test_bad_status_lines_are_protocol_errors(status_line: bytes) -> None:
    parser = ResponseParser("GET", CAP)
    with pytest.raises(RemoteProtocolError):
        parser.feed(status_line + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "header",
    [
        b"No colon here",
        b"Space before : colon",
        b": no name",
        b"Bad\x01Name: x",
        b"   folded before any header",
        b'ETag: "a\rb"',  # a bare CR: would be sent back in If-None-Match
    ],
)
def test_malformed_header_lines_are_protocol_errors(header: bytes) -> None:
    parser = ResponseParser("GET", CAP)
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\n" + header + b"\r\nContent-Length: 0\r\n\r\n")


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 12abc",
        b"Content-Length: -1",
        b"Content-Length: 3\r\nContent-Length: 4",
        b"Transfer-Encoding: gzip, chunked",
        b"Transfer-Encoding: identity",
    ],
)
def test_bad_framing_headers_are_protocol_errors(framing: bytes) -> None:
    parser = ResponseParser("GET", CAP)
    with pytest.raises(RemoteProtocolError):
        parser.feed(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\nabcd")


def test_a_head_that_never_ends_is_refused() -> None:
    parser = ResponseParser("GET", CAP)
    parser.feed(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(RemoteProtocolError, match="too large"):
        for _ in range(2000):
            parser.feed(b"X-Filler: " + b"a" * 100 + b"\r\n")


def test_folded_and_repeated_headers() -> None:
    p = parse(
        b"HTTP/1.1 200 OK\r\nX-Long: first\r\n  second\r\n\tthird\r\n"
        b"Cache-Control: max-age=0\r\ncache-control: must-revalidate\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert p.headers["x-long"] == "first second third"
    assert p.headers["cache-control"] == "max-age=0, must-revalidate"
    assert p.headers.get_list("Cache-Control") == ["max-age=0", "must-revalidate"]


def test_same_content_length_twice_is_fine() -> None:
    p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")
    assert p.body == b"ok"


def test_non_ascii_header_values_are_decoded() -> None:
    p = parse("HTTP/1.1 403 Blocked\r\nX-Why: caf\u00e9\r\nContent-Length: 0\r\n\r\n".encode())
    assert p.headers["x-why"] == "caf\u00e9"


# --- the size cap ---------------------------------------------------------------------


def test_a_declared_oversize_body_is_refused_before_it_arrives() -> None:
    parser = ResponseParser("GET", 100)
    with pytest.raises(BodyTooLarge):
        parser.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n")


def test_an_oversize_chunked_body_is_refused() -> None:
    parser = ResponseParser("GET", 100)
    parser.feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    parser.feed(b"40\r\n" + b"a" * 64 + b"\r\n")
    with pytest.raises(BodyTooLarge):
        parser.feed(b"40\r\n")


def test_an_oversize_close_delimited_body_is_refused() -> None:
    parser = ResponseParser("GET", 100)
    parser.feed(b"HTTP/1.1 200 OK\r\n\r\n" + b"a" * 100)
    with pytest.raises(BodyTooLarge):
        parser.feed(b"a")


def test_a_body_at_the_cap_is_fine() -> None:
    p = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + b"a" * 100, cap=100)
    assert len(p.body) == 100


# --- content codings --------------------------------------------------------------------


def _coded(coding: str) -> Headers:
    return Headers({"Content-Encoding": coding})


def test_gzip_and_deflate_are_decoded() -> None:
    data = b"<html>" + b"page " * 1000 + b"</html>"
    assert decode_content(gzip.compress(data), _coded("gzip"), CAP) == data
    assert decode_content(gzip.compress(data), _coded("x-gzip"), CAP) == data
    assert decode_content(zlib.compress(data), _coded("deflate"), CAP) == data
    raw = zlib.compressobj(wbits=-15)
    assert decode_content(raw.compress(data) + raw.flush(), _coded("deflate"), CAP) == data
    twice = gzip.compress(zlib.compress(data))
    assert decode_content(twice, _coded("deflate, gzip"), CAP) == data


def test_identity_and_unknown_codings_are_left_alone() -> None:
    assert decode_content(b"abc", Headers(), CAP) == b"abc"
    assert decode_content(b"abc", _coded("identity"), CAP) == b"abc"
    assert decode_content(b"abc", _coded("br"), CAP) == b"abc"


def test_a_compression_bomb_is_refused() -> None:
    with pytest.raises(BodyTooLarge):
        decode_content(gzip.compress(b"\0" * 10_000), _coded("gzip"), 1000)


def test_a_corrupt_compressed_body_is_a_protocol_error() -> None:
    with pytest.raises(RemoteProtocolError):
        decode_content(b"not gzip at all", _coded("gzip"), CAP)


# --- requests -------------------------------------------------------------------------------


def test_request_target() -> None:
    assert request_target("", "") == "/"
    assert request_target("/simple/flask/", "") == "/simple/flask/"
    assert request_target("/a", "x=1&y=2") == "/a?x=1&y=2"
    assert request_target("/f/pkg-1.0+local.whl", "") == "/f/pkg-1.0+local.whl"
    assert request_target("/f/a%20b", "") == "/f/a%20b"  # escapes already there stay
    assert request_target("/f/a b\u00e9", "q=<x>") == "/f/a%20b%C3%A9?q=%3Cx%3E"


def test_encode_request_is_one_block() -> None:
    head = encode_request("GET", "/x", [("Host", "h:1"), ("Range", "bytes=0-0")])
    assert head == b"GET /x HTTP/1.1\r\nHost: h:1\r\nRange: bytes=0-0\r\n\r\n"


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\rb"])
def test_encode_request_refuses_line_breaks_in_headers(value: str) -> None:
    with pytest.raises(ValueError):
        encode_request("GET", "/", [("If-None-Match", value)])


# --- headers ----------------------------------------------------------------------------------


def test_headers_mapping_interface() -> None:
    h = Headers([("Content-Type", "text/html"), ("Vary", "Accept"), ("vary", "Encoding")])
    assert h["CONTENT-TYPE"] == "text/html" and h.get("content-type") == "text/html"
    assert "Content-Type" in h and "etag" not in h and 3 not in h
    assert h.get("etag") is None and h.get("etag", "d") == "d"
    assert h["vary"] == "Accept, Encoding"
    assert sorted(h) == ["content-type", "vary"] and len(h) == 2
    assert dict(h.items()) == {"content-type": "text/html", "vary": "Accept, Encoding"}
    assert h.get_list("VARY") == ["Accept", "Encoding"]
    assert Headers({"Cache-Control": "a, b=1"}).get_list("cache-control", True) == ["a", "b=1"]
    assert h.multi_items()[1:] == [("vary", "Accept"), ("vary", "Encoding")]
    with pytest.raises(KeyError):
        h["etag"]


def test_headers_copy_and_compare() -> None:
    h = Headers({"ETag": '"1"'})
    assert Headers(h) == h == {"etag": '"1"'}
    assert Headers() == {} and not Headers()
    assert Headers([["Age", "3"]]).get("age") == "3"  # pairs as the cache stores them (JSON)


def test_headers_repr_shows_no_values() -> None:
    assert "s3cret" not in repr(Headers({"Set-Cookie": "s3cret"}))


# --- HttpClient's guards before the wire ------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://idx.example/simple/", "http://b\u00fccher..example/"])
def test_urls_the_lean_client_cannot_ask_are_unreachable_not_tracebacks(url: str) -> None:
    async def go() -> None:
        http = HttpClient(retries=1)
        try:
            await http.request("GET", url)
        finally:
            await http.aclose()

    with pytest.raises(IndexUnreachable):
        asyncio.run(go())


@pytest.mark.parametrize(
    "url",
    [
        "http://h.example/simple/lib/",
        "https://h.example:8443/a/b.whl?x=1&y=2#sha256=abc",
        "http://user:secret@h.example/p",
        "HTTP://H.example/Up?",
        "http://h.example",
        "http://h.example?q",
        "http://h.example#frag",
        "http://h.example/a\tb\nc\rd?e\tf#g",
        "http://[::1]:8080/x y/z",
        "http://bücher.example/ü?ä",
        "  http://h.example/lead",
        "http:\t//h.example/a?b",  # a tab inside "://": the target is still the path
        "https:/\n/h.example/x",
    ],
)
def test_split_target_reads_a_url_as_urlsplit_does(url: str) -> None:
    """The scheme, Host and target parsed once per origin are what ``urlsplit`` of the
    whole URL gives, for every request of that origin (asked twice: once parsed, once
    from the origin's memo)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    host = host.encode("idna").decode("ascii")
    expected = (parts.scheme, host, request_target(parts.path, parts.query))
    assert split_target(url) == expected
    assert split_target(url) == expected
