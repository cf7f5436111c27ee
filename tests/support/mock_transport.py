"""A ``Transport`` for unit tests: every exchange goes to a handler, at the seam where
production's ``Router`` sits (``indexgate.index.transport.base.Transport``).

So ``HttpClient``'s policy (retries, redirects, credentials per origin, throttling, the
cache) runs as in production, and the handler sees exactly the ``Request`` a real
transport would carry: its headers include the ``Authorization`` ``HttpClient`` chose.
The request is encoded and the answer parsed by the HTTP/1.1 transport's own code
(``http11_parser``: ``encode_head``, ``ResponseParser``, content decoding); only the
sockets are left out. For edge cases real servers do not produce on demand; the
behaviour on real sockets is tested against local servers in tests/integration.
"""

from __future__ import annotations

import inspect
import json as jsonlib
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from indexgate.index.transport.base import RawResponse, Request, SinkFactory
from indexgate.index.transport.headers import Headers
from indexgate.index.transport.http11_parser import ResponseParser, decode_content, encode_head

if TYPE_CHECKING:
    from support.httpx_transport import HttpxTransport

Handler = Callable[[Request], RawResponse | Awaitable[RawResponse]]


class MockTransport:
    """Answers each request with ``handler(request)`` (plain or async); the handler may
    raise a ``TransportError`` (``ConnectError``, ``ReadTimeout``...) as the wire would.
    The answer goes through the HTTP/1.1 parser as bytes: a HEAD answer has no body, a
    body over ``max_body`` is ``BodyTooLarge``, gzip is decoded, and a body the caller's
    ``sink`` wants is streamed to it by that parser, as on the wire."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        encode_head(request)  # what the HTTP/1.1 transport would write; refuses what it would
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        parser = ResponseParser(request.method, max_body, sink)
        if not parser.feed(_as_bytes(answer, request.method)):
            assert parser.feed_eof(), "the mock's answer is not a whole HTTP/1.1 answer"
        content = parser.body
        if content and "content-encoding" in parser.headers:
            content = decode_content(content, parser.headers, max_body)
        return RawResponse(parser.status, parser.reason, parser.headers, content, parser.sink)

    async def aclose(self) -> None:
        self.closed = True


def _as_bytes(answer: RawResponse, method: str) -> bytes:
    """``answer`` as a server writes it (no body after HEAD, 204 or 304); without
    ``Content-Length`` the body runs to the end of the connection."""
    lines = [f"HTTP/1.1 {answer.status} {answer.reason}".rstrip(" ")]
    lines += [f"{name}: {value}" for name, value in answer.headers.multi_items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if method == "HEAD" or answer.status in (204, 304):
        return head
    return head + answer.content


def respond(
    status: int = 200,
    *,
    content: bytes | None = None,
    text: str | None = None,
    json: object = None,
    headers: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> RawResponse:
    """An answer as a server would send it: ``text`` as UTF-8 ``text/plain``, ``json``
    as ``application/json``, ``Content-Length`` set for a body given; the given ``headers`` win; the
    reason phrase is the status's standard one unless given."""
    kind = None
    if text is not None:
        content, kind = text.encode(), "text/plain; charset=utf-8"
    elif json is not None:
        content, kind = jsonlib.dumps(json).encode(), "application/json"
    pairs = [(k.lower(), v) for k, v in (headers or {}).items()]
    names = {k for k, _ in pairs}
    if kind is not None and "content-type" not in names:
        pairs.append(("content-type", kind))
    if content is None:
        content = b""  # as httpx: no body given, no Content-Length
    elif "content-length" not in names:
        pairs.append(("content-length", str(len(content))))
    if reason is None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = ""
    return RawResponse(status, reason, Headers(pairs), content)


def mock_http2(handler: Callable[[Any], Any]) -> HttpxTransport:
    """A transport for origin ``idx.example`` at the same seam as the HTTP/2 one, its httpx
    fed by ``httpx.MockTransport(handler)`` (an ``httpx.Request`` in, an ``httpx.Response``
    out): for what no real h2 server does on demand."""
    import httpx

    from support.httpx_transport import HttpxTransport

    return HttpxTransport(
        host="idx.example",
        ssl_context=None,
        proxy=None,
        max_connections=4,
        connect_timeout=5.0,
        read_timeout=5.0,
        transport=httpx.MockTransport(handler),
    )
