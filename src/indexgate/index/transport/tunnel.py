"""Reaching an origin through a forward proxy (``indexgate.index.network``): an http
origin's connection goes to the proxy itself (requests then name the whole URL); an https
origin gets a ``CONNECT`` tunnel with TLS to the origin inside it, so the proxy sees
neither the requests nor the index's credentials. How the proxy refused is kept apart:
its credentials (407, never retried), its policy (403, never retried), or the way beyond
it (502, 503, 504: retried).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING

from indexgate.index.transport.base import (
    ConnectError,
    ProxyAuthRefused,
    ProxyError,
    ProxyRefused,
    RemoteProtocolError,
    eyeballs_delay,
)
from indexgate.index.transport.http11_parser import HEAD_LIMIT, encode_request

if TYPE_CHECKING:
    from indexgate.index.network import Proxy


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
            if len(self._buf) > HEAD_LIMIT:
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


async def through_proxy(
    proxy: Proxy,
    host: str,
    port: int,
    loop: asyncio.AbstractEventLoop,
    conn: asyncio.Protocol,
    context: ssl.SSLContext | None,
    raw: list[asyncio.BaseTransport],
) -> asyncio.Transport | None:
    """Connect ``conn`` to ``host:port`` by way of ``proxy``: for http, to the proxy itself;
    for https, through a CONNECT tunnel, TLS to the origin inside. Returns the TLS
    transport of a tunnel (None for http, where ``conn`` got its transport by
    ``connection_made``); ``raw`` gets the proxy connection under a tunnel, to abort it if
    the caller gives up."""
    if context is None:
        try:
            await loop.create_connection(
                lambda: conn,
                proxy.host,
                proxy.port,
                happy_eyeballs_delay=eyeballs_delay(proxy.host),
            )
        except OSError as exc:
            raise _proxy_unreachable(proxy, exc) from exc
        return None
    tunnel = _TunnelAnswer(loop, proxy)
    try:
        transport, _ = await loop.create_connection(
            lambda: tunnel,
            proxy.host,
            proxy.port,
            happy_eyeballs_delay=eyeballs_delay(proxy.host),
        )
    except OSError as exc:
        raise _proxy_unreachable(proxy, exc) from exc
    raw.append(transport)
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
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
        server_hostname=host,
    )
    if tls is None:
        raise ConnectError(f"the tunnel through proxy {proxy.display} closed")
    return tls  # type: ignore[return-value]
