"""HTTP for indexes: one pooled client per host, bounded concurrency, retries, safe auth.

Credentials are attached per request, only when the request's origin (scheme, host, port)
is the index's own; redirects are followed here, not by httpx, so a redirect to another
host never carries them. ``file://`` URLs are served from disk with the same interface.
"""

from __future__ import annotations

import asyncio
import logging
import random
import select
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from indexgate import __version__
from indexgate.errors import IndexUnreachable
from indexgate.redact import redact

log = logging.getLogger("indexgate.http")

USER_AGENT = f"indexgate/{__version__}"
_MAX_REDIRECTS = 10
_MAX_BODY = 512 * 1024 * 1024


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    reason: str
    headers: httpx.Headers
    content: bytes
    from_cache: bool = False

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


@dataclass
class Stats:
    """What the run cost on the wire; the benchmark prints these."""

    requests: int = 0
    bytes: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    cache_hits: int = 0
    revalidated: int = 0

    def count(self, method: str, nbytes: int) -> None:
        self.requests += 1
        self.bytes += nbytes
        self.by_method[method] = self.by_method.get(method, 0) + 1


def origin_of(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


class HttpClient:
    """Async HTTP shared by every index and target of a run."""

    def __init__(
        self,
        *,
        concurrency: int = 16,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 0.25,
        cache: HttpCache | None = None,
    ) -> None:
        self._concurrency = max(1, concurrency)
        self._retries = max(1, retries)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self._backoff = backoff
        self._clients: dict[tuple[str, str, int | None], httpx.AsyncClient] = {}
        self._limits: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}
        self._auth: dict[tuple[str, str, int | None], tuple[str, str]] = {}
        self._basic: dict[tuple[str, str, int | None], httpx.BasicAuth] = {}
        self._ssl: ssl.SSLContext | None = None  # built once (~0.1 s), only for https
        self.cache = cache
        self.stats = Stats()

    def add_credentials(self, url: str, auth: tuple[str, str] | None) -> None:
        """Credentials for one origin; the first index to name an origin wins."""
        if auth is not None:
            self._auth.setdefault(origin_of(url), auth)

    def _basic_auth(
        self, origin: tuple[str, str, int | None], auth: tuple[str, str] | None
    ) -> httpx.BasicAuth | None:
        """One ``BasicAuth`` per origin (it is stateless), not one per request."""
        if auth is None:
            return None
        basic = self._basic.get(origin)
        if basic is None:
            basic = self._basic[origin] = httpx.BasicAuth(*auth)
        return basic

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _client(self, origin: tuple[str, str, int | None]) -> httpx.AsyncClient:
        client = self._clients.get(origin)
        if client is None:
            if origin[0] == "https" and self._ssl is None:
                self._ssl = httpx.create_ssl_context(trust_env=False)
            client = httpx.AsyncClient(
                verify=self._ssl if origin[0] == "https" else False,  # plain http: no TLS
                http2=True,
                timeout=self._timeout,
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
                limits=httpx.Limits(
                    max_connections=self._concurrency,
                    max_keepalive_connections=self._concurrency,
                ),
                trust_env=False,
            )
            _use_asyncio_streams(client)
            self._clients[origin] = client
            self._limits[origin] = asyncio.Semaphore(self._concurrency)
        return client

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cacheable: bool = False,
        digest: str | None = None,
    ) -> Response:
        """One logical request: redirects followed, retried on transient failure.

        ``digest`` ("sha256:<hex>") names the content of a file whose hash the index gave:
        the cache may then keep its bytes (or byte ranges) without ever revalidating.
        """
        if url.startswith("file:"):
            return _file_response(method, url, headers or {})
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._send(method, current, headers or {}, cacheable, digest)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                current = urljoin(current, response.headers["location"])
                if method == "POST":
                    method = "GET"
                continue
            return response
        raise IndexUnreachable(f"{redact(url)}: more than {_MAX_REDIRECTS} redirects")

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        cacheable: bool,
        digest: str | None = None,
    ) -> Response:
        origin = origin_of(url)
        client = self._client(origin)
        request_headers = dict(headers)
        auth = self._auth.get(origin)
        cached = None
        if cacheable and self.cache is not None:
            cached = self.cache.lookup(method, url, request_headers, digest)
        if cached is not None:
            # With credentials, a page is asked again every run even when fresh, so an
            # auth failure is never hidden by the cache; hashed file bytes cannot change.
            if cached.fresh and (auth is None or digest is not None):
                self.stats.cache_hits += 1
                return cached.response
            request_headers.update(cached.validators)
        last_error = ""
        for attempt in range(self._retries):
            if attempt:
                await asyncio.sleep(self._backoff * (2 ** (attempt - 1)) * (1 + random.random()))
            try:
                async with self._limits[origin]:
                    raw = await client.request(
                        method,
                        url,
                        headers=request_headers,
                        auth=self._basic_auth(origin, auth),
                    )
                    content = await raw.aread() if method != "HEAD" else b""
            except httpx.TransportError as exc:
                last_error = type(exc).__name__
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s %s: %s (attempt %d)", method, redact(url), last_error, attempt + 1
                    )
                continue
            self.stats.count(method, len(content))
            if raw.status_code >= 500:
                last_error = f"HTTP {raw.status_code}"
                continue
            response = Response(
                url=url,
                status=raw.status_code,
                reason=raw.reason_phrase,
                headers=raw.headers,
                content=content,
            )
            if log.isEnabledFor(logging.DEBUG):  # redact() is not free; most runs are not -v
                log.debug(
                    "%s %s -> %d (%d bytes)", method, redact(url), raw.status_code, len(content)
                )
            if cached is not None and response.status == 304:
                self.stats.revalidated += 1
                return self.cache.refresh(cached, response)  # type: ignore[union-attr]
            if cacheable and self.cache is not None:
                self.cache.store(method, url, request_headers, response, digest)
            return response
        raise IndexUnreachable(
            f"{redact(url)} could not be reached after {self._retries} attempts ({last_error})"
        )


