"""One HTTP/2 connection for ``http2.Http2Transport``: the ``h2`` state machine on an
asyncio protocol (``Http2Connection``), and each request's answer as it arrives on its stream
(``Http2Stream``: decoded, capped, handed to a sink). Split from ``http2`` for size; see its
docstring for why this client exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from indexgate.index.transport.base import (
    BodyTooLarge,
    ReadError,
    RemoteProtocolError,
    Request,
    Sink,
    SinkFactory,
    lost_answer,
    split_target,
)
from indexgate.index.transport.headers import Headers
from indexgate.index.transport.http11_parser import StreamDecoder

WINDOW = 16 << 20  # receive window per stream and for the connection
# Headers HTTP/2 forbids (RFC 9113 8.2.2); ``Host`` becomes ``:authority``.
_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "host"}
)


_HEADERS_EVENTS: tuple[type, ...] = ()  # h2's answer-head events (h2 is imported late)
_SECRET = frozenset({"authorization", "proxy-authorization", "cookie"})


def _never_indexed(name: str, value: str) -> tuple[str, str]:
    """hpack's tuple for a header that must stay out of every compression table."""
    from hpack import NeverIndexedHeaderTuple as never

    return never(name, value)


def _cheap_frame_repr() -> None:
    """h2 formats every frame it receives for its trace log, whether anyone logs or not;
    for a DATA frame that means a copy of its payload and a hex dump of it (a real run
    receives tens of megabytes). The DATA frame's repr says its size instead."""
    from hyperframe.frame import DataFrame

    if DataFrame._body_repr is not _data_body_repr:
        DataFrame._body_repr = _data_body_repr  # type: ignore[method-assign]


def _data_body_repr(self: Any) -> str:
    return f"<{len(self.data)} bytes>"


def _quiet_hpack() -> None:
    """hpack and h2 log every header they encode, values included, at DEBUG: under ``-vv``
    that would print credentials. Their loggers are held at INFO."""
    for name in ("hpack", "h2"):
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)


class Http2Stream:
    """One request's answer as it arrives on its stream."""

    __slots__ = (
        "body",
        "decoder",
        "done",
        "error",
        "factory",
        "head_only",
        "headers",
        "last_read",
        "max_body",
        "reason",
        "sink",
        "size",
        "status",
        "stream_id",
        "waiter",
    )

    def __init__(
        self, waiter: asyncio.Future[None], head_only: bool, max_body: int, factory: Any
    ) -> None:
        self.waiter = waiter
        self.head_only = head_only
        self.max_body = max_body
        self.factory: SinkFactory | None = factory
        self.status = 0
        self.reason = ""
        self.headers = Headers()
        self.body: list[bytes] = []
        self.size = 0  # body bytes on the wire so far
        self.sink: Sink | None = None  # what the body went to, if the factory wanted it
        self.decoder: Sink | None = None  # the sink, behind a decoder if the body is encoded
        self.done = False
        self.error: Exception | None = None
        self.last_read = 0.0
        self.stream_id = 0

    def on_headers(self, headers: list[tuple[bytes, bytes]]) -> None:
        pairs = []
        status = 0
        for name, value in headers:
            if name[:1] == b":":
                if name == b":status":
                    status = int(value)
                continue
            pairs.append((name.decode("latin-1"), value.decode("latin-1")))
        if 100 <= status < 200:  # informational: the real answer follows
            return
        self.status = status
        self.reason = _REASONS.get(status, "")
        self.headers = Headers(pairs)
        if self.factory is not None and not self.head_only:
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.max_body:
                raise BodyTooLarge(f"body of {declared} bytes, more than {self.max_body}")
            sink = self.factory(status, self.headers)
            if sink is not None:
                self.sink = sink
                self.decoder = StreamDecoder.around(sink, self.headers, self.max_body)

    def on_data(self, data: bytes) -> None:
        if self.head_only or not data:
            return
        self.size += len(data)
        if self.size > self.max_body:
            raise BodyTooLarge(f"body larger than {self.max_body} bytes")
        if self.decoder is not None:
            self.decoder.feed(data)
        else:
            self.body.append(data)

    def finish(self) -> None:
        if isinstance(self.decoder, StreamDecoder):
            self.decoder.finish()
        self.done = True
        self.wake()

    def fail(self, error: Exception) -> None:
        if self.error is None and not self.done:
            self.error = error
        self.wake()

    def wake(self) -> None:
        if not self.waiter.done():
            self.waiter.set_result(None)


