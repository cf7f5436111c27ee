"""The lean HTTP/2 client (``indexgate.index.transport.http2``) against a real h2 server on
127.0.0.1 (TLS, ALPN h2, the ``h2`` package as the server's state machine): requests
multiplexed on one connection, bodies larger than HTTP/2's default windows, streamed to a
sink and decoded, the cap, HEAD, a stalled stream, and a server that ends the connection.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Iterator
from typing import Any

import pytest
from support.tls import LoopServer, PrivateCa

from indexgate.index.transport.base import (
    BodyTooLarge,
    RawResponse,
    ReadTimeout,
    Request,
)
from indexgate.index.transport.http2 import Http2Transport

CAP = 64 << 20


def _body(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


class H2Server(LoopServer):
    """An HTTP/2 server: ``/bytes/N`` answers N bytes, ``/gzip/N`` the same gzipped,
    ``/stall`` answers nothing, ``/bye`` answers then ends the connection (GOAWAY)."""

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self.headers: list[dict[bytes, bytes]] = []

    def _protocol(self) -> asyncio.Protocol:
        import h2.config
        import h2.connection
        import h2.events

        server = self
        self.connections += 1

        class Protocol(asyncio.Protocol):
            def connection_made(self, transport: Any) -> None:
                self.transport = transport
                config = h2.config.H2Configuration(client_side=False, header_encoding=None)
                self.conn = h2.connection.H2Connection(config=config)
                self.conn.initiate_connection()
                self.pending: dict[int, bytes] = {}  # what is left to send, per stream
                self.transport.write(self.conn.data_to_send())

            def data_received(self, data: bytes) -> None:
                for event in self.conn.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        self.answer(event.stream_id, dict(event.headers))
                    elif isinstance(event, h2.events.WindowUpdated):
                        for sid in list(self.pending):
                            self.send(sid)
                self.transport.write(self.conn.data_to_send())

            def answer(self, sid: int, headers: dict[bytes, bytes]) -> None:
                path = headers[b":path"].decode()
                server.paths.append(path)
                server.headers.append(headers)
                if path == "/stall":
                    return
                out = [(":status", "200")]
                body = b""
                if path.startswith("/bytes/"):
                    body = _body(int(path.rsplit("/", 1)[1]))
                elif path.startswith("/gzip/"):
                    body = gzip.compress(_body(int(path.rsplit("/", 1)[1])))
                    out.append(("content-encoding", "gzip"))
                else:
                    body = path.encode()
                if headers[b":method"] == b"HEAD":
                    out.append(("content-length", str(len(body))))
                    self.conn.send_headers(sid, out, end_stream=True)
                    return
                self.conn.send_headers(sid, out)
                self.pending[sid] = body
                self.send(sid)
                if path == "/bye":
                    self.conn.close_connection(last_stream_id=sid)
                    self.transport.write(self.conn.data_to_send())
                    self.transport.close()

            def send(self, sid: int) -> None:
                body = self.pending[sid]
                while True:
                    room = min(
                        self.conn.local_flow_control_window(sid),
                        self.conn.max_outbound_frame_size,
                    )
                    if room <= 0 and body:
                        self.pending[sid] = body
                        return
                    chunk, body = body[:room], body[room:]
                    self.conn.send_data(sid, chunk, end_stream=not body)
                    if not body:
                        del self.pending[sid]
                        return

        return Protocol()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    return PrivateCa(tmp_path_factory.mktemp("h2-ca"))


@pytest.fixture
def server(ca: PrivateCa) -> Iterator[H2Server]:
    with H2Server(ca.server_context(alpn=["h2"])) as s:
        yield s


def _transport(ca: PrivateCa, server: H2Server, read_timeout: float = 10.0) -> Http2Transport:
    import ssl

    context = ssl.create_default_context(cafile=str(ca.cert))
    context.set_alpn_protocols(["h2"])
    return Http2Transport(
        host="127.0.0.1",
        port=server.port,
        ssl_context=context,
        proxy=None,
        max_connections=8,
        connect_timeout=5.0,
        read_timeout=read_timeout,
    )


def _run(h2: Http2Transport, go: Any) -> Any:
    async def main() -> Any:
        try:
            return await go(h2)
        finally:
            await h2.aclose()

    return asyncio.run(main())


def _url(server: H2Server, path: str) -> str:
    return f"https://127.0.0.1:{server.port}{path}"


class _Collect:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def feed(self, data: bytes) -> None:
        self.parts.append(data)


def test_many_requests_share_one_connection_and_bodies_pass_the_default_windows(
    ca: PrivateCa, server: H2Server
) -> None:
    """Twenty requests at once (more than ``max_connections`` streams: they wait for room)
    on one connection; a 3 MB body, far past HTTP/2's default 64 KiB windows, arrives
    whole."""
    h2 = _transport(ca, server)
    sizes = [3_000_000, *range(1000, 20000, 1000)]

    async def go(t: Http2Transport) -> list[RawResponse]:
        requests = [Request("GET", _url(server, f"/bytes/{n}")) for n in sizes]
        return await asyncio.gather(*(t.exchange(r, max_body=CAP, within=30) for r in requests))

    answers = _run(h2, go)
    assert [a.content for a in answers] == [_body(n) for n in sizes]
    assert all(a.status == 200 and a.reason == "OK" for a in answers)
    assert server.connections == 1 and h2.connects == 1


def test_a_sink_gets_the_decoded_body_piece_by_piece(ca: PrivateCa, server: H2Server) -> None:
    h2 = _transport(ca, server)
    sink = _Collect()

    async def go(t: Http2Transport) -> RawResponse:
        request = Request("GET", _url(server, "/gzip/500000"), (("Accept-Encoding", "gzip"),))
        return await t.exchange(request, max_body=CAP, within=10, sink=lambda s, h: sink)

    answer = _run(h2, go)
    assert answer.sink is sink and answer.content == b""
    assert b"".join(sink.parts) == _body(500000)
    assert answer.headers["content-encoding"] == "gzip"


def test_a_buffered_gzip_body_is_decoded(ca: PrivateCa, server: H2Server) -> None:
    h2 = _transport(ca, server)

    async def go(t: Http2Transport) -> RawResponse:
        return await t.exchange(Request("GET", _url(server, "/gzip/70000")), max_body=CAP)

    assert _run(h2, go).content == _body(70000)


def test_a_body_over_the_cap_fails_that_stream_only(ca: PrivateCa, server: H2Server) -> None:
    h2 = _transport(ca, server)

    async def go(t: Http2Transport) -> tuple[Any, RawResponse]:
        big = t.exchange(Request("GET", _url(server, "/bytes/200000")), max_body=100_000)
        small = t.exchange(Request("GET", _url(server, "/bytes/10")), max_body=100_000)
        return await asyncio.gather(big, small, return_exceptions=True)

    big, small = _run(h2, go)
    assert isinstance(big, BodyTooLarge)
    assert small.content == _body(10)
    assert h2.connects == 1  # the connection went on


def test_head_has_no_body_and_headers_go_out_lower_case_with_the_authority(
    ca: PrivateCa, server: H2Server
) -> None:
    h2 = _transport(ca, server)

    async def go(t: Http2Transport) -> RawResponse:
        request = Request("HEAD", _url(server, "/bytes/99"), (("Range", "bytes=0-1"),))
        return await t.exchange(request, max_body=CAP)

    answer = _run(h2, go)
    assert (answer.status, answer.content, answer.headers["content-length"]) == (200, b"", "99")
    (headers,) = server.headers
    assert headers[b":authority"] == f"127.0.0.1:{server.port}".encode()
    assert headers[b"range"] == b"bytes=0-1"


def test_a_stalled_stream_times_out_and_the_connection_serves_the_next(
    ca: PrivateCa, server: H2Server
) -> None:
    h2 = _transport(ca, server, read_timeout=0.3)

    async def go(t: Http2Transport) -> RawResponse:
        with pytest.raises(ReadTimeout):
            await t.exchange(Request("GET", _url(server, "/stall")), max_body=CAP)
        return await t.exchange(Request("GET", _url(server, "/after")), max_body=CAP)

    assert _run(h2, go).content == b"/after"
    assert server.connections == 1


def test_a_connection_the_server_ended_is_replaced(ca: PrivateCa, server: H2Server) -> None:
    h2 = _transport(ca, server)

    async def go(t: Http2Transport) -> list[bytes]:
        first = await t.exchange(Request("GET", _url(server, "/bye")), max_body=CAP)
        await asyncio.sleep(0.1)  # the GOAWAY and the close arrive
        second = await t.exchange(Request("GET", _url(server, "/again")), max_body=CAP)
        return [first.content, second.content]

    assert _run(h2, go) == [b"/bye", b"/again"]
    assert server.connections == 2 and h2.connects == 2


def test_a_data_frame_is_not_copied_to_be_described(ca: PrivateCa, server: H2Server) -> None:
    """h2 describes every frame it receives (for a trace log nobody reads): a DATA frame's
    description gives its size, without copying and hex-dumping its payload."""
    from hyperframe.frame import DataFrame

    h2 = _transport(ca, server)
    _run(h2, lambda t: t.exchange(Request("GET", _url(server, "/bytes/10")), max_body=CAP))
    frame = DataFrame(1, data=b"x" * 70000)
    assert repr(frame) == "DataFrame(stream_id=1, flags=[]): <70000 bytes>"
