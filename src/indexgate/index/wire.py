"""A lean HTTP/1.1 client on asyncio protocols: what ``HttpClient`` needs, nothing more.

Why not httpx here: per request, httpx and httpcore build request and URL models, run an
auth flow and scan every pooled connection with a ``poll()``; that cost ~0.7-1 ms of CPU
per request (a third of a warm run) and grew with the number of connections, and
importing them cost ~0.1 s per run. An index client only sends GET and HEAD, so this does:

- one ``asyncio.Protocol`` per connection, parsing into a bytes buffer (no stream reader);
- a pool per origin: keep-alive, idle connections reused last-in first-out, at most N
  connections; a connection the server closed while idle is noticed by its protocol
  (``connection_lost``/EOF) and never reused; a reused connection that fails before any
  byte of the answer arrived is replaced once (GET and HEAD are idempotent);
- bodies framed by ``Content-Length``, ``chunked`` or the end of the connection, with a
  size cap; ``gzip``/``deflate`` content decoded as httpx did;
- TLS offering ``h2`` and ``http/1.1`` by ALPN: when the server picks ``h2`` the pool
  raises ``Http2Selected`` and the caller uses an HTTP/2 client for that origin instead.

Every failure is a ``TransportError`` (the class names are httpx's: ``ConnectError``,
``ConnectTimeout``, ``ReadTimeout``, ``ReadError``, ``RemoteProtocolError``) that the
caller may retry, except ``BodyTooLarge``, ``DeadlineReached`` and the ``Unrecoverable``
ones: a certificate that does not verify, a TLS handshake the server refused, a proxy that
refused its credentials (407). The idle-read timeout restarts with every byte; a request's
total deadline (``Pool.request(within=...)``) does not, so a server that drips one byte a
second still meets it.

Through a proxy (``indexgate.index.network``), an http origin's requests go to the proxy
in absolute form, and an https origin gets a ``CONNECT`` tunnel with TLS to the origin
inside it, so the proxy sees neither the requests nor the index's credentials.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import zlib
from collections.abc import Awaitable, Callable, ItemsView, Iterable, Iterator, KeysView, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, overload

if TYPE_CHECKING:
    from indexgate.index.network import Proxy

T = TypeVar("T")

_HEAD_LIMIT = 64 * 1024  # status line and headers of one answer
_LINE_LIMIT = 8 * 1024  # one chunk-size or trailer line
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_TARGET = re.compile(r"[^\x21-\x7e]|[\"<>\\^`{|}]")
_HEX = re.compile(rb"[0-9A-Fa-f]+")


# -- errors ---------------------------------------------------------------------------------


class TransportError(Exception):
    """The exchange failed on the wire; asking again may work."""


class ConnectError(TransportError):
    pass


class ConnectTimeout(TransportError):
    pass


class ReadTimeout(TransportError):
    pass


class ReadError(TransportError):
    """The connection broke (closed, reset) before the answer was complete."""


class RemoteProtocolError(TransportError):
    """The server's bytes are not HTTP/1.1."""


class BodyTooLarge(TransportError):
    """The answer is larger than the cap: asking again would not help."""


class Unrecoverable(TransportError):
    """Asking again would not help (a certificate, a TLS alert, proxy credentials)."""


