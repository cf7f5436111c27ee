"""The lean HTTP/1.1 client (``indexgate.index.transport.http11`` under ``HttpClient``) against real
sockets on 127.0.0.1: a scriptable server (``tests.support.scripted_server``) that closes
idle keep-alive connections, answers ``Connection: close``, sends chunked and gzip bodies,
stalls and sends garbage; TLS with HTTP/1.1, and the hand-off to the HTTP/2 client when
the server picks h2."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from support.scripted_server import ScriptedServer
from support.tls import H2Front

from indexgate.errors import IndexUnreachable
from indexgate.index.http import HttpClient
from indexgate.index.transport.base import ConnectTimeout, DeadlineReached, Request, origin_of
from indexgate.index.transport.http2 import Http2Transport
from indexgate.index.transport.http11 import Pool
from indexgate.index.transport.router import Router


def run(go: Callable[[HttpClient], Awaitable[Any]], **kwargs: Any) -> tuple[Any, HttpClient]:
    async def main() -> Any:
        http = HttpClient(backoff=0.0, **kwargs)
        try:
            return await go(http), http
        finally:
            await http.aclose()

    return asyncio.run(main())


def route_of(http: HttpClient, url: str) -> object:
    """The transport the client's router chose for ``url``'s origin."""
    assert isinstance(http.transport, Router)
    return http.transport.route(origin_of(url))


def pool_of(http: HttpClient, url: str) -> Pool:
    """The HTTP/1.1 pool of ``url``'s origin (the router keeps it after a hand-off to h2)."""
    assert isinstance(http.transport, Router)
    pool = http.transport._pools[origin_of(url)]
    assert isinstance(pool, Pool)
    return pool


# --- keep-alive and the pool -----------------------------------------------------------


def test_sequential_requests_share_one_connection(server: ScriptedServer) -> None:
    async def go(http: HttpClient) -> list[bytes]:
        return [(await http.request("GET", server.url + f"ok/{i}")).content for i in range(5)]

    bodies, http = run(go)
    assert bodies == [f"/ok/{i}".encode() for i in range(5)]
    assert server.connections == 1
    assert http.stats.requests == 5


def test_concurrency_bounds_connections_and_idle_ones_are_reused_last_in_first_out(
    server: ScriptedServer,
) -> None:
    async def go(http: HttpClient) -> None:
        burst = [http.request("GET", server.url + f"slow/{i}") for i in range(16)]
        assert {r.status for r in await asyncio.gather(*burst)} == {200}
        for i in range(4):
            await http.request("GET", server.url + f"ok/{i}")

    run(go, concurrency=4)
    assert server.connections <= 4 and server.most_open <= 4
    sequential = [r.connection for r in server.requests if r.path.startswith("/ok/")]
    assert len(set(sequential)) == 1, "idle connections are taken last in, first out"


def test_a_connection_the_server_closed_while_idle_is_never_reused(
    server: ScriptedServer,
) -> None:
    async def go(http: HttpClient) -> tuple[int, int]:
        await http.request("GET", server.url + "bye")
        pool = pool_of(http, server.url)
        for _ in range(100):  # until the loop has seen the server's FIN
            if pool.idle_count == 0:
                break
            await asyncio.sleep(0.01)
        idle_after_close = pool.idle_count
        response = await http.request("GET", server.url + "ok/after")
        return idle_after_close, response.status

    (idle_after_close, status), http = run(go)
    assert idle_after_close == 0
    assert status == 200
    assert server.connections == 2
    assert pool_of(http, server.url).replaced == 0, "the closed connection was not tried"


def test_a_reused_connection_that_dies_on_the_request_is_replaced_once(
    server: ScriptedServer, caplog: pytest.LogCaptureFixture
) -> None:
    async def go(http: HttpClient) -> list[int]:
        return [(await http.request("GET", server.url + "stale")).status for _ in range(2)]

    with caplog.at_level(logging.DEBUG, logger="indexgate.http"):
        statuses, http = run(go)
    assert statuses == [200, 200]
    assert [r.connection for r in server.requests] == [1, 1, 2]
    assert pool_of(http, server.url).replaced == 1
    assert "attempt" not in caplog.text, "no retry of HttpClient was needed"
    assert http.stats.requests == 2


def test_connection_close_and_http10_are_honoured(server: ScriptedServer) -> None:
    async def go(http: HttpClient) -> list[tuple[int, bytes]]:
        out = []
        for path in ("close", "close", "http10", "http10", "ok/1"):
            r = await http.request("GET", server.url + path)
            out.append((r.status, r.content))
        return out

    answers, http = run(go)
    assert answers == [
        (200, b"/close"),
        (200, b"/close"),
        (200, b"/http10"),
        (200, b"/http10"),
        (200, b"/ok/1"),
    ]
    assert server.connections == 5
    assert pool_of(http, server.url).replaced == 0


