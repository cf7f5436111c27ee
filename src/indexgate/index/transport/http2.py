"""The HTTP/2 transport: a lean client on one asyncio protocol per origin, with the ``h2``
package's state machine (frames, HPACK, flow control) and nothing else.

Why not httpx here (it was the HTTP/2 path until issue 11): per DATA frame, httpcore takes
and releases anyio locks, opens cancel scopes and asks anyio for its backend, which cost
a third of a real run's CPU (a project page of 3 MB is ~200 frames; a run reads tens of
megabytes), and importing httpx, httpcore and anyio cost ~55 ms per run. This does what
``HttpClient`` needs, as ``http11`` does for HTTP/1.1:

- one connection per origin, every request a stream on it (at most ``max_connections``
  streams at once, and never more than the server allows); a connection that broke or
  that the server ended (GOAWAY) is replaced by the next request;
- large receive windows (16 MiB per stream and for the connection), so the server is not
  held back and few WINDOW_UPDATE frames are sent;
- bodies decoded (``gzip``/``deflate``) and capped as they arrive, handed piece by piece
  to the caller's ``Sink`` when its ``SinkFactory`` wants them;
- the idle-read timeout and the total deadline of ``http11`` (a stream that gets no byte
  for ``read_timeout`` seconds fails with ``ReadTimeout``; ``within`` bounds the whole
  exchange).

Failures are this package's ``TransportError``s (``base``), so retries and messages read
the same on both transports. Tests that need answers no real h2 server gives on demand put
an httpx-backed transport at the same ``Transport`` seam (``tests/support``).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING

from indexgate.index.transport.base import (
    DeadlineReached,
    InvalidURL,
    RawResponse,
    ReadTimeout,
    Request,
    SinkFactory,
    TransportError,
    Unrecoverable,
    connect_failure,
    eyeballs_delay,
)
from indexgate.index.transport.http2_connection import Http2Connection, Http2Stream
from indexgate.index.transport.http11_parser import decode_content
from indexgate.index.transport.tunnel import through_proxy

if TYPE_CHECKING:
    from indexgate.index.network import Proxy

log = logging.getLogger("indexgate.http")


class Http2Transport:
    """HTTP/2 to one origin: every request a stream of one connection."""

    def __init__(
        self,
        *,
        host: str,
        ssl_context: ssl.SSLContext | None,
        proxy: Proxy | None,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        port: int = 443,
    ) -> None:
        self.host = host
        self.port = port
        self.proxy = proxy
        self._ssl_context = ssl_context
        self._limit = max(1, max_connections)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._conn: Http2Connection | None = None
        self._connecting: asyncio.Future[Http2Connection] | None = None
        self.refused: Unrecoverable | None = None
        self.connects = 0  # connections opened or adopted (tests and diagnostics)

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        """The ``Transport`` seam: ``request`` as a stream of this origin's connection,
        the whole exchange within ``within`` seconds."""
        try:
            async with asyncio.timeout(within):
                return await self._exchange(request, max_body, sink)
        except TimeoutError:
            raise DeadlineReached("the deadline passed before the answer was complete") from None

    async def _exchange(
        self, request: Request, max_body: int, sink: SinkFactory | None
    ) -> RawResponse:
        conn = await self._connection()
        while not conn.has_room(self._limit):
            conn.room.clear()
            await conn.room.wait()
            conn = await self._connection()
        stream = conn.open(request, max_body, sink)
        try:
            await self._wait(conn, stream)
        finally:
            if not stream.done:
                conn.cancel(stream)
        if stream.error is not None:
            if isinstance(stream.error, Unrecoverable):
                self.refused = stream.error
            raise stream.error
        content = b"".join(stream.body)
        if content and stream.decoder is None and "content-encoding" in stream.headers:
            content = decode_content(content, stream.headers, max_body)
        return RawResponse(stream.status, stream.reason, stream.headers, content, stream.sink)

    async def _wait(self, conn: Http2Connection, stream: Http2Stream) -> None:
        """Until the stream is complete; ``ReadTimeout`` after ``read_timeout`` seconds
        without a byte of it."""
        timeout = self._read_timeout
        loop = conn.loop
        timer: asyncio.TimerHandle | None = None

        def check() -> None:
            nonlocal timer
            idle = loop.time() - stream.last_read
            if idle >= timeout:
                stream.fail(ReadTimeout(f"no data for {timeout:g} s"))
            else:  # bytes came since: wait for the rest of the period
                timer = loop.call_later(timeout - idle, check)

        timer = loop.call_later(timeout, check)
        try:
            await stream.waiter
        finally:
            timer.cancel()

    async def _connection(self) -> Http2Connection:
        conn = self._conn
        if conn is not None and not conn.dead:
            return conn
        if self.refused is not None:
            raise self.refused
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
        connecting = self._connecting
        try:
            return await asyncio.shield(connecting)
        finally:
            if connecting.done() and self._connecting is connecting:
                self._connecting = None

    async def _connect(self) -> Http2Connection:
        loop = asyncio.get_running_loop()
        authority = self._authority()
        host = self.host if self.host.isascii() else self.host.encode("idna").decode("ascii")
        conn = Http2Connection(loop, authority)
        raw: list[asyncio.BaseTransport] = []
        try:
            async with asyncio.timeout(self._connect_timeout):
                if self.proxy is None:
                    await loop.create_connection(
                        lambda: conn,
                        host,
                        self.port,
                        ssl=self._ssl_context,
                        server_hostname=host if self._ssl_context is not None else None,
                        happy_eyeballs_delay=eyeballs_delay(host),
                    )
                else:
                    tls = await through_proxy(
                        self.proxy, host, self.port, loop, conn, self._ssl_context, raw
                    )
                    if tls is not None:
                        conn.transport = tls
        except BaseException as exc:
            if conn.transport is not None:
                conn.transport.abort()
            for transport in raw:
                transport.abort()  # type: ignore[attr-defined]
            if isinstance(exc, TransportError) or not isinstance(exc, Exception):
                if isinstance(exc, Unrecoverable):
                    self.refused = exc
                raise
            error = connect_failure(exc, f"{self.host}:{self.port}", self.proxy)
            if isinstance(error, Unrecoverable):
                self.refused = error
            raise error from exc
        conn.start()
        self.connects += 1
        self._conn = conn
        log.debug("HTTP/2 connection to %s:%s", self.host, self.port)
        return conn

    def adopt(self, transport: asyncio.Transport, early: bytes = b"") -> None:
        """Take over a TLS connection on which the server picked h2 (the HTTP/1.1 pool's
        first one, ``Http2Selected``), with the bytes it already sent: no second
        handshake. A transport that comes when a live connection is already here is
        closed."""
        if self._conn is not None and not self._conn.dead:
            transport.close()
            return
        conn = Http2Connection(asyncio.get_running_loop(), self._authority())
        transport.set_protocol(conn)
        conn.transport = transport
        conn.start()
        if early:
            conn.data_received(early)
        self.connects += 1
        self._conn = conn

    def _authority(self) -> str:
        host = self.host
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise InvalidURL("invalid host name") from None
        if ":" in host:
            host = f"[{host}]"
        return host if self.port == 443 else f"{host}:{self.port}"

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