class CertificateError(Unrecoverable):
    """The server's certificate did not verify; ``reason`` is OpenSSL's verify message."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"certificate verify failed: {reason}")
        self.reason = reason
        self.code = code


class TLSError(Unrecoverable):
    """The TLS handshake failed, or the server ended the session with an alert."""

    def __init__(self, message: str, alert: str = "") -> None:
        super().__init__(message)
        self.alert = alert  # OpenSSL's reason, e.g. TLSV13_ALERT_CERTIFICATE_REQUIRED


class ProxyError(ConnectError):
    """The proxy could not be reached, or did not open the tunnel (retried)."""


class ProxyAuthRefused(Unrecoverable):
    """The proxy answered 407: its credentials are missing or wrong."""


class ProxyRefused(Unrecoverable):
    """The proxy refused the tunnel by its policy (a 4xx answer to CONNECT, e.g. 403)."""


class DeadlineReached(TransportError):
    """The caller's total deadline for the exchange passed (however fast bytes came):
    asking again would not help."""


class Http2Selected(Exception):
    """The TLS server chose HTTP/2 by ALPN: this origin needs an HTTP/2 client."""


# -- headers ----------------------------------------------------------------------------------


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued headers (what indexgate used of ``httpx.Headers``).

    Keys are lower-cased; ``h[name]``, ``get`` and ``items`` give a repeated header's values
    joined with ", " (as httpx does), ``get_list`` gives them one by one.
    """

    __slots__ = ("_items", "_map")

    def __init__(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    ) -> None:
        if headers is None:
            items: list[tuple[str, str]] = []
        elif isinstance(headers, Headers):
            items = headers._items
        else:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            items = [(str(k).lower(), str(v)) for k, v in pairs]
        self._items = items
        self._map = _joined(items)

    @classmethod
    def _lowered(cls, items: list[tuple[str, str]]) -> Headers:
        """From pairs whose names are already lower-case (the parser's)."""
        self = cls.__new__(cls)
        self._items = items
        self._map = _joined(items)
        return self

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self._map.get(key.lower(), default)

    def keys(self) -> KeysView[str]:
        return self._map.keys()

    def items(self) -> ItemsView[str, str]:
        return self._map.items()

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """Every value of ``key`` in order; with ``split_commas``, comma lists split too."""
        name = key.lower()
        values = [v for k, v in self._items if k == name]
        if not split_commas:
            return values
        return [part.strip() for value in values for part in value.split(",")]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:  # names only: values may be cookies or tokens
        return f"Headers({sorted(self._map)!r})"