def test_chunked_head_304_and_5xx_keep_the_connection_usable(server: ScriptedServer) -> None:
    async def go(http: HttpClient) -> list[tuple[str, int, bytes]]:
        out = []
        for method, path in [
            ("GET", "chunked"),
            ("HEAD", "ok/head"),
            ("GET", "304"),
            ("GET", "ok/after"),
        ]:
            r = await http.request(method, server.url + path)
            out.append((method, r.status, r.content))
        return out

    answers, _ = run(go)
    assert answers == [
        ("GET", 200, b"chunk-encoded"),
        ("HEAD", 200, b""),
        ("GET", 304, b""),
        ("GET", 200, b"/ok/after"),
    ]
    assert server.connections == 1


def test_gzip_pages_are_asked_for_and_decoded_but_ranges_are_identity(
    server: ScriptedServer,
) -> None:
    async def go(http: HttpClient) -> bytes:
        page = await http.request("GET", server.url + "gzip")
        await http.request("GET", server.url + "ok/file", headers={"Range": "bytes=0-0"})
        return page.content

    content, _ = run(go)
    assert content == b"<html>" + b"page " * 500 + b"</html>"
    page, ranged = server.requests
    assert page.headers["accept-encoding"] == "gzip, deflate"
    assert ranged.headers["accept-encoding"] == "identity"
    assert ranged.headers["range"] == "bytes=0-0"
    assert page.headers["host"] == f"127.0.0.1:{server.port}"
    assert page.headers["user-agent"].startswith("indexgate/")
    assert page.headers["accept"] == "*/*"


def test_credentials_only_for_the_index_origin(server: ScriptedServer) -> None:
    with ScriptedServer() as other:

        async def go(http: HttpClient) -> None:
            http.add_credentials(server.url, ("ci", "wire-secret"))
            await http.request("GET", server.url + "ok/private")
            await http.request("GET", other.url + "ok/elsewhere")
            await http.request("GET", f"http://localhost:{server.port}/ok/another-host-name")

        run(go)
        assert other.requests[0].headers.get("authorization") is None
    first, by_name = server.requests
    assert first.headers["authorization"] == "Basic Y2k6d2lyZS1zZWNyZXQ="
    assert "authorization" not in by_name.headers


def test_userinfo_in_a_url_is_sent_as_basic_auth_when_no_index_names_the_origin(
    server: ScriptedServer,
) -> None:
    url = server.url.replace("http://", "http://u:p%40ss@") + "ok/userinfo"
    run(lambda http: http.request("GET", url))
    assert server.requests[0].headers["authorization"] == "Basic dTpwQHNz"  # u:p@ss
    assert server.requests[0].headers["host"] == f"127.0.0.1:{server.port}"


# --- failures: retried, then IndexUnreachable, never a traceback ------------------------------


@pytest.mark.parametrize(
    ("path", "error"),
    [("garbage", "RemoteProtocolError"), ("drop", "ReadError")],
)
def test_broken_answers_are_retried_then_unreachable(
    server: ScriptedServer, path: str, error: str
) -> None:
    with pytest.raises(IndexUnreachable, match=f"after 3 attempts \\({error}\\)"):
        run(lambda http: http.request("GET", server.url + path))
    assert len(server.requests) == 3
    assert server.connections == 3


def test_a_url_whose_port_is_no_number_is_unreachable_not_an_internal_error() -> None:
    # A page may link "http://host:abc/x.whl": urllib's ValueError was an internal error.
    with pytest.raises(IndexUnreachable, match=r"http://127\.0\.0\.1:abc/x\.whl: invalid port"):
        run(lambda http: http.request("HEAD", "http://127.0.0.1:abc/x.whl"))


@pytest.mark.parametrize("path", ["stall", "stall-body"])
def test_a_stalled_server_is_a_read_timeout(server: ScriptedServer, path: str) -> None:
    with pytest.raises(IndexUnreachable, match="ReadTimeout"):
        run(lambda http: http.request("GET", server.url + path), timeout=0.2, retries=2)
    assert len(server.requests) == 2


def test_a_connection_keeps_one_timer_across_its_exchanges(server: ScriptedServer) -> None:
    async def go(http: HttpClient) -> list[object]:
        timers = []
        for i in range(4):
            await http.request("GET", server.url + f"ok/{i}")
            (conn,) = pool_of(http, server.url)._idle
            timers.append(conn._timer)
        return timers

    timers, _ = run(go, timeout=30.0)
    assert server.connections == 1
    assert timers[0] is not None and all(timer is timers[0] for timer in timers)


def test_a_stall_after_a_fast_answer_on_a_kept_connection_is_a_read_timeout(
    server: ScriptedServer,
) -> None:
    async def go(http: HttpClient) -> None:
        await http.request("GET", server.url + "ok/1")
        await http.request("GET", server.url + "stall")

    with pytest.raises(IndexUnreachable, match="ReadTimeout"):
        run(go, timeout=0.3, retries=1)
    assert [r.connection for r in server.requests] == [1, 1]


