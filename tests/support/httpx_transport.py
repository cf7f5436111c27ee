"""httpx at the ``Transport`` seam, for tests: an ``httpx.MockTransport`` answers what no
real h2 server gives on demand (``mock_transport.mock_http2``). indexgate's own HTTP/2
client is ``indexgate.index.transport.http2``; httpx is a test dependency only.

One ``httpx.AsyncClient`` per origin, with that origin's TLS context and proxy (the router
gives them), its own redirects, auth and environment turned off: ``HttpClient`` decides
those. httpx's failures are raised as this package's (``base``), with httpx's class name
kept for messages, so retries and messages read the same on both transports; the body is
read as it streams in and refused as soon as it passes the cap.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from indexgate.index.transport.base import (
    BodyTooLarge,
    CertificateError,
    ConnectError,
    ConnectTimeout,
    DeadlineReached,
    ProxyError,
    RawResponse,
    ReadError,
    ReadTimeout,
    RemoteProtocolError,
    Request,
    Sink,
    SinkFactory,
    TLSError,
    TransportError,
    causes,
)
from indexgate.index.transport.headers import Headers
from indexgate.index.transport.tunnel import proxy_auth_refused

if TYPE_CHECKING:
    import httpx

    from indexgate.index.network import Proxy

# httpx's errors that have a namesake here; the others keep their name on a TransportError.
_SAME = {
    "ConnectError": ConnectError,
    "ConnectTimeout": ConnectTimeout,
    "ReadTimeout": ReadTimeout,
    "ReadError": ReadError,
    "RemoteProtocolError": RemoteProtocolError,
}


class HttpxTransport:
    """httpx for one origin (or, with ``transport``, for whatever httpx transport a test
    gives: ``httpx.MockTransport`` for the tests of this path)."""

    def __init__(
        self,
        *,
        host: str,
        ssl_context: ssl.SSLContext | None,
        proxy: Proxy | None,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.host = host
        self.proxy = proxy
        self._ssl_context = ssl_context
        self._max_connections = max(1, max_connections)
        self._limit = asyncio.Semaphore(self._max_connections)
        self._timeouts = (connect_timeout, read_timeout)
        self._transport = transport
        self._httpx: httpx.AsyncClient | None = None  # made on first use, again after aclose

    def _client(self) -> httpx.AsyncClient:
        client = self._httpx
        if client is None:
            _no_sniffio_search()
            import httpx

            connect_timeout, read_timeout = self._timeouts
            test = self._transport is not None
            client = self._httpx = httpx.AsyncClient(
                verify=self._ssl_context if self._ssl_context is not None else False,
                http2=not test,
                proxy=self.proxy.url if self.proxy is not None and not test else None,
                transport=self._transport,
                timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
                follow_redirects=False,
                limits=httpx.Limits(
                    max_connections=self._max_connections,
                    max_keepalive_connections=self._max_connections,
                ),
                trust_env=False,
            )
        return client

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        """The ``Transport`` seam, through httpx; the whole exchange within ``within``.
        A body ``sink`` asks for is streamed to it as httpx decodes it (``aiter_bytes``)."""
        try:
            async with asyncio.timeout(within):
                return await self._exchange(request, max_body, sink)
        except TimeoutError:
            raise DeadlineReached("the deadline passed before the answer was complete") from None

    async def _exchange(
        self, request: Request, max_body: int, sink: SinkFactory | None
    ) -> RawResponse:
        client = self._client()
        async with self._limit:
            try:
                sent = client.build_request(
                    request.method, _without_userinfo(request.url), headers=list(request.headers)
                )
                raw = await client.send(sent, stream=True)
            except Exception as exc:
                _raise_as_ours(exc, self.proxy, self.host)
                raise
            headers = Headers(raw.headers.multi_items())
            target = None
            if sink is not None and request.method != "HEAD":
                target = sink(raw.status_code, headers)
            try:
                if request.method == "HEAD":
                    content = b""
                else:
                    content = await _read_capped(raw, max_body, target)
            except Exception as exc:
                _raise_as_ours(exc, self.proxy, self.host)
                raise
            finally:
                await raw.aclose()
        return RawResponse(raw.status_code, raw.reason_phrase, headers, content, target)

    async def aclose(self) -> None:
        client, self._httpx = self._httpx, None
        if client is not None:
            await client.aclose()


def _without_userinfo(url: str) -> str:
    """httpx would turn a URL's userinfo into ``Authorization`` again: ``HttpClient``
    already chose which one to send."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _raise_as_ours(exc: Exception, proxy: Proxy | None, host: str) -> None:
    """httpx's failures as this package's, so both transports read the same; returns
    (and the caller re-raises ``exc``) for what is not a transport failure."""
    import httpx

    if isinstance(exc, TransportError):
        return
    if isinstance(exc, httpx.ProxyError) and proxy is not None:
        text = str(exc)
        if text.startswith(("407", "401")):  # only the proxy answers CONNECT
            raise proxy_auth_refused(proxy, text) from exc
        raise ProxyError(f"proxy {proxy.display}: {text}") from exc
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or str(cause.reason or cause)
            raise CertificateError(reason, cause.verify_code) from exc
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            reason = str(cause.reason or cause)
            raise TLSError(f"TLS with {host} failed: {reason}", reason) from exc
    if isinstance(exc, httpx.TransportError | httpx.DecodingError):
        name = type(exc).__name__
        ours = _SAME.get(name, TransportError)
        raise ours(str(exc), name=name) from exc


async def _read_capped(raw: httpx.Response, max_body: int, sink: Sink | None = None) -> bytes:
    """The decoded body within the cap; with ``sink``, fed to it as it comes (returns b"")."""
    declared = raw.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise BodyTooLarge(f"body of {declared} bytes, more than {max_body}")
    parts: list[bytes] = []
    size = 0
    async for part in raw.aiter_bytes():
        size += len(part)
        if size > max_body:
            raise BodyTooLarge(f"body larger than {max_body} bytes")
        if sink is not None:
            sink.feed(part)
        else:
            parts.append(part)
    return b"".join(parts)


def _no_sniffio_search() -> None:
    """httpcore imports ``sniffio`` on every lock it takes, inside ``try``; where sniffio is
    not installed, each of those imports searches the whole ``sys.path`` again (40 us a
    call, thousands a run: 2-4 % of a real run's CPU). Mark it missing once, as the import
    system does for a module known to be absent, so those imports fail at once."""
    import importlib.util
    import sys

    if "sniffio" not in sys.modules and importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]
