"""A ``Transport`` for unit tests: every exchange goes to a handler, at the seam where
production's ``Router`` sits (``indexgate.index.transport.base.Transport``).

So ``HttpClient``'s policy (retries, redirects, credentials per origin, throttling, the
cache) runs as in production, and the handler sees exactly the ``Request`` a real
transport would carry: its headers include the ``Authorization`` ``HttpClient`` chose.
For edge cases real servers do not produce on demand; the behaviour on real sockets is
tested against local servers in tests/integration.
"""

from __future__ import annotations

import inspect
import json as jsonlib
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus

from indexgate.index.transport.base import BodyTooLarge, RawResponse, Request
from indexgate.index.transport.headers import Headers

Handler = Callable[[Request], RawResponse | Awaitable[RawResponse]]


class MockTransport:
    """Answers each request with ``handler(request)`` (plain or async); the handler may
    raise a ``TransportError`` (``ConnectError``, ``ReadTimeout``...) as the wire would.
    A HEAD answer has no body, and a body over ``max_body`` is ``BodyTooLarge``, as on
    the real transports."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.closed = False

    async def exchange(
        self, request: Request, *, max_body: int, within: float | None = None
    ) -> RawResponse:
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        if request.method == "HEAD" and answer.content:
            return RawResponse(answer.status, answer.reason, answer.headers, b"")
        if len(answer.content) > max_body:
            raise BodyTooLarge(f"body of {len(answer.content)} bytes, more than {max_body}")
        return answer

    async def aclose(self) -> None:
        self.closed = True


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