def _joined(items: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for k, v in items:
        old = joined.get(k)
        joined[k] = v if old is None else f"{old}, {v}"
    return joined


# -- the response parser --------------------------------------------------------------------

_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """One HTTP/1.x answer, fed bytes as they arrive (``feed``, then ``feed_eof``).

    Informational (1xx) answers are skipped. Framing follows RFC 9112 section 6.3: no body
    for HEAD, 1xx, 204 and 304; ``Transfer-Encoding: chunked``; ``Content-Length``; else
    the body runs to the end of the connection.
    """

    def __init__(self, method: str, max_body: int) -> None:
        self.method = method
        self.max_body = max_body
        self.received = False  # any byte of the answer arrived
        self.done = False
        self.status = 0
        self.reason = ""
        self.version = ""
        self.headers = Headers()
        self.body = b""
        self.keep_alive = False
        self._buf = bytearray()
        self._state = _HEAD
        self._scan = 0  # where to look for the end of the head next time
        self._pos = 0  # chunked: parsed up to here in _buf
        self._need = 0  # Content-Length, or bytes left in the current chunk
        self._chunks = bytearray()

    def feed(self, data: bytes) -> bool:
        """Take the next bytes; True once the answer is complete."""
        if self._state == _DONE:
            if data:
                self.keep_alive = False  # bytes nobody asked for: do not reuse
            return True
        if data:
            self.received = True
            self._buf += data
        state = self._state
        if state == _HEAD:
            if not self._parse_head():
                return False
            state = self._state
            if state == _DONE:  # no body: HEAD, 204, 304
                return True
        if state == _LENGTH:
            buf = self._buf
            if len(buf) < self._need:
                return False
            if len(buf) > self._need:
                self.keep_alive = False
            self.body = bytes(buf) if len(buf) == self._need else bytes(buf[: self._need])
            return self._finish()
        if state == _UNTIL_CLOSE:
            if len(self._buf) > self.max_body:
                raise BodyTooLarge(f"body larger than {self.max_body} bytes")
            return False
        return self._parse_chunks()

    def feed_eof(self) -> bool:
        """The server closed the connection: True if that completed the answer."""
        if self._state == _DONE:
            return True
        if self._state == _UNTIL_CLOSE:
            self.body = bytes(self._buf)
            self.keep_alive = False
            return self._finish()
        return False

    def _finish(self) -> bool:
        self._state = _DONE
        self.done = True
        self._buf = bytearray()
        self._chunks = bytearray()
        return True

    def _parse_head(self) -> bool:
        while True:
            buf = self._buf
            start = max(0, self._scan - 3)
            end = buf.find(b"\n\r\n", start)
            skip = 3
            bare = buf.find(b"\n\n", start, end + 1 if end >= 0 else len(buf))
            if bare >= 0:
                end, skip = bare, 2
            if end < 0:
                if len(buf) > _HEAD_LIMIT:
                    raise RemoteProtocolError("response head too large")
                self._scan = len(buf)
                return False
            head = bytes(buf[:end])
            del buf[: end + skip]
            self._scan = 0
            self._read_head(head)
            if 100 <= self.status < 200:
                if self.status == 101:
                    raise RemoteProtocolError("unexpected 101 Switching Protocols")
                continue  # informational: the real answer follows
            self._frame()
            return True

    def _read_head(self, head: bytes) -> None:
        try:
            text = head.decode("ascii")
        except UnicodeDecodeError:
            try:
                text = head.decode("utf-8")
            except UnicodeDecodeError:
                text = head.decode("latin-1")
        if text.endswith("\r"):  # the head ends before the final LF of its last line
            text = text[:-1]
        text = text.replace("\r\n", "\n")
        if "\r" in text:  # a CR not before LF: no valid line, and unsafe to send back
            raise RemoteProtocolError("bare CR in the response head")
        lines = text.split("\n")
        line = lines[0]
        if (
            len(line) < 12
            or not line.startswith("HTTP/1.")
            or line[7] not in "01"
            or line[8] != " "
            or not line[9:12].isdigit()
            or not line[9:12].isascii()
            or (len(line) > 12 and line[12] != " ")
        ):
            raise RemoteProtocolError(f"malformed status line {line[:40]!r}")
        self.version = line[5:8]
        self.status = int(line[9:12])
        self.reason = line[13:].strip()
        items: list[tuple[str, str]] = []
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t":  # obsolete line folding: part of the previous value
                if not items:
                    raise RemoteProtocolError("folded line before any header")
                name, value = items[-1]
                items[-1] = (name, (value + " " + line.strip(" \t")).strip(" "))
                continue
            name, sep, value = line.partition(":")
            if not sep or _TOKEN.fullmatch(name) is None:
                raise RemoteProtocolError(f"malformed header line {line[:40]!r}")
            items.append((name.lower(), value.strip(" \t")))
        self.headers = Headers._lowered(items)

    def _frame(self) -> None:
        headers = self.headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = self.version == "1.1" and "close" not in connection
        status = self.status
        if self.method == "HEAD" or status in (204, 304):
            if self._buf:  # bytes past the answer: do not trust this connection again
                self.keep_alive = False
            self.body = b""
            self._finish()
            return
        if "transfer-encoding" in headers:
            codings = [c.lower() for c in headers.get_list("transfer-encoding", True) if c]
            if codings != ["chunked"]:
                raise RemoteProtocolError(f"unsupported Transfer-Encoding {codings!r}")
            self._state = _CHUNK_SIZE
            self._pos = 0
            return
        if "content-length" in headers:
            values = set(headers.get_list("content-length", True))
            value = values.pop() if len(values) == 1 else ""
            if not value.isdigit() or not value.isascii():
                raise RemoteProtocolError("malformed Content-Length")
            length = int(value)
            if length > self.max_body:
                raise BodyTooLarge(f"body of {length} bytes, more than {self.max_body}")
            self._need = length
            self._state = _LENGTH
            return
        self.keep_alive = False
        self._state = _UNTIL_CLOSE

    def _parse_chunks(self) -> bool:
        buf, pos, state = self._buf, self._pos, self._state
        try:
            while True:
                if state in (_CHUNK_SIZE, _TRAILERS):
                    nl = buf.find(b"\n", pos)
                    if nl < 0:
                        if len(buf) - pos > _LINE_LIMIT:
                            raise RemoteProtocolError("chunk line too long")
                        return False
                    line = bytes(buf[pos:nl]).rstrip(b"\r")
                    pos = nl + 1
                    if state == _TRAILERS:
                        if not line:  # the end of the trailers, and of the answer
                            if pos < len(buf):
                                self.keep_alive = False
                            self.body = bytes(self._chunks)
                            return self._finish()
                        continue  # trailers are not used
                    size = line.split(b";", 1)[0].strip(b" \t")
                    if _HEX.fullmatch(size) is None:
                        raise RemoteProtocolError(f"malformed chunk size {line[:20]!r}")
                    self._need = int(size, 16)
                    if len(self._chunks) + self._need > self.max_body:
                        raise BodyTooLarge(f"body larger than {self.max_body} bytes")
                    state = _CHUNK_DATA if self._need else _TRAILERS
                elif state == _CHUNK_DATA:
                    take = min(self._need, len(buf) - pos)
                    self._chunks += buf[pos : pos + take]
                    pos += take
                    self._need -= take
                    if self._need:
                        return False
                    state = _CHUNK_END
                else:  # _CHUNK_END: the CRLF after a chunk's data
                    if buf[pos : pos + 2] == b"\r\n":
                        pos += 2
                    elif buf[pos : pos + 1] == b"\n":
                        pos += 1
                    elif len(buf) - pos < 2 and buf[pos : pos + 1] in (b"", b"\r"):
                        return False
                    else:
                        raise RemoteProtocolError("missing CRLF after a chunk")
                    state = _CHUNK_SIZE
        finally:
            if self._state != _DONE:
                self._state = state
                del buf[:pos]
                self._pos = 0


def decode_content(body: bytes, headers: Headers, max_body: int) -> bytes:
    """Undo ``Content-Encoding`` gzip/deflate (as httpx did); other codings are left as is."""
    codings = [c.lower() for c in headers.get_list("content-encoding", True) if c]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = _inflate(body, zlib.MAX_WBITS | 32, max_body)
        elif coding == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS, max_body)
            except RemoteProtocolError:  # raw deflate, as some servers send
                body = _inflate(body, -zlib.MAX_WBITS, max_body)
    return body


