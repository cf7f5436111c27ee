"""HTTP/1.1 messages for ``http11.Pool``: the response parser, content decoding, and the
bytes of a request (its line and headers, ready for one write).

The parser is fed bytes as they arrive and frames the body as RFC 9112 says; it is pure
(no sockets), so its edge cases are unit-tested byte by byte (tests/unit/test_http11_parser.py).
Given a ``SinkFactory``, it asks it for a ``Sink`` once the head is read and then hands
each piece of the body (de-chunked, and decoded by ``StreamDecoder`` when it came
compressed) to that sink instead of keeping it: a huge project page is parsed as it
arrives and never held whole.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from indexgate.index.transport.base import (
    BodyTooLarge,
    RemoteProtocolError,
    Request,
    Sink,
    SinkFactory,
    split_target,
)
from indexgate.index.transport.headers import Headers

if TYPE_CHECKING:
    from indexgate.index.network import Proxy

HEAD_LIMIT = 64 * 1024  # status line and headers of one answer
_LINE_LIMIT = 8 * 1024  # one chunk-size or trailer line
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEX = re.compile(rb"[0-9A-Fa-f]+")
# Header names as answers spell them -> lower-cased, each checked against _TOKEN once: an
# index sends the same few names in every answer (a regex match each cost more per answer
# than the rest of the head's parsing). Bounded: a server inventing names gets no memory.
_NAMES: dict[str, str] = {}
_NAMES_KEPT = 256


# -- the response parser --------------------------------------------------------------------

_NO_HEADERS = Headers()  # shared: a ``Headers`` is never changed
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """One HTTP/1.x answer, fed bytes as they arrive (``feed``, then ``feed_eof``).

    Informational (1xx) answers are skipped. Framing follows RFC 9112 section 6.3: no body
    for HEAD, 1xx, 204 and 304; ``Transfer-Encoding: chunked``; ``Content-Length``; else
    the body runs to the end of the connection.

    ``sink``: asked once, with the status and headers of an answer that has a body; the
    ``Sink`` it returns (kept in ``self.sink``) is fed the body as it arrives, decoded, and
    ``body`` stays empty. The cap holds for the bytes on the wire and the decoded ones.
    """

    def __init__(self, method: str, max_body: int, sink: SinkFactory | None = None) -> None:
        self.method = method
        self.max_body = max_body
        self.sink: Sink | None = None  # what the body went to, if the factory wanted it
        self._factory = sink
        self._out: Sink | None = None  # ``sink``, behind a decoder when the body is encoded
        self._size = 0  # body bytes (on the wire, de-chunked) taken so far
        self.received = False  # any byte of the answer arrived
        self.done = False
        self.status = 0
        self.reason = ""
        self.version = ""
        self.headers = _NO_HEADERS  # until the head is read
        self.body = b""
        self.keep_alive = False
        self._buf = bytearray()
        self._state = _HEAD
        self._scan = 0  # where to look for the end of the head next time
        self._pos = 0  # chunked: parsed up to here in _buf
        self._need = 0  # Content-Length, or bytes left in the current chunk
        self._chunks = bytearray()

    def feed(self, data: bytes) -> bool:
        """Take the next bytes; True once the answer is complete.

        The body's bytes are not gathered into the parser's buffer first: a body that
        came in the same read as the head is split off it in one copy, and one that fits
        in a read is taken as it came (streamed, it goes to the sink as it is)."""
        if self._state == _DONE:
            if data:
                self.keep_alive = False  # bytes nobody asked for: do not reuse
            return True
        if data:
            self.received = True
        while self._state == _HEAD:
            split = self._split_head(data)
            if split is None:
                return False
            head, data = split
            self._read_head(head)
            if 100 <= self.status < 200:
                if self.status == 101:
                    raise RemoteProtocolError("unexpected 101 Switching Protocols")
                continue  # informational: the real answer follows
            self._frame()
            if self._state == _DONE:  # no body: HEAD, 204, 304
                if data:  # bytes past the answer: do not trust this connection again
                    self.keep_alive = False
                return True
        state = self._state
        if state == _LENGTH:
            return self._feed_length(data)
        if data:
            self._buf += data
        if state == _UNTIL_CLOSE:
            if self._size + len(self._buf) > self.max_body:
                raise BodyTooLarge(f"body larger than {self.max_body} bytes")
            if self._out is not None and self._buf:
                self._size += len(self._buf)
                self._emit(_take(self._buf, len(self._buf)))
            return False
        return self._parse_chunks()

    def _feed_length(self, data: bytes) -> bool:
        """A body of ``Content-Length`` bytes (``self._need`` of them still to come)."""
        need = self._need
        if self._out is not None:  # streamed: pass on what came, keep nothing
            take = min(len(data), need)
            if take:
                self._need = need = need - take
                self._emit(data if take == len(data) else data[:take])
            if need:
                return False
            if len(data) > take:
                self.keep_alive = False
            return self._finish()
        buf = self._buf
        if buf or len(data) < need:  # the body comes in pieces: kept until it is whole
            buf += data
            if len(buf) < need:
                return False
            data = bytes(buf)
        if len(data) > need:
            self.keep_alive = False
            data = data[:need]
        self.body = data
        return self._finish()

    def feed_eof(self) -> bool:
        """The server closed the connection: True if that completed the answer."""
        if self._state == _DONE:
            return True
        if self._state == _UNTIL_CLOSE:
            self.body = b"" if self._out is not None else bytes(self._buf)
            self.keep_alive = False
            return self._finish()
        return False

    def _emit(self, data: bytes) -> None:
        self._out.feed(data)  # type: ignore[union-attr]

    def _finish(self) -> bool:
        if isinstance(self._out, StreamDecoder):
            self._out.finish()  # what the decompressor still holds
        self._state = _DONE
        self.done = True
        self._buf = bytearray()
        self._chunks = bytearray()
        return True

    def _split_head(self, data: bytes) -> tuple[bytes, bytes] | None:
        """The head at the start of the bytes kept so far and ``data``, and the bytes after
        it; None (``data`` kept) while the head is not complete."""
        buf = self._buf
        search: bytes | bytearray = data
        if buf:  # the head began in an earlier read
            buf += data
            search = buf
        start = max(0, self._scan - 3)
        end = search.find(b"\n\r\n", start)
        skip = 3
        bare = search.find(b"\n\n", start, end + 1 if end >= 0 else len(search))
        if bare >= 0:
            end, skip = bare, 2
        if end < 0:
            if search is data:
                buf += data
            if len(buf) > HEAD_LIMIT:
                raise RemoteProtocolError("response head too large")
            self._scan = len(buf)
            return None
        self._scan = 0
        head, rest = bytes(search[:end]), bytes(search[end + skip :])
        buf.clear()
        return head, rest

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
            lowered = _NAMES.get(name) if sep else None
            if lowered is None:
                if not sep or _TOKEN.fullmatch(name) is None:
                    raise RemoteProtocolError(f"malformed header line {line[:40]!r}")
                lowered = name.lower()
                if len(_NAMES) < _NAMES_KEPT:
                    _NAMES[name] = lowered
            items.append((lowered, value.strip(" \t")))
        self.headers = Headers._lowered(items)

    def _frame(self) -> None:
        headers = self.headers
        connection = headers.get("connection", "").lower()
        self.keep_alive = self.version == "1.1" and "close" not in connection
        status = self.status
        if self.method == "HEAD" or status in (204, 304):
            self.body = b""
            self._finish()
            return
        if self._factory is not None:
            self.sink = self._factory(status, headers)
            if self.sink is not None:
                self._out = StreamDecoder.around(self.sink, headers, self.max_body)
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
                            self.body = b"" if self._out is not None else bytes(self._chunks)
                            return self._finish()
                        continue  # trailers are not used
                    size = line.split(b";", 1)[0].strip(b" \t")
                    if _HEX.fullmatch(size) is None:
                        raise RemoteProtocolError(f"malformed chunk size {line[:20]!r}")
                    self._need = int(size, 16)
                    if self._size + self._need > self.max_body:
                        raise BodyTooLarge(f"body larger than {self.max_body} bytes")
                    state = _CHUNK_DATA if self._need else _TRAILERS
                elif state == _CHUNK_DATA:
                    take = min(self._need, len(buf) - pos)
                    if self._out is not None:
                        if take:
                            self._emit(bytes(buf[pos : pos + take]))
                    else:
                        self._chunks += buf[pos : pos + take]
                    self._size += take
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


def _take(buf: bytearray, n: int) -> bytes:
    """The first ``n`` bytes of ``buf``, removed from it."""
    if n == len(buf):
        data = bytes(buf)
        buf.clear()
        return data
    data = bytes(buf[:n])
    del buf[:n]
    return data


class StreamDecoder:
    """``Content-Encoding`` gzip/deflate undone piece by piece for a streamed body, as
    ``decode_content`` does for a whole one (other codings pass as they are), within the
    cap: no stage may produce more than ``max_body`` bytes."""

    def __init__(self, codings: list[str], out: Sink, max_body: int) -> None:
        self._stages = [_Inflater(coding, max_body) for coding in reversed(codings)]
        self._out = out

    @classmethod
    def around(cls, sink: Sink, headers: Headers, max_body: int) -> Sink:
        """``sink`` itself when the body is not compressed, else a decoder feeding it."""
        if "content-encoding" not in headers:
            return sink
        codings = [c.lower() for c in headers.get_list("content-encoding", True) if c]
        codings = [c for c in codings if c in ("gzip", "x-gzip", "deflate")]
        return cls(codings, sink, max_body) if codings else sink

    def feed(self, data: bytes) -> None:
        for stage in self._stages:
            if not data:
                return
            data = stage.decompress(data)
        if data:
            self._out.feed(data)

    def finish(self) -> None:
        """The end of the body: whatever the decompressors still hold goes out."""
        for i, stage in enumerate(self._stages):
            data = stage.flush()
            for later in self._stages[i + 1 :]:
                if not data:
                    break
                data = later.decompress(data)
            if data:
                self._out.feed(data)


class _Inflater:
    """One zlib stage of ``StreamDecoder``. For ``deflate``, a body that is not
    zlib-wrapped is read as raw deflate, as some servers send (decided before the first
    output, on the first bytes, which are kept until then)."""

    _REPLAY_LIMIT = 64 * 1024

    def __init__(self, coding: str, max_body: int) -> None:
        wbits = zlib.MAX_WBITS if coding == "deflate" else zlib.MAX_WBITS | 32
        self._d = zlib.decompressobj(wbits)
        self._raw_fallback = coding == "deflate"
        self._seen = b""  # input before any output, to read again as raw deflate
        self._max = max_body
        self._total = 0

    def decompress(self, data: bytes) -> bytes:
        try:
            out = self._d.decompress(data, self._max - self._total + 1)
        except zlib.error as exc:
            if self._raw_fallback and self._total == 0 and len(self._seen) < self._REPLAY_LIMIT:
                self._raw_fallback = False
                self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                seen, self._seen = self._seen, b""
                return self.decompress(seen + data)
            raise RemoteProtocolError(f"undecodable compressed body ({exc})") from None
        if self._raw_fallback and self._total == 0 and not out:
            self._seen += data
        return self._count(out)

    def flush(self) -> bytes:
        try:
            return self._count(self._d.flush())
        except zlib.error as exc:
            raise RemoteProtocolError(f"undecodable compressed body ({exc})") from None

    def _count(self, out: bytes) -> bytes:
        self._total += len(out)
        if self._total > self._max or self._d.unconsumed_tail:
            raise BodyTooLarge(f"decompressed body larger than {self._max} bytes")
        if out:
            self._seen = b""
        return out


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


def encode_request(method: str, target: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request line and headers, ready for one write; CR or LF in a header is refused."""
    lines = [f"{method} {target} HTTP/1.1"]
    for name, value in headers:
        if "\n" in value or "\r" in value or "\n" in name or "\r" in name:
            raise ValueError(f"line break in header {name!r}")
        lines.append(f"{name}: {value}")
    lines.append("\r\n")
    return "\r\n".join(lines).encode()  # indexgate's own headers are ASCII; UTF-8 never fails


def encode_head(request: Request, proxy: Proxy | None = None) -> bytes:
    """``request`` as HTTP/1.1 bytes: ``Host`` first (``split_target``'s), then the
    request's own headers. Through a proxy (plain http) the target is the whole URL and
    the proxy's credentials go in ``Proxy-Authorization``."""
    scheme, host, target = split_target(request.url)
    lines = [("Host", host), *request.headers]
    if proxy is not None:
        target = f"{scheme}://{host}{target}"
        if proxy.authorization is not None:
            lines.append(("Proxy-Authorization", proxy.authorization))
    return encode_request(request.method, target, lines)