class Http2Connection(asyncio.Protocol):
    """One HTTP/2 connection: the ``h2`` state machine between the socket and the streams."""

    def __init__(self, loop: asyncio.AbstractEventLoop, authority: str) -> None:
        import h2.config
        import h2.connection
        import h2.events

        global _HEADERS_EVENTS
        _HEADERS_EVENTS = (h2.events.ResponseReceived, h2.events.InformationalResponseReceived)
        _quiet_hpack()
        _cheap_frame_repr()
        self.loop = loop
        self.authority = authority
        config = h2.config.H2Configuration(
            client_side=True,
            header_encoding=None,
            validate_inbound_headers=False,
            normalize_inbound_headers=False,
            validate_outbound_headers=False,
            normalize_outbound_headers=False,
        )
        self.h2 = h2.connection.H2Connection(config=config)
        self.transport: asyncio.Transport | None = None
        self.streams: dict[int, Http2Stream] = {}
        self.dead = False
        self.refused: Exception | None = None  # why the connection ended, for new streams
        self.room = asyncio.Event()  # a stream closed: another may open
        self.room.set()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def start(self) -> None:
        """The connection preface and our settings (a tunnel's TLS transport is given
        to us directly, without ``connection_made``)."""
        from h2.settings import SettingCodes

        self.h2.initiate_connection()
        self.h2.update_settings(
            {SettingCodes.INITIAL_WINDOW_SIZE: WINDOW, SettingCodes.ENABLE_PUSH: 0}
        )
        self.h2.increment_flow_control_window(WINDOW - 65535)
        self._flush()

    def data_received(self, data: bytes) -> None:
        import h2.events
        import h2.exceptions

        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            self._broken(RemoteProtocolError(f"HTTP/2 protocol error: {exc}"))
            return
        now = self.loop.time()
        streams = self.streams
        for event in events:
            kind = type(event)
            if kind is h2.events.DataReceived:
                stream = streams.get(event.stream_id)
                if event.flow_controlled_length:
                    self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if stream is not None:
                    stream.last_read = now
                    self._deliver(stream, event.stream_id, stream.on_data, event.data)
                    if event.stream_ended is not None:
                        self._end(event.stream_id)
                continue
            stream_id = getattr(event, "stream_id", None)
            stream = streams.get(stream_id) if stream_id is not None else None
            if kind in _HEADERS_EVENTS:
                if stream is not None:
                    stream.last_read = now
                    self._deliver(stream, stream_id, stream.on_headers, event.headers)
                    if event.stream_ended is not None:
                        self._end(stream_id)
            elif kind is h2.events.StreamEnded:
                self._end(stream_id)
            elif kind is h2.events.StreamReset:
                if stream is not None:
                    streams.pop(stream_id, None)
                    stream.fail(ReadError(f"the server reset the stream (code {event.error_code})"))
                    self.room.set()
            elif kind is h2.events.ConnectionTerminated:
                self.dead = True
                last = event.last_stream_id if event.last_stream_id is not None else 0
                error = ReadError(f"the server ended the connection (GOAWAY {event.error_code})")
                self.refused = error
                for sid in [s for s in streams if s > last]:  # never processed: ask again
                    streams.pop(sid).fail(error)
                self.room.set()
        self._flush()

    def _deliver(self, stream: Http2Stream, stream_id: int, step: Any, value: Any) -> None:
        """``step(value)``; a failure (the cap, a sink's decoder) ends that stream only."""
        try:
            step(value)
        except Exception as exc:
            self.streams.pop(stream_id, None)
            self._reset(stream_id)
            stream.fail(exc)
            self.room.set()

    def _end(self, stream_id: int | None) -> None:
        stream = self.streams.pop(stream_id, None) if stream_id is not None else None
        if stream is None:
            return
        try:
            stream.finish()
        except Exception as exc:  # the decompressor's last bytes
            stream.fail(exc)
        self.room.set()

    def _reset(self, stream_id: int) -> None:
        import h2.errors

        with contextlib.suppress(Exception):  # already closed by the server: nothing to cancel
            self.h2.reset_stream(stream_id, h2.errors.ErrorCodes.CANCEL)

    def eof_received(self) -> bool:
        self._broken(ReadError("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._broken(lost_answer(exc))

    def _broken(self, error: Exception) -> None:
        self.dead = True
        if self.refused is None:
            self.refused = error
        streams, self.streams = self.streams, {}
        for stream in streams.values():
            stream.fail(error)
        self.room.set()
        if self.transport is not None:
            self.transport.abort()

    def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    # streams

    def has_room(self, limit: int) -> bool:
        remote = self.h2.remote_settings.max_concurrent_streams
        return len(self.streams) < min(limit, remote)

    def open(self, request: Request, max_body: int, sink: SinkFactory | None) -> Http2Stream:
        """Send ``request`` on a new stream; its answer fills the ``Http2Stream``."""
        if self.dead:
            raise self.refused or ReadError("connection closed before the request was sent")
        scheme, _, target = split_target(request.url)
        headers = [
            (":method", request.method),
            (":authority", self.authority),
            (":scheme", scheme),
            (":path", target),
        ]
        for name, value in request.headers:
            lower = name.lower()
            if lower in _SECRET:  # never in HPACK's table (nor in its debug log)
                headers.append(_never_indexed(lower, value))
            elif lower not in _HOP_BY_HOP:
                headers.append((lower, value))
        stream_id = self.h2.get_next_available_stream_id()
        stream = Http2Stream(self.loop.create_future(), request.method == "HEAD", max_body, sink)
        stream.last_read = self.loop.time()
        stream.stream_id = stream_id
        self.streams[stream_id] = stream
        try:
            self.h2.send_headers(stream_id, headers, end_stream=True)
        except Exception as exc:
            self.streams.pop(stream_id, None)
            raise RemoteProtocolError(f"HTTP/2: cannot send the request: {exc}") from exc
        self._flush()
        return stream

    def cancel(self, stream: Http2Stream) -> None:
        """Give up on a stream (a timeout, a cancelled task): the server may stop too."""
        if self.streams.get(stream.stream_id) is stream:
            del self.streams[stream.stream_id]
            self._reset(stream.stream_id)
            self._flush()
            self.room.set()

    def close(self) -> None:
        self.dead = True
        if self.transport is not None and not self.transport.is_closing():
            try:
                self.h2.close_connection()
                self._flush()
            except Exception:  # closing anyway
                pass
            self.transport.close()


# HTTP/2 has no reason phrase: the usual one, for messages and the cache.
_REASONS = {
    200: "OK",
    203: "Non-Authoritative Information",
    204: "No Content",
    206: "Partial Content",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    407: "Proxy Authentication Required",
    410: "Gone",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