def _inflate(body: bytes, wbits: int, max_body: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_body + 1)
        out += inflater.flush()
    except zlib.error as exc:
        raise RemoteProtocolError(f"undecodable compressed body ({exc})") from None
    if len(out) > max_body or inflater.unconsumed_tail:
        raise BodyTooLarge(f"decompressed body larger than {max_body} bytes")
    return out


# -- requests ---------------------------------------------------------------------------------


def request_target(path: str, query: str) -> str:
    """The origin-form target; characters not allowed in a URL are %-encoded (as httpx)."""
    target = path or "/"
    if query:
        target = f"{target}?{query}"
    if _UNSAFE_TARGET.search(target) is None:
        return target
    return "".join(f"%{b:02X}" if _unsafe_byte(b) else chr(b) for b in target.encode("utf-8"))


def _unsafe_byte(b: int) -> bool:
    return b <= 0x20 or b >= 0x7F or chr(b) in '"<>\\^`{|}'


def encode_request(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request line and headers, ready for one write; CR or LF in a header is refused."""
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"line break in header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()  # indexgate's own headers are ASCII; UTF-8 never fails


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    reason: str
    headers: Headers
    content: bytes


# -- connections and the pool ---------------------------------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection; the parser of the answer in flight gets its bytes."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.dead = False  # closed, broken or confused: never reuse
        self.parser: ResponseParser | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.last_read = 0.0
        self.error: TransportError | None = None
        self.refusal: TLSError | None = None  # a TLS alert that ended the session while idle
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None  # loop time: the exchange's total deadline

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # idle: the server has nothing to say but goodbye (or junk)
            self.close()
            return
        self.last_read = self.loop.time()
        try:
            done = parser.feed(data)
        except TransportError as exc:
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
        self._end_of_stream(exc)

    # the exchange

    async def exchange(
        self, head: bytes, parser: ResponseParser, timeout: float, deadline: float | None = None
    ) -> None:
        """Send ``head``; return when ``parser`` holds the whole answer: ``ReadTimeout``
        after ``timeout`` seconds without a byte, ``DeadlineReached`` at ``deadline``
        (loop time) whatever came. One timer serves both."""
        if self.dead or self.transport is None:  # closed by the server since we got it
            raise self.refusal or ReadError("connection closed before the request was sent")
        self.parser = parser
        self.error = None
        self.waiter = waiter = self.loop.create_future()
        self.last_read = now = self.loop.time()
        self._deadline = deadline
        delay = timeout if deadline is None else min(timeout, deadline - now)
        self._timer = self.loop.call_later(delay, self._check_timeout, timeout)
        try:
            self.transport.write(head)
            await waiter
        finally:
            if self._timer is not None:  # the latest one, if the period was extended
                self._timer.cancel()
                self._timer = None
            self.parser = None
            self.waiter = None
        if self.error is not None:
            raise self.error

    def _check_timeout(self, timeout: float) -> None:
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        now = self.loop.time()
        deadline = self._deadline
        if deadline is not None and now >= deadline:
            self._fail(DeadlineReached("the deadline passed before the answer was complete"))
            return
        idle = now - self.last_read
        if idle < timeout:  # bytes came since: wait for the rest of the period
            delay = timeout - idle if deadline is None else min(timeout - idle, deadline - now)
            self._timer = self.loop.call_later(delay, self._check_timeout, timeout)
            return
        self._fail(ReadTimeout(f"no data for {timeout:g} s"))

    def _end_of_stream(self, exc: Exception | None) -> None:
        parser = self.parser
        if parser is None or parser.done:
            if isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
                reason = str(exc.reason)
                self.refusal = TLSError(f"the server ended the TLS session: {reason}", reason)
            return
        try:
            done = parser.feed_eof()
        except TransportError as error:
            self._fail(error)
            return
        if done:
            self._wake()
        elif isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
            # TLS 1.3: a server that refuses the client certificate says so with an alert
            # after the handshake, so it arrives here, on the first read.
            reason = str(exc.reason)
            self._fail(TLSError(f"the server ended the TLS session: {reason}", reason))
        else:
            why = f": {exc}" if exc else ""
            self._fail(ReadError(f"connection closed before the answer was complete{why}"))

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def _fail(self, error: TransportError) -> None:
        if self.error is None:  # the first cause; closing may report a second one
            self.error = error
        self.abort()  # broken: no TLS goodbye to wait for
        self._wake()

    def close(self) -> None:
        self.dead = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def abort(self) -> None:
        self.dead = True
        if self.transport is not None:
            self.transport.abort()


class _TunnelAnswer(asyncio.Protocol):
    """Reads a proxy's answer to CONNECT (its status line and headers), nothing else."""

    def __init__(self, loop: asyncio.AbstractEventLoop, proxy: Proxy) -> None:
        self.proxy = proxy
        self.answer: asyncio.Future[tuple[int, str]] = loop.create_future()
        self._buf = bytearray()

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self._buf += data
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _HEAD_LIMIT:
                self.answer.set_exception(RemoteProtocolError("proxy answer head too large"))
            return
        line = bytes(self._buf[: self._buf.find(b"\r\n")]).decode("latin-1")
        version, _, rest = line.partition(" ")
        code, _, reason = rest.partition(" ")
        if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
            self.answer.set_exception(
                ProxyError(f"proxy {self.proxy.display} answered {line[:40]!r}, not HTTP")
            )
            return
        self.answer.set_result((int(code), reason.strip()))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                ProxyError(f"proxy {self.proxy.display} closed the connection before answering")
            )