def test_a_deadline_sooner_than_the_kept_timer_still_ends_the_exchange(
    server: ScriptedServer,
) -> None:
    async def go() -> None:
        pool = Pool(
            "127.0.0.1",
            server.port,
            ssl_context=None,
            max_connections=1,
            connect_timeout=5.0,
            read_timeout=30.0,  # the first exchange keeps a timer due in 30 s
            max_body=1000,
        )
        try:
            await pool.exchange(Request("GET", server.url + "ok/1"))
            with pytest.raises(DeadlineReached):
                await pool.exchange(Request("GET", server.url + "stall"), within=0.3)
        finally:
            await pool.aclose()

    asyncio.run(go())
    assert [r.connection for r in server.requests] == [1, 1]


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose connects hang: its listener's accept queue (backlog 0) is full."""
    with socket.socket() as listener, socket.socket() as filler:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        filler.connect(("127.0.0.1", port))  # takes the only place in the queue
        yield port


@pytest.mark.parametrize(
    ("connect_timeout", "within", "error"),
    [
        (5.0, 0.3, DeadlineReached),  # the caller's deadline comes first
        (0.3, 5.0, ConnectTimeout),  # the connect timeout comes first
        (0.3, None, ConnectTimeout),  # no deadline
    ],
)
def test_one_timer_bounds_a_connect_by_whichever_limit_comes_first(
    unanswered_port: int, connect_timeout: float, within: float | None, error: type
) -> None:
    async def go() -> None:
        pool = Pool(
            "127.0.0.1",
            unanswered_port,
            ssl_context=None,
            max_connections=1,
            connect_timeout=connect_timeout,
            read_timeout=30.0,
            max_body=1000,
        )
        try:
            with pytest.raises(error):
                await pool.exchange(
                    Request("GET", f"http://127.0.0.1:{unanswered_port}/"), within=within
                )
        finally:
            await pool.aclose()

    asyncio.run(asyncio.wait_for(go(), 10))


def test_a_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(IndexUnreachable, match="ConnectError"):
            run(lambda http: http.request("GET", f"http://127.0.0.1:{port}/"), retries=2)


def test_an_oversize_body_is_not_retried(server: ScriptedServer) -> None:
    with pytest.raises(IndexUnreachable, match="larger than 1000 bytes"):
        run(lambda http: http.request("GET", server.url + "big"), max_body=1000)
    assert len(server.requests) == 1


def test_5xx_is_retried_on_the_same_connection(server: ScriptedServer) -> None:
    with pytest.raises(IndexUnreachable, match=r"HTTP 503"):
        run(lambda http: http.request("GET", server.url + "status/503"))
    assert len(server.requests) == 3 and server.connections == 1


# --- TLS ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made here: no download, no openssl CLI).

    ``cryptography`` is in the ``test`` extra: a missing one fails, never skips."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "indexgate test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _server_context(certificate: tuple[Path, Path], alpn: list[str]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    context.set_alpn_protocols(alpn)
    return context


def _trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_http11_over_tls_stays_on_the_lean_client(certificate: tuple[Path, Path]) -> None:
    with ScriptedServer(_server_context(certificate, ["http/1.1"])) as tls:

        async def go(http: HttpClient) -> list[bytes]:
            return [(await http.request("GET", tls.url + f"ok/{i}")).content for i in range(3)]

        bodies, http = run(go, ssl_context=_trusting(certificate))
    assert bodies == [b"/ok/0", b"/ok/1", b"/ok/2"]
    assert tls.connections == 1
    assert isinstance(route_of(http, tls.url), Pool), "HTTP/2 was not needed"
    assert not http.transport._h2, "HTTP/2 was not needed"  # type: ignore[attr-defined]


def test_an_untrusted_certificate_says_so_and_is_not_retried(
    certificate: tuple[Path, Path],
) -> None:
    with ScriptedServer(_server_context(certificate, ["http/1.1"])) as tls:
        with pytest.raises(IndexUnreachable, match="certificate verify failed: self-signed"):
            run(lambda http: http.request("GET", tls.url + "ok/x"), retries=3)
        assert tls.requests == []
        assert tls.connections <= 1, "a certificate failure was retried"


def test_an_h2_server_is_handed_to_the_http2_client_with_its_connection(
    certificate: tuple[Path, Path],
) -> None:
    with (
        ScriptedServer() as backend,
        H2Front(backend.url, _server_context(certificate, ["h2"])) as h2_server,
    ):
        url = f"https://127.0.0.1:{h2_server.port}/"

        async def go(http: HttpClient) -> list[bytes]:
            burst = await asyncio.gather(*(http.request("GET", url + f"p/{i}") for i in range(8)))
            later = await http.request("GET", url + "later")
            return [r.content for r in [*burst, later]]

        bodies, http = run(go, ssl_context=_trusting(certificate))
    assert bodies == [f"/p/{i}".encode() for i in range(8)] + [b"/later"]  # the backend's
    assert sorted(h2_server.paths) == sorted([f"/p/{i}" for i in range(8)] + ["/later"])
    assert isinstance(route_of(http, url), Http2Transport)
    assert pool_of(http, url).connects == 0, "the h2 handshake was not kept as HTTP/1.1"
    # One handshake found out the protocol, and that connection carried every request
    # (the HTTP/2 client took it over); the other requests waited for it.
    assert h2_server.connections == 1, h2_server.connections
