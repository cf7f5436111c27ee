"""HTTP for indexes: one pooled client per host, bounded concurrency, retries, safe auth.

Credentials are attached per request, only when the request's origin (scheme, host, port)
is the index's own; redirects are followed here, so a redirect to another host never
carries them. ``file://`` URLs are served from disk with the same interface.

``http://`` and HTTP/1.1-over-TLS go through ``indexgate.index.wire``, a small HTTP/1.1
client (httpx cost ~1 ms of CPU per request and ~0.1 s of imports per run). When a TLS
server picks HTTP/2 by ALPN, that origin goes through ``httpx.AsyncClient(http2=True)``
from then on, imported only then. Tests route everything through httpx with a
``transport`` (``httpx.MockTransport``) instead.

What is sent as the lean client: ``Host``, ``User-Agent``, ``Accept: */*`` unless the
caller names one, and ``Accept-Encoding: gzip, deflate`` (httpx's default, so pages may
come compressed over real networks) except on ``Range`` requests, which ask for
``identity``: a byte range must be of the file's own bytes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from indexgate import __version__
from indexgate.errors import IndexUnreachable
from indexgate.index import wire
from indexgate.index.wire import Headers
from indexgate.redact import redact

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("indexgate.http")

USER_AGENT = f"indexgate/{__version__}"
# Requests in flight per index host. uv's default (50 concurrent downloads) is what
# Artifactory and Nexus already see from CI today; a server that throttles bursts (JFrog
# answers them with 401s) is configured lower with --concurrency / `concurrency:`.
DEFAULT_CONCURRENCY = 50
_MAX_REDIRECTS = 10
_MAX_BODY = 512 * 1024 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}

Origin = tuple[str, str, int | None]


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    reason: str
    headers: Headers
    content: bytes
    from_cache: bool = False
    history: tuple[str, ...] = ()  # the URLs that redirected here, first asked first

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


def origin_of(url: str) -> Origin:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


def _basic(user: str, password: str) -> str:
    """The ``Authorization`` value for Basic auth (UTF-8, as httpx encodes it)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class HttpClient:
    """Async HTTP shared by every index and target of a run."""

    def __init__(
        self,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        retries: int = 3,
        timeout: float = 30.0,
        backoff: float = 0.25,
        cache: HttpCache | None = None,
        ssl_context: ssl.SSLContext | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``ssl_context`` replaces the default TLS context (the system trust store);
        ``transport`` sends every http(s) request through httpx with that transport
        (tests: ``httpx.MockTransport``) instead of the network."""
        self._concurrency = max(1, concurrency)
        self._retries = max(1, retries)
        self._timeout = timeout
        self._connect_timeout = min(timeout, 10.0)
        self._backoff = backoff
        self._transport = transport
        self._pools: dict[Origin, wire.Pool] = {}
        self._h2: set[Origin] = set()  # origins whose server chose HTTP/2: httpx's
        self._clients: dict[Origin, httpx.AsyncClient] = {}
        self._limits: dict[Origin, asyncio.Semaphore] = {}
        self._auth: dict[Origin, tuple[str, str]] = {}
        self._auth_header: dict[Origin, str] = {}
        self._basic: dict[Origin, httpx.BasicAuth] = {}
        self._ssl = ssl_context  # built once (~0.1 s), only for https
        self._ssl_ready = False
        self._errors: tuple[type[Exception], ...] = (wire.TransportError,)
        self.cache = cache
        self.stats = Stats()
        # Short-lived tokens (index/credentials.py): an origin that answered 2xx with its
        # credentials and then 401 gets one refresh from its provider, then the retry.
        self._refreshers: dict[Origin, Callable[[], tuple[str, str]]] = {}
        self._refreshing: dict[Origin, asyncio.Future[bool]] = {}
        self._proven: set[Origin] = set()

    def add_credentials(self, url: str, auth: tuple[str, str] | None) -> None:
        """Credentials for one origin; the first index to name an origin wins."""
        if auth is not None:
            self._auth.setdefault(origin_of(url), auth)

    def add_refresher(self, url: str, refresh: Callable[[], tuple[str, str]] | None) -> None:
        """How to get new credentials for an origin when its token expires mid-run."""
        if refresh is not None:
            self._refreshers.setdefault(origin_of(url), refresh)

    async def _send_authed(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        cacheable: bool,
        digest: str | None,
    ) -> Response:
        """``_send``, plus one credential refresh when a proven origin starts saying 401."""
        origin = origin_of(url)
        used = self._auth.get(origin)
        response = await self._send(method, url, headers, cacheable, digest)
        if used is None:
            return response
        if 200 <= response.status < 300:
            self._proven.add(origin)
        elif response.status == 401 and origin in self._proven:
            task = self._refreshing.get(origin)
            if task is None and origin in self._refreshers:
                task = self._refreshing[origin] = asyncio.ensure_future(self._refresh(origin))
            if task is not None and await task and self._auth.get(origin) != used:
                response = await self._send(method, url, headers, cacheable, digest)
        return response

    async def _refresh(self, origin: Origin) -> bool:
        """Ask the origin's provider once for new credentials (in a thread: it runs a
        command); False when it could not give any."""
        try:
            auth = await asyncio.to_thread(self._refreshers[origin])
        except Exception as exc:  # an InputError from the provider: the 401 stands
            log.warning("refreshing the credentials of %s failed: %s", origin[1], redact(str(exc)))
            return False
        self._auth[origin] = auth
        self._auth_header.pop(origin, None)
        self._basic.pop(origin, None)
        log.info("%s answered 401 after 200: credentials refreshed once", origin[1])
        return True

    def _basic_auth(self, origin: Origin, auth: tuple[str, str] | None) -> httpx.BasicAuth | None:
        """One ``BasicAuth`` per origin (it is stateless), not one per request."""
        if auth is None:
            return None
        basic = self._basic.get(origin)
        if basic is None:
            import httpx

            basic = self._basic[origin] = httpx.BasicAuth(*auth)
        return basic

    def _ssl_context(self) -> ssl.SSLContext:
        """The TLS context of every https origin: the system trust store (OpenSSL's default
        paths, so ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` work, as pip with truststore on
        Linux); ALPN offers h2 and http/1.1."""
        if not self._ssl_ready:
            if self._ssl is None:
                self._ssl = ssl.create_default_context()
            self._ssl.set_alpn_protocols(["h2", "http/1.1"])
            self._ssl_ready = True
        return self._ssl  # type: ignore[return-value]

    async def aclose(self) -> None:
        for pool in self._pools.values():  # kept: a closed pool opens new connections
            await pool.aclose()
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def _pool(self, origin: Origin, host: str) -> wire.Pool:
        pool = self._pools.get(origin)
        if pool is None:
            scheme, _, port = origin
            pool = self._pools[origin] = wire.Pool(
                host,
                port or _DEFAULT_PORTS[scheme],
                ssl_context=self._ssl_context if scheme == "https" else None,
                max_connections=self._concurrency,
                connect_timeout=self._connect_timeout,
                read_timeout=self._timeout,
                max_body=_MAX_BODY,
            )
        return pool

    def _client(self, origin: Origin) -> httpx.AsyncClient:
        """The httpx client of an HTTP/2 origin (or of every origin, with ``transport``)."""
        client = self._clients.get(origin)
        if client is None:
            import httpx

            self._errors = (wire.TransportError, httpx.TransportError, httpx.DecodingError)
            if self._transport is not None:
                client = httpx.AsyncClient(
                    transport=self._transport,
                    timeout=httpx.Timeout(self._timeout, connect=self._connect_timeout),
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                    trust_env=False,
                )
            else:
                client = httpx.AsyncClient(
                    verify=self._ssl_context() if origin[0] == "https" else False,
                    http2=True,
                    timeout=httpx.Timeout(self._timeout, connect=self._connect_timeout),
                    follow_redirects=False,
                    headers={"User-Agent": USER_AGENT},
                    limits=httpx.Limits(
                        max_connections=self._concurrency,
                        max_keepalive_connections=self._concurrency,
                    ),
                    trust_env=False,
                )
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
        chain: list[str] = []
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._send_authed(method, current, headers or {}, cacheable, digest)
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                chain.append(current)
                current = urljoin(current, response.headers["location"])
                if method == "POST":
                    method = "GET"
                continue
            return replace(response, history=tuple(chain)) if chain else response
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
                raw = await self._exchange(method, url, origin, request_headers, auth)
            except wire.BodyTooLarge as exc:  # asking again would not help
                raise IndexUnreachable(f"{redact(url)}: {exc}") from None
            except self._errors as exc:
                last_error = type(exc).__name__
                if log.isEnabledFor(logging.DEBUG):
                    log.debug(
                        "%s %s: %s (attempt %d)", method, redact(url), last_error, attempt + 1
                    )
                continue
            self.stats.count(method, len(raw.content))
            if raw.status >= 500:
                last_error = f"HTTP {raw.status}"
                continue
            response = Response(url, raw.status, raw.reason, raw.headers, raw.content)
            if log.isEnabledFor(logging.DEBUG):  # redact() is not free; most runs are not -v
                log.debug(
                    "%s %s -> %d (%d bytes)", method, redact(url), raw.status, len(raw.content)
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

    async def _exchange(
        self,
        method: str,
        url: str,
        origin: Origin,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
    ) -> wire.RawResponse:
        """One request on the wire: the lean client, or httpx for HTTP/2 and tests."""
        if self._transport is None and origin not in self._h2:
            if origin[0] not in _DEFAULT_PORTS:
                raise IndexUnreachable(f"{redact(url)}: not an http(s) URL")
            parts = urlsplit(url)
            pool = self._pool(origin, parts.hostname or "")
            head = self._head(method, parts, origin, headers, auth)
            try:
                return await pool.request(method, head)
            except wire.Http2Selected:
                log.debug("%s://%s speaks HTTP/2: using httpx for it", origin[0], origin[1])
                self._h2.add(origin)
        return await self._exchange_httpx(method, url, origin, headers, auth)

    def _head(
        self,
        method: str,
        parts: SplitResult,
        origin: Origin,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
    ) -> bytes:
        """The request line and headers for the lean client."""
        host = parts.netloc.rpartition("@")[2]
        if not host.isascii():
            try:
                host = host.encode("idna").decode("ascii")
            except UnicodeError:
                raise IndexUnreachable(f"{redact(parts.geturl())}: invalid host name") from None
        names = {name.lower() for name in headers}
        lines: list[tuple[str, str]] = [("Host", host), ("User-Agent", USER_AGENT)]
        if "accept" not in names:
            lines.append(("Accept", "*/*"))
        if "accept-encoding" not in names:
            coding = "identity" if "range" in names else "gzip, deflate"
            lines.append(("Accept-Encoding", coding))
        lines.extend(headers.items())
        if "authorization" not in names:
            authorization = self._authorization(origin, auth, parts)
            if authorization is not None:
                lines.append(("Authorization", authorization))
        target = wire.request_target(parts.path, parts.query)
        return wire.encode_request(method, target, lines)

    def _authorization(
        self, origin: Origin, auth: tuple[str, str] | None, parts: SplitResult
    ) -> str | None:
        """Basic auth for the index's own origin; else a URL's own userinfo (as httpx)."""
        if auth is not None:
            value = self._auth_header.get(origin)
            if value is None:
                value = self._auth_header[origin] = _basic(*auth)
            return value
        if "@" in parts.netloc and (parts.username or parts.password):
            return _basic(unquote(parts.username or ""), unquote(parts.password or ""))
        return None

    async def _exchange_httpx(
        self,
        method: str,
        url: str,
        origin: Origin,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
    ) -> wire.RawResponse:
        client = self._client(origin)
        async with self._limits[origin]:
            raw = await client.request(
                method, url, headers=headers, auth=self._basic_auth(origin, auth)
            )
            content = await raw.aread() if method != "HEAD" else b""
        if len(content) > _MAX_BODY:
            raise wire.BodyTooLarge(f"body larger than {_MAX_BODY} bytes")
        return wire.RawResponse(
            raw.status_code, raw.reason_phrase, Headers(raw.headers.multi_items()), content
        )


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
        return Response(url, 200, "OK", Headers({"content-type": "text/html"}), body)
    if not path.is_file():
        return Response(url, 404, "Not Found", Headers(), b"")
    size = path.stat().st_size
    hdrs = Headers({"content-length": str(size)})
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
