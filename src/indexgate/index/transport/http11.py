"""The HTTP/1.1 transport: a lean client on asyncio protocols, what ``HttpClient`` needs
and nothing more (this was ``wire.py``).

Why not httpx here: per request, httpx and httpcore build request and URL models, run an
auth flow and scan every pooled connection with a ``poll()``; that cost ~0.7-1 ms of CPU
per request (a third of a warm run) and grew with the number of connections, and
importing them cost ~0.1 s per run. An index client only sends GET and HEAD, so this does:

- one ``asyncio.Protocol`` per connection, parsing into a bytes buffer (no stream reader;
  the parser is ``http11_parser``);
- a pool per origin (``Pool``, the origin's ``Transport``): keep-alive, idle connections
  reused last-in first-out, at most N connections; a connection the server closed while
  idle is noticed by its protocol (``connection_lost``/EOF) and never reused; a reused
  connection that fails before any byte of the answer arrived is replaced once (GET and
  HEAD are idempotent);
- bodies framed by ``Content-Length``, ``chunked`` or the end of the connection, with a
  size cap; ``gzip``/``deflate`` content decoded as httpx did; a body the caller's
  ``SinkFactory`` asks for is handed to its ``Sink`` piece by piece as it arrives
  (de-chunked, decoded) and never buffered;
- TLS offering ``h2`` and ``http/1.1`` by ALPN: when the server picks ``h2`` the pool
  raises ``Http2Selected`` and the router hands that origin to ``http2`` instead.

Every failure is a ``TransportError`` (``base``; the class names are httpx's:
``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``ReadError``,
``RemoteProtocolError``) that the caller may retry, except ``BodyTooLarge``,
``DeadlineReached`` and the ``Unrecoverable`` ones: a certificate that does not verify, a
TLS handshake the server refused, a proxy that refused its credentials (407). The
idle-read timeout restarts with every byte; a request's total deadline
(``Pool.exchange(within=...)``) does not, so a server that drips one byte a second still
meets it. Proxies: ``tunnel``.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, TypeVar

from indexgate.index.transport.base import (
    DeadlineReached,
    Http2Selected,
    RawResponse,
    ReadError,
    ReadTimeout,
    Request,
    SinkFactory,
    TLSError,
    TransportError,
    Unrecoverable,
    connect_failure,
    eyeballs_delay,
    lost_answer,
    tls_alert,
)
from indexgate.index.transport.http11_parser import ResponseParser, decode_content, encode_head

if TYPE_CHECKING:
    from indexgate.index.network import Proxy

T = TypeVar("T")


# -- connections and the pool ---------------------------------------------------------------


_READ_SIZE = 256 * 1024  # what asyncio reads at most per call, as for a plain Protocol


class _Connection(asyncio.BufferedProtocol):
    """One keep-alive connection; the parser of the answer in flight gets its bytes.

    Buffered: each read lands in its pool's read buffer, and only the bytes read are
    copied out, before the read's callback returns (so the pool's connections, all on
    one event loop, share that buffer). A plain ``Protocol`` gets a new ``bytes`` per
    read, for which asyncio (and its TLS layer) allocate their whole read size, 256 KiB:
    with glibc that was an ``mmap``, an ``mremap`` and a ``munmap`` per small answer,
    and page faults on fresh pages.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, buffer: memoryview) -> None:
        self.loop = loop
        self._buffer = buffer
        self.transport: asyncio.Transport | None = None
        self.dead = False  # closed, broken or confused: never reuse
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.last_read = 0.0
        self.error: Exception | None = None  # a TransportError, or what a sink raised
        self.refusal: TLSError | None = None  # a TLS alert that ended the session while idle
        self._timer: asyncio.TimerHandle | None = None  # kept between exchanges
        self._timeout = 0.0  # the exchange's idle-read timeout
        self._deadline: float | None = None  # loop time: the exchange's total deadline
        self.early: list[bytes] | None = None  # bytes before ALPN was read (TLS only)

    # asyncio.BufferedProtocol

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self._buffer[:nbytes].tobytes())

    # asyncio.BaseProtocol, and what a read brings

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # idle: the server has nothing to say but goodbye (or junk)
            if self.early is not None:  # just connected: maybe an HTTP/2 preface (h2)
                self.early.append(data)
                return
            self.close()
            return
        self.last_read = self.loop.time()
        try:
            done = parser.feed(data)
        except Exception as exc:  # a TransportError; or a sink that broke its promise
            self._fail(exc)
            return
        if done:
            self._wake()

    def eof_received(self) -> bool:
        self.dead = True
        self._end_of_stream(None)
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.dead = True
        self._end_of_stream(exc)  # the exchange in flight, if any, is over
        self._stop_timer()

    # the exchange

    async def exchange(
        self, head: bytes, parser: ResponseParser, timeout: float, deadline: float | None = None
    ) -> None:
        """Send ``head``; return when ``parser`` holds the whole answer: ``ReadTimeout``
        after ``timeout`` seconds without a byte, ``DeadlineReached`` at ``deadline``
        (loop time) whatever came.

        One timer serves both, and it outlives the exchange: the next exchange on this
        connection keeps it when it is due no later than that exchange needs (when it
        fires early, ``_check_timeout`` sets it again for the rest of the period). A
        timer made and cancelled per request cost a handle and two heap operations of the
        loop's timer queue each time; now a connection makes about one per ``timeout``."""
        if self.dead or self.transport is None:  # closed by the server since we got it
            raise self.refusal or ReadError("connection closed before the request was sent")
        self.parser = parser
        self.error = None
        self.waiter = waiter = self.loop.create_future()
        self.last_read = now = self.loop.time()
        self._deadline = deadline
        self._timeout = timeout
        due = now + (timeout if deadline is None else min(timeout, deadline - now))
        timer = self._timer
        if timer is None or timer.when() > due:
            if timer is not None:
                timer.cancel()
            self._timer = self.loop.call_at(due, self._check_timeout)
        try:
            self.transport.write(head)
            await waiter
        finally:
            self.parser = None
            self.waiter = None
        if self.error is not None:
            raise self.error

    def _check_timeout(self) -> None:
        self._timer = None
        waiter = self.waiter
        if waiter is None or waiter.done():  # idle: the next exchange sets a new one
            return
        now = self.loop.time()
        deadline = self._deadline
        if deadline is not None and now >= deadline:
            self._fail(DeadlineReached("the deadline passed before the answer was complete"))
            return
        timeout = self._timeout
        idle = now - self.last_read
        if idle < timeout:  # bytes came since: wait for the rest of the period
            delay = timeout - idle if deadline is None else min(timeout - idle, deadline - now)
            self._timer = self.loop.call_later(delay, self._check_timeout)
            return
        self._fail(ReadTimeout(f"no data for {timeout:g} s"))

    def _end_of_stream(self, exc: Exception | None) -> None:
        parser = self.parser
        if parser is None or parser.done:
            self.refusal = tls_alert(exc) or self.refusal
            return
        try:
            done = parser.feed_eof()
        except Exception as error:
            self._fail(error)
            return
        if done:
            self._wake()
        else:  # a TLS alert on the first read: a refused client certificate (TLS 1.3)
            self._fail(lost_answer(exc))

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, error: Exception) -> None:
        if self.error is None:  # the first cause; closing may report a second one
            self.error = error
        self.abort()  # broken: no TLS goodbye to wait for
        self._wake()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        self.dead = True
        self._stop_timer()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        self.dead = True
        self._stop_timer()
        if self.transport is not None:
            self.transport.abort()


