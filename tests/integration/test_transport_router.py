"""The router of ``indexgate.index.transport``: which transport carries each origin, with
real servers on 127.0.0.1. Plain http and HTTP/1.1 over TLS stay on the lean client's
pool; a TLS server that picks h2 by ALPN is handed to the HTTP/2 client; ``file://`` is read from
disk; a proxy (tinyproxy) carries http and https unless ``no_proxy`` covers the host; a
scheme no transport knows is refused before any connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from support.scripted_server import ScriptedServer
from support.tinyproxy import Tinyproxy
from support.tls import H2Front, PrivateCa

from indexgate.config.network import parse_proxy
from indexgate.index.transport.base import InvalidURL, RawResponse, Request, origin_of
from indexgate.index.transport.files import FileTransport
from indexgate.index.transport.http2 import Http2Transport
from indexgate.index.transport.http11 import Pool
from indexgate.index.transport.router import Router
from indexgate.settings import Network, Proxies

CAP = 1 << 20


def _router(ca: PrivateCa | None = None, proxies: Proxies | None = None) -> Router:
    """A router as a run builds it: the CA's bundle as --cert, the proxies given."""
    network = Network(
        cert=str(ca.cert) if ca is not None else None,
        cert_origin="--cert" if ca is not None else None,
        proxies=proxies or Proxies(),
    )
    return Router(
        network=network,
        max_connections=4,
        connect_timeout=5.0,
        read_timeout=10.0,
        max_body=CAP,
    )


