"""HTTP for indexes: one pooled client per host, bounded concurrency, retries, safe auth.

Credentials are attached per request, only when the request's origin (scheme, host, port)
is the index's own; redirects are followed here, not by httpx, so a redirect to another
host never carries them. ``file://`` URLs are served from disk with the same interface.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
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
        self._ssl: ssl.SSLContext | None = None  # built once (~0.1 s), only for https
        self.cache = cache
        self.stats = Stats()

    def add_credentials(self, url: str, auth: tuple[str, str] | None) -> None:
        """Credentials for one origin; the first index to name an origin wins."""
        if auth is not None:
            self._auth.setdefault(origin_of(url), auth)

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
                        auth=httpx.BasicAuth(*auth) if auth else None,
                    )
                    content = await raw.aread() if method != "HEAD" else b""
            except httpx.TransportError as exc:
                last_error = type(exc).__name__
                log.debug("%s %s: %s (attempt %d)", method, redact(url), last_error, attempt + 1)
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
            log.debug("%s %s -> %d (%d bytes)", method, redact(url), raw.status_code, len(content))
            if cached is not None and response.status == 304:
                self.stats.revalidated += 1
                return self.cache.refresh(cached, response)  # type: ignore[union-attr]
            if cacheable and self.cache is not None:
                self.cache.store(method, url, request_headers, response, digest)
            return response
        raise IndexUnreachable(
            f"{redact(url)} could not be reached after {self._retries} attempts ({last_error})"
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