class Pool:
    """Keep-alive HTTP/1.1 connections to one origin, at most ``max_connections`` of them:
    the HTTP/1.1 ``Transport`` of that origin."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        ssl_context: Callable[[], ssl.SSLContext] | None,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        max_body: int,
        proxy: Proxy | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self._eyeballs = eyeballs_delay(host)
        self.proxy = proxy  # http: absolute-form requests to it; https: a CONNECT tunnel
        self._ssl_context = ssl_context
        self._limit = asyncio.Semaphore(max(1, max_connections))
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_body = max_body
        self._idle: list[_Connection] = []  # last in, first out
        self._open: set[_Connection] = set()
        self._first = asyncio.Lock()
        self._settled = False  # a connection was made: the protocol is known
        self.http2 = False  # the TLS server picked h2 (ALPN)
        self.refused: Unrecoverable | None = None  # a connect failure retrying cannot mend
        self.connects = 0  # connections opened (tests and diagnostics)
        self.replaced = 0  # reused connections found closed as the request went out
        self._buffer: memoryview | None = None  # what its connections read into (_Connection)

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int | None = None,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        """The ``Transport`` seam: ``request`` (GET or HEAD) on one of this origin's
        connections.

        ``max_body`` lowers the pool's cap on the answer for this request; ``within`` is
        the seconds left of the caller's total deadline: waiting for a connection slot,
        connecting and the whole answer must fit, else ``DeadlineReached``. ``sink``: see
        ``ResponseParser`` (the body it wants is fed to it as it arrives). Through a
        plain-http proxy, a 407 is the proxy refusing its credentials (never retried).
        """
        proxy = self.proxy if self._ssl_context is None else None
        head = encode_head(request, proxy)
        method = request.method
        cap = self._max_body if max_body is None else max_body
        deadline = None if within is None else asyncio.get_running_loop().time() + within
        if deadline is not None and self._limit.locked():  # a wait: bound it
            await _bounded(self._limit.acquire(), deadline)
        else:
            await self._limit.acquire()
        try:
            conn = self._checkout()
            reused = conn is not None
            if conn is None:
                conn = await self._connect(deadline)
            parser = ResponseParser(method, cap, sink)
            try:
                try:
                    await conn.exchange(head, parser, self._read_timeout, deadline)
                except ReadError:
                    if not reused or parser.received:
                        raise
                    # The server closed the idle connection as the request went out.
                    self._drop(conn)
                    self.replaced += 1
                    conn = await self._connect(deadline)
                    parser = ResponseParser(method, cap, sink)
                    await conn.exchange(head, parser, self._read_timeout, deadline)
            except BaseException as exc:  # failed or cancelled mid-exchange: unusable
                self._drop(conn)
                if isinstance(exc, Unrecoverable):  # a TLS 1.3 alert after the handshake
                    self.refused = exc
                raise
            if parser.keep_alive and not conn.dead:
                self._idle.append(conn)
            else:
                self._drop(conn)
        finally:
            self._limit.release()
        content = parser.body
        if content and "content-encoding" in parser.headers:
            content = decode_content(content, parser.headers, cap)
        if proxy is not None and parser.status == 407:  # only a proxy answers 407
            from indexgate.index.transport.tunnel import proxy_auth_refused

            raise proxy_auth_refused(proxy, f"407 {parser.reason}")
        return RawResponse(parser.status, parser.reason, parser.headers, content, parser.sink)

    def _checkout(self) -> _Connection | None:
        idle = self._idle
        while idle:
            conn = idle.pop()
            if not conn.dead:
                return conn
            self._drop(conn)
        return None

    def _drop(self, conn: _Connection) -> None:
        conn.close()
        self._open.discard(conn)

    async def _connect(self, deadline: float | None) -> _Connection:
        """A new connection, ready by ``deadline`` (loop time; None: no bound) or
        ``DeadlineReached``; over TLS the first one is opened alone, so that a server that
        picks HTTP/2 costs one handshake, not one per request waiting."""
        if self.refused is not None:
            raise self.refused
        if self._ssl_context is None or self._settled:
            return await self._open_connection(deadline)
        await _bounded(self._first.acquire(), deadline)
        try:
            if self.refused is not None:  # those waiting need not shake hands to learn it
                raise self.refused
            if self.http2:
                raise Http2Selected(f"{self.host}:{self.port}")
            if not self._settled:
                conn = await self._open_connection(deadline)
                self._settled = True
                return conn
        finally:
            self._first.release()
        return await self._open_connection(deadline)

    async def _open_connection(self, deadline: float | None) -> _Connection:
        """One timer bounds the connect: the connect timeout, or the caller's ``deadline``
        when that comes first (then ``DeadlineReached``, as ``_bounded`` says it). Two
        nested timers cost a handle, a heap push and a cancel more per connection."""
        loop = asyncio.get_running_loop()
        if self._buffer is None:
            self._buffer = memoryview(bytearray(_READ_SIZE))
        conn = _Connection(loop, self._buffer)
        at = loop.time() + self._connect_timeout
        caller_first = deadline is not None and deadline <= at
        timer = asyncio.timeout_at(at if deadline is None else min(at, deadline))
        context = self._ssl_context() if self._ssl_context is not None else None
        if context is not None:
            conn.early = []
        proxy = self.proxy
        raw: list[asyncio.BaseTransport] = []  # the proxy connection under a tunnel
        try:
            async with timer:
                if proxy is None:
                    await loop.create_connection(
                        lambda: conn,
                        self.host,
                        self.port,
                        ssl=context,
                        server_hostname=self.host if context is not None else None,
                        happy_eyeballs_delay=self._eyeballs,
                    )
                else:
                    from indexgate.index.transport.tunnel import through_proxy  # proxies only

                    tls = await through_proxy(proxy, self.host, self.port, loop, conn, context, raw)
                    if tls is not None:
                        conn.transport = tls
        except BaseException as exc:
            conn.abort()
            for transport in raw:
                transport.abort()  # type: ignore[attr-defined]
            if caller_first and isinstance(exc, TimeoutError) and timer.expired():
                raise _deadline_reached() from None
            if isinstance(exc, TransportError | Http2Selected) or not isinstance(exc, Exception):
                if isinstance(exc, Unrecoverable):
                    self.refused = exc
                raise
            error = connect_failure(exc, f"{self.host}:{self.port}", proxy)
            if isinstance(error, Unrecoverable):
                self.refused = error
            raise error from exc
        if context is not None and conn.transport is not None:
            ssl_object = conn.transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                # Handed over as it is, with what the server already sent on it.
                self.http2 = True
                early, conn.early = b"".join(conn.early or ()), None
                raise Http2Selected(
                    f"{self.host}:{self.port}", transport=conn.transport, early=early
                )
            # TLS 1.3: a server refusing the client certificate says so right after the
            # handshake; let that alert in before a request is written into a closed
            # session (a reset then hides the reason).
            await asyncio.sleep(0)
            early, conn.early = conn.early, None
            if early:  # an HTTP/1.1 server has nothing to say before it is asked
                conn.close()
            if conn.refusal is not None:
                conn.abort()
                self.refused = conn.refusal
                raise conn.refusal
        self.connects += 1
        self._open.add(conn)
        return conn

    @property
    def idle_count(self) -> int:
        return sum(1 for c in self._idle if not c.dead)

    async def aclose(self) -> None:
        """Close every connection (a TLS close_notify is not waited for)."""
        conns = list(self._open)
        self._open.clear()
        self._idle.clear()
        for conn in conns:
            conn.close()
        if conns:
            await asyncio.sleep(0)
            for conn in conns:
                conn.abort()


async def _bounded(work: Awaitable[T], deadline: float | None) -> T:
    """``work``, or ``DeadlineReached`` at ``deadline`` (loop time; None: no bound)."""
    if deadline is None:
        return await work
    try:
        async with asyncio.timeout_at(deadline):
            return await work
    except TimeoutError:
        raise _deadline_reached() from None


def _deadline_reached() -> DeadlineReached:
    return DeadlineReached("the deadline passed before a connection was ready")