def _with(router: Router, go: Callable[[Router], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        try:
            return await go(router)
        finally:
            await router.aclose()

    return asyncio.run(main())


async def _get(router: Router, url: str) -> RawResponse:
    return await router.exchange(Request("GET", url), max_body=CAP, within=10.0)


def _proxied(proxy: Tinyproxy, no_proxy: tuple[str, ...] = ()) -> Proxies:
    http = parse_proxy(proxy.url, "http_proxy")
    https = parse_proxy(proxy.url, "https_proxy")
    return Proxies(http, https, no_proxy)


def test_plain_http_goes_to_the_origins_http11_pool_directly(server: ScriptedServer) -> None:
    router = _router()
    origin = origin_of(server.url)
    assert router.route(origin) is None  # nothing opened before the first request

    async def go(r: Router) -> list[bytes]:
        return [(await _get(r, server.url + f"ok/{i}")).content for i in range(3)]

    assert _with(router, go) == [b"/ok/0", b"/ok/1", b"/ok/2"]
    pool = router.route(origin)
    assert isinstance(pool, Pool) and pool.proxy is None
    assert (pool.host, pool.port) == ("127.0.0.1", server.port)
    assert pool.connects == 1 and server.connections == 1  # one keep-alive connection
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"


def test_an_ip_address_is_connected_without_a_happy_eyeballs_race(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name's addresses are raced (IPv6 and IPv4: a dead one must not stall the connect);
    an IP address has one address, so it is connected to directly (the race costs a task,
    an event and a timer per connection)."""
    delays: list[float | None] = []
    connect = asyncio.base_events.BaseEventLoop.create_connection

    async def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        delays.append(kwargs.get("happy_eyeballs_delay"))
        return await connect(self, *args, **kwargs)

    monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", recording)
    by_name = f"http://localhost:{server.port}/"

    async def go(r: Router) -> list[bytes]:
        return [(await _get(r, url + "ok/1")).content for url in (server.url, by_name)]

    assert _with(_router(), go) == [b"/ok/1", b"/ok/1"]
    assert delays == [None, 0.25]


def test_http11_over_tls_stays_on_the_pool(ca: PrivateCa) -> None:
    with ScriptedServer(ca.server_context(alpn=["http/1.1"])) as tls:
        router = _router(ca)
        answer = _with(router, lambda r: _get(r, tls.url + "ok/tls"))
        assert answer.content == b"/ok/tls"
        assert isinstance(router.route(origin_of(tls.url)), Pool)
        assert not router._h2, "HTTP/2 was not needed"


def test_a_tls_server_that_picks_h2_is_handed_to_the_http2_transport(
    ca: PrivateCa, server: ScriptedServer
) -> None:
    with H2Front(server.url, ca.server_context(alpn=["h2"])) as front:
        url = front.base_url + "/"
        origin = origin_of(url)
        router = _router(ca)

        async def go(r: Router) -> list[bytes]:
            first = await _get(r, url + "ok/first")  # the pool learns h2, then hands off
            assert isinstance(r.route(origin), Http2Transport)
            again = await _get(r, url + "ok/again")  # straight to HTTP/2 now
            return [first.content, again.content]

        assert _with(router, go) == [b"/ok/first", b"/ok/again"]
        assert isinstance(router.route(origin), Http2Transport)  # still h2 after aclose
        assert router._pools[origin].connects == 0, "the h2 handshake was not kept as HTTP/1.1"
        assert sorted(front.paths) == ["/ok/again", "/ok/first"]


def test_file_urls_are_read_from_disk_with_no_connection(tmp_path: Path) -> None:
    (tmp_path / "pkg-1.0.tar.gz").write_bytes(b"sdist bytes")
    router = _router()

    async def go(r: Router) -> tuple[RawResponse, RawResponse, RawResponse]:
        listing = await _get(r, tmp_path.as_uri() + "/")
        file = await _get(r, (tmp_path / "pkg-1.0.tar.gz").as_uri())
        missing = await _get(r, (tmp_path / "nothing").as_uri())
        return listing, file, missing

    listing, file, missing = _with(router, go)
    assert listing.status == 200 and b'href="pkg-1.0.tar.gz"' in listing.content
    assert (file.status, file.content) == (200, b"sdist bytes")
    assert missing.status == 404
    assert isinstance(router.route(origin_of(tmp_path.as_uri())), FileTransport)
    assert not router._pools and not router._h2


def test_a_proxy_carries_http_and_https_unless_no_proxy_covers_the_host(
    ca: PrivateCa, server: ScriptedServer, proxy: Tinyproxy
) -> None:
    with ScriptedServer(ca.server_context(alpn=["http/1.1"])) as tls:
        router = _router(ca, _proxied(proxy))

        async def go(r: Router) -> list[bytes]:
            plain = await _get(r, server.url + "ok/plain")
            secure = await _get(r, tls.url + "ok/secure")
            return [plain.content, secure.content]

        assert _with(router, go) == [b"/ok/plain", b"/ok/secure"]
        for url in (server.url, tls.url):
            pool = router.route(origin_of(url))
            assert isinstance(pool, Pool) and pool.proxy is not None
            assert pool.proxy.port == proxy.port
        seen = proxy.requests()
        assert f"GET http://127.0.0.1:{server.port}/ok/plain HTTP/1.1" in seen  # absolute form
        assert any(r.startswith(f"CONNECT 127.0.0.1:{tls.port} ") for r in seen)  # a tunnel

        bypass = _router(ca, _proxied(proxy, no_proxy=("127.0.0.1",)))
        answer = _with(bypass, lambda r: _get(r, server.url + "ok/direct"))
        assert answer.content == b"/ok/direct"
        direct = bypass.route(origin_of(server.url))
        assert isinstance(direct, Pool) and direct.proxy is None
        assert not any("/ok/direct" in r for r in proxy.requests()), "no_proxy was ignored"


def test_an_h2_origin_behind_a_proxy_keeps_the_proxy(
    ca: PrivateCa, server: ScriptedServer, proxy: Tinyproxy
) -> None:
    with H2Front(server.url, ca.server_context(alpn=["h2"])) as front:
        url = front.base_url + "/"
        router = _router(ca, _proxied(proxy))
        answer = _with(router, lambda r: _get(r, url + "ok/h2"))
        assert answer.content == b"/ok/h2"
        h2 = router.route(origin_of(url))
        assert isinstance(h2, Http2Transport) and h2.proxy is not None
        assert h2.proxy.port == proxy.port
        tunnels = [r for r in proxy.requests() if r.startswith(f"CONNECT 127.0.0.1:{front.port} ")]
        assert len(tunnels) == 1  # the pool's ALPN probe, handed over to the HTTP/2 client


@pytest.mark.parametrize("url", ["ftp://idx.example/simple/", "gopher://idx.example/"])
def test_a_scheme_no_transport_carries_is_refused_before_any_connection(url: str) -> None:
    router = _router()
    with pytest.raises(InvalidURL, match="not an http"):
        _with(router, lambda r: _get(r, url))
    assert router.route(origin_of(url)) is None