def proxy_auth_refused(proxy: Proxy, status: str) -> ProxyAuthRefused:
    """The error for a 407 (``status``: code and reason): with credentials, they were
    refused; without, some are wanted."""
    if proxy.authorization:
        return ProxyAuthRefused(
            f"proxy {proxy.display} refused the credentials in {proxy.variable} ({status})"
        )
    return ProxyAuthRefused(
        f"proxy {proxy.display} requires credentials ({status}): give them as the user and "
        f"password of the proxy URL in {proxy.variable}"
    )


def _proxy_unreachable(proxy: Proxy, exc: OSError) -> ProxyError:
    why = exc.strerror or str(exc) or type(exc).__name__
    return ProxyError(f"proxy {proxy.display} (from {proxy.variable}) could not be reached: {why}")


class Pool:
    """Keep-alive HTTP/1.1 connections to one origin, at most ``max_connections`` of them."""

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

    async def request(
        self,
        method: str,
        head: bytes,
        *,
        max_body: int | None = None,
        within: float | None = None,
    ) -> RawResponse:
        """One exchange: ``head`` is ``encode_request``'s bytes (GET and HEAD only).

        ``max_body`` lowers the pool's cap on the answer for this request; ``within`` is
        the seconds left of the caller's total deadline: waiting for a connection slot,
        connecting and the whole answer must fit, else ``DeadlineReached``.
        """
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
                conn = await _bounded(self._connect(), deadline)
            parser = ResponseParser(method, cap)
            try:
                try:
                    await conn.exchange(head, parser, self._read_timeout, deadline)
                except ReadError:
                    if not reused or parser.received:
                        raise
                    # The server closed the idle connection as the request went out.
                    self._drop(conn)
                    self.replaced += 1
                    conn = await _bounded(self._connect(), deadline)
                    parser = ResponseParser(method, cap)
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
        return RawResponse(parser.status, parser.reason, parser.headers, content)

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

    async def _connect(self) -> _Connection:
        """A new connection; over TLS the first one is opened alone, so that a server that
        picks HTTP/2 costs one handshake, not one per request waiting."""
        if self.refused is not None:
            raise self.refused
        if self._ssl_context is None or self._settled:
            return await self._open_connection()
        async with self._first:
            if self.refused is not None:  # those waiting need not shake hands to learn it
                raise self.refused
            if self.http2:
                raise Http2Selected(f"{self.host}:{self.port}")
            if not self._settled:
                conn = await self._open_connection()
                self._settled = True
                return conn
        return await self._open_connection()

    async def _open_connection(self) -> _Connection:
        loop = asyncio.get_running_loop()
        conn = _Connection(loop)
        context = self._ssl_context() if self._ssl_context is not None else None
        proxy = self.proxy
        raw: list[asyncio.BaseTransport] = []  # the proxy connection under a tunnel
        try:
            async with asyncio.timeout(self._connect_timeout):
                if proxy is None:
                    await loop.create_connection(
                        lambda: conn,
                        self.host,
                        self.port,
                        ssl=context,
                        server_hostname=self.host if context is not None else None,
                        happy_eyeballs_delay=0.25,
                    )
                else:
                    await self._through(proxy, loop, conn, context, raw)
        except BaseException as exc:
            conn.abort()
            for transport in raw:
                transport.abort()  # type: ignore[attr-defined]
            if isinstance(exc, TransportError | Http2Selected) or not isinstance(exc, Exception):
                if isinstance(exc, Unrecoverable):
                    self.refused = exc
                raise
            error = self._connect_failure(exc, proxy)
            if isinstance(error, Unrecoverable):
                self.refused = error
            raise error from exc
        if context is not None and conn.transport is not None:
            # TLS 1.3: a server refusing the client certificate says so right after the
            # handshake; let that alert in before a request is written into a closed
            # session (a reset then hides the reason).
            await asyncio.sleep(0)
            if conn.refusal is not None:
                conn.abort()
                self.refused = conn.refusal
                raise conn.refusal
            ssl_object = conn.transport.get_extra_info("ssl_object")
            if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
                conn.abort()
                self.http2 = True
                raise Http2Selected(f"{self.host}:{self.port}")
        self.connects += 1
        self._open.add(conn)
        return conn

    async def _through(
        self,
        proxy: Proxy,
        loop: asyncio.AbstractEventLoop,
        conn: _Connection,
        context: ssl.SSLContext | None,
        raw: list[asyncio.BaseTransport],
    ) -> None:
        """Connect ``conn`` by way of ``proxy``: for http, to the proxy itself (requests then
        name the whole URL); for https, through a CONNECT tunnel, TLS to the origin inside."""
        if context is None:
            try:
                await loop.create_connection(
                    lambda: conn, proxy.host, proxy.port, happy_eyeballs_delay=0.25
                )
            except OSError as exc:
                raise _proxy_unreachable(proxy, exc) from exc
            return
        tunnel = _TunnelAnswer(loop, proxy)
        try:
            transport, _ = await loop.create_connection(
                lambda: tunnel, proxy.host, proxy.port, happy_eyeballs_delay=0.25
            )
        except OSError as exc:
            raise _proxy_unreachable(proxy, exc) from exc
        raw.append(transport)
        authority = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        lines = [("Host", authority)]
        if proxy.authorization is not None:
            lines.append(("Proxy-Authorization", proxy.authorization))
        transport.write(encode_request("CONNECT", authority, lines))  # type: ignore[attr-defined]
        status, reason = await tunnel.answer
        if status in (401, 407):  # only the proxy answers CONNECT (tinyproxy says 401)
            raise proxy_auth_refused(proxy, f"{status} {reason}")
        if 400 <= status < 500:  # the proxy's policy (403): asking again would not help
            raise ProxyRefused(
                f"proxy {proxy.display} (from {proxy.variable}) refused the tunnel to "
                f"{authority} ({status} {reason})"
            )
        if not 200 <= status < 300:  # 502, 503, 504: the way beyond the proxy, maybe brief
            raise ProxyError(
                f"proxy {proxy.display} did not open a tunnel to {authority} ({status} {reason})"
            )
        tls = await loop.start_tls(
            transport,  # type: ignore[arg-type]
            conn,
            context,
            server_hostname=self.host,
        )
        if tls is None:
            raise ConnectError(f"the tunnel through proxy {proxy.display} closed")
        conn.transport = tls

    def _connect_failure(self, exc: Exception, proxy: Proxy | None) -> Exception:
        """One of this module's errors for a failed connect; OpenSSL's reasons kept."""
        where = f"{self.host}:{self.port}"
        via = f" through proxy {proxy.display}" if proxy is not None else ""
        if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
            return ConnectTimeout(f"timed out connecting to {where}{via}")
        if isinstance(exc, ssl.SSLCertVerificationError):
            reason = exc.verify_message or str(exc.reason or exc)
            return CertificateError(reason, exc.verify_code)
        if isinstance(exc, ssl.SSLError) and not isinstance(
            exc, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            reason = str(exc.reason or exc)
            return TLSError(f"TLS handshake with {where} failed: {reason}", reason)
        if isinstance(exc, OSError):  # refused, unreachable, DNS, a closed tunnel
            return ConnectError(f"{where}{via}: {exc.strerror or exc or type(exc).__name__}")
        return ConnectError(f"{where}{via}: {type(exc).__name__}: {exc}")

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
        raise DeadlineReached("the deadline passed before a connection was ready") from None