# -- httpcore on plain asyncio streams ------------------------------------------------------
#
# httpx's default network layer is anyio's: every read and write enters an anyio cancel
# scope, and before each request the pool asks every idle connection whether its socket
# is readable through anyio's typed attributes (a getpeername and a dict of lambdas per
# connection per check). Profiled on the benchmark that was a third of indexgate's HTTP
# CPU. httpcore lets the network backend be replaced; this one does the same on asyncio
# streams, with the same exceptions. httpx, its pool, HTTP/1.1 and HTTP/2 are unchanged.


def _use_asyncio_streams(client: httpx.AsyncClient) -> None:
    """Give the client's connection pool the asyncio backend, where it has the usual
    shape (a test's mock transport, or another httpx version, keeps its own)."""
    import httpcore

    pool = getattr(getattr(client, "_transport", None), "_pool", None)
    if not isinstance(pool, httpcore.AsyncConnectionPool):
        return
    if hasattr(pool, "_network_backend") and not pool.connections:
        pool._network_backend = _AsyncioBackend()  # type: ignore[assignment]


class _AsyncioStream:
    """httpcore's ``AsyncNetworkStream`` on an asyncio stream pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._socket = writer.get_extra_info("socket")
        self._poller: select.poll | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        import httpcore

        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:  # before OSError: TimeoutError is one
            raise httpcore.ReadTimeout("timed out reading") from None
        except OSError as exc:
            raise httpcore.ReadError(str(exc) or type(exc).__name__) from exc

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        import httpcore

        if not buffer:
            return
        try:
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout("timed out writing") from None
        except OSError as exc:
            raise httpcore.WriteError(str(exc) or type(exc).__name__) from exc

    async def aclose(self) -> None:
        # As anyio does: close, let the loop run once, then drop whatever is left (a TLS
        # close_notify is not waited for).
        transport = self._writer.transport
        if not transport.is_closing():
            transport.close()
            await asyncio.sleep(0)
        transport.abort()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> _AsyncioStream:
        import httpcore

        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            await self.aclose()
            raise httpcore.ConnectTimeout("timed out in the TLS handshake") from None
        except (OSError, EOFError) as exc:  # ssl.SSLError is an OSError
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            await self.aclose()
            raise
        return self

    def _readable(self) -> bool:
        """Data or EOF waiting on the socket (httpcore's check, one poll object kept)."""
        if self._poller is None:
            fd = self._socket.fileno() if self._socket is not None else -1
            if fd < 0:
                return True
            self._poller = select.poll()
            self._poller.register(fd, select.POLLIN)
        return bool(self._poller.poll(0))

    def get_extra_info(self, info: str) -> object:
        if info == "is_readable":
            # Idle and readable means the server closed it (or sent junk): not reusable.
            return self._reader.at_eof() or self._readable()
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._socket
        return None


class _AsyncioBackend:
    """httpcore's ``AsyncNetworkBackend`` on ``asyncio.open_connection``."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[tuple[Any, ...]] | None = None,
    ) -> _AsyncioStream:
        import httpcore

        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(
                    host,
                    port,
                    local_addr=(local_address, 0) if local_address else None,
                    happy_eyeballs_delay=0.25,  # as anyio.connect_tcp
                )
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {host}:{port}") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        stream = _AsyncioStream(reader, writer)
        for option in socket_options or ():  # asyncio already sets TCP_NODELAY
            stream._socket.setsockopt(*option)
        return stream

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[tuple[Any, ...]] | None = None,
    ) -> _AsyncioStream:
        import httpcore

        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_unix_connection(path)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"timed out connecting to {path}") from None
        except OSError as exc:
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        stream = _AsyncioStream(reader, writer)
        for option in socket_options or ():
            stream._socket.setsockopt(*option)
        return stream

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _file_response(method: str, url: str, headers: Mapping[str, str]) -> Response:
    """Serve ``file://`` from disk; a folder becomes a PEP 503-style listing."""
    path = Path(unquote(urlsplit(url).path))
    if path.is_dir():
        index = path / "index.html"
        if index.is_file():
            body = index.read_bytes()
        else:
            links = "".join(
                f'<a href="{p.name}{"/" if p.is_dir() else ""}">{p.name}</a>\n'
                for p in sorted(path.iterdir())
            )
            body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        return Response(url, 200, "OK", httpx.Headers({"content-type": "text/html"}), body)
    if not path.is_file():
        return Response(url, 404, "Not Found", httpx.Headers(), b"")
    size = path.stat().st_size
    hdrs = httpx.Headers({"content-length": str(size)})
    if method == "HEAD":
        return Response(url, 200, "OK", hdrs, b"")
    if size > _MAX_BODY:
        raise IndexUnreachable(f"{url}: file too large ({size} bytes)")
    return Response(url, 200, "OK", hdrs, path.read_bytes())


class HttpCache(Protocol):
    """What the client needs of a persistent cache (``indexgate.index.cache``)."""

    def lookup(
        self, method: str, url: str, headers: Mapping[str, str], digest: str | None = None
    ) -> CachedResponse | None: ...

    def store(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        response: Response,
        digest: str | None = None,
    ) -> None: ...

    def refresh(self, cached: CachedResponse, not_modified: Response) -> Response: ...


@dataclass(frozen=True)
class CachedResponse:
    response: Response
    fresh: bool
    validators: dict[str, str]
    key: str
