"""Project pages are parsed as they stream in (issue 13), over real sockets.

A real server on 127.0.0.1 sends a page in two parts and holds the second back until
the client's page parser has read the files of the first: only a client that parses
what has arrived so far can release it. A client that buffered the body first would
never see the files, and the server would give up waiting (after a generous bound that
only keeps a broken client from hanging the test; nothing here measures time).
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from support.scripted_server import ScriptedServer, Seen

from indexgate.index import simple
from indexgate.index.client import IndexClient, PageResult
from indexgate.index.http import HttpClient
from indexgate.settings import IndexConfig

pytestmark = pytest.mark.integration

FIRST = 300  # files in the part the server sends before waiting
REST = 300  # files in the part it holds back
_GIVE_UP = 30.0  # seconds the server waits for the client before sending the rest anyway


def _anchors(start: int, stop: int) -> bytes:
    return b"".join(
        b'<a href="../../f/streamy-%d.0-py3-none-any.whl#sha256=%064x">streamy-%d.0</a><br/>\n'
        % (i, i, i)
        for i in range(start, stop)
    )


HEAD = b"<!DOCTYPE html><html><body>\n"
PART1 = HEAD + _anchors(0, FIRST)
PART2 = _anchors(FIRST, FIRST + REST) + b"</body></html>\n"


class Gate:
    """The server's wait for the client's parser (a threading event: the server runs on
    its own loop in another thread)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.files_when_released: int | None = None
        self.released_by_client: bool | None = None
        self.factory_calls = 0


def _held_back_page(gate: Gate, *, compress: bool) -> Any:
    """A chunked answer: PART1, then (once the client read its files) PART2. With
    ``compress``, the body is one gzip stream, flushed after PART1 so its files can be
    decoded before the rest exists."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n"
        if compress:
            head += b"Content-Encoding: gzip\r\n"
            import zlib

            gz = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS | 16)
            first = gz.compress(PART1) + gz.flush(zlib.Z_SYNC_FLUSH)
            second = gz.compress(PART2) + gz.flush()
        else:
            first, second = PART1, PART2
        writer.write(head + b"\r\n" + b"%x\r\n%s\r\n" % (len(first), first))
        await writer.drain()
        gate.released_by_client = await asyncio.to_thread(gate.event.wait, _GIVE_UP)
        writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(second), second))
        await writer.drain()
        return False

    return handler


@pytest.fixture
def watched(monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    """Every page parser the index client makes opens the gate once it holds the files
    of the first part (read from the parser's own list of kept files)."""
    gate = Gate()

    class Watching(simple.PageParser):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            gate.factory_calls += 1

        def feed(self, data: bytes | memoryview) -> None:
            super().feed(data)
            kept = len(self._files.files)
            if kept >= FIRST and not gate.event.is_set():
                gate.files_when_released = kept
                gate.event.set()

    monkeypatch.setattr(simple, "PageParser", Watching)
    yield gate
    gate.event.set()


def _page(url: str) -> PageResult:
    index = IndexConfig(name="slow", url=url + "simple/")

    async def main() -> PageResult:
        http = HttpClient(backoff=0.0)
        try:
            return await IndexClient(http, (index,)).project_page(index, "streamy")
        finally:
            await http.aclose()

    return asyncio.run(main())


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_the_parser_reads_the_first_files_before_the_server_sends_the_rest(
    watched: Gate, compress: bool
) -> None:
    with ScriptedServer() as server:
        server.routes["/simple/streamy/"] = _held_back_page(watched, compress=compress)
        page = _page(server.url)
    assert watched.released_by_client is True, "the server had to give up waiting"
    # The parser held exactly the first part's files while the rest was still unsent.
    assert watched.files_when_released == FIRST
    assert page.status == 200 and page.refused is None
    assert [f.filename for f in page.files] == [
        f"streamy-{i}.0-py3-none-any.whl" for i in range(FIRST + REST)
    ]
    assert page.files[0].url.endswith("/f/streamy-0.0-py3-none-any.whl")
    assert watched.factory_calls == 1


def test_gzip_page_whole_matches_the_streamed_one() -> None:
    """The same page sent whole and gzip-compressed reads the same (the decoder's
    buffered and streamed paths agree)."""
    body = PART1 + PART2

    async def whole(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        data = gzip.compress(body)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
        )
        return True

    with ScriptedServer() as server:
        server.routes["/simple/streamy/"] = whole
        page = _page(server.url)
    assert len(page.files) == FIRST + REST


def test_a_sink_that_raises_ends_the_exchange_with_its_error() -> None:
    """A sink must not raise; if one does (a bug), the request fails at once with that
    error, the connection is dropped, and nothing is retried or left hanging."""

    class Broken:
        def feed(self, data: bytes) -> None:
            raise RuntimeError("a bug in the sink")

        def close(self) -> None:
            return None

    async def main() -> None:
        http = HttpClient(backoff=0.0, timeout=30.0)
        try:
            await http.request("GET", url, sink=lambda u, s, h: Broken())
        finally:
            await http.aclose()

    with ScriptedServer() as server:
        server.routes["/simple/streamy/"] = _whole_page
        url = server.url + "simple/streamy/"
        with pytest.raises(RuntimeError, match="a bug in the sink"):
            asyncio.run(main())
        assert server.hits["/simple/streamy/"] == 1


async def _whole_page(seen: Seen, writer: asyncio.StreamWriter) -> bool:
    body = PART1 + PART2
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    return True
