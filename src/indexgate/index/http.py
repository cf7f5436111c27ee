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
import datetime as dt
import email.utils
import html
import json
import logging
import random
import re
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from indexgate import __version__
from indexgate.errors import DeadlineExceeded, IndexUnreachable, Throttled
from indexgate.index import wire
from indexgate.index.network import Network, Proxy, TlsContexts
from indexgate.index.wire import Headers
from indexgate.redact import redact, strip_userinfo

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("indexgate.http")

USER_AGENT = f"indexgate/{__version__}"
# Requests in flight per index host. uv's default (50 concurrent downloads) is what
# Artifactory and Nexus already see from CI today; a server that throttles bursts (JFrog
# answers them with 401s) is configured lower with --concurrency / `concurrency:`.
DEFAULT_CONCURRENCY = 50
_MAX_REDIRECTS = 10
DEFAULT_TIMEOUT = 60.0  # total deadline of one request (--timeout): connect, head and body
DEFAULT_MAX_TIME = 600.0  # deadline of the whole run (--max-time)
DEFAULT_MAX_BODY = 200 * 1024 * 1024  # the largest answer read (--max-body-size)
METADATA_MAX_BODY = 20 * 1024 * 1024  # METADATA / .metadata: real ones are kilobytes
# Throttle answers (429, 503 with Retry-After) waited out per request, besides the
# deadlines; and the longest exponential pause of a 429 that names no Retry-After.
_MAX_THROTTLES = 8
_MAX_THROTTLE_PAUSE = 30.0
_RECOVER_AFTER = 5.0  # seconds without a throttle answer before a host gets more requests
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
        network: Network | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        max_time: float | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        """``ssl_context`` replaces the default TLS context (the system trust store);
        ``transport`` sends every http(s) request through httpx with that transport
        (tests: ``httpx.MockTransport``) instead of the network; ``network`` is the run's
        CA bundle and proxies (``indexgate.index.network``; default: neither).

        ``timeout`` is the idle-read timeout (no byte for that long); ``request_timeout``
        the total deadline of one request from when it gets a slot, retries and their
        pauses included (``--timeout``); ``max_time`` the deadline of everything this
        client does, from now (``--max-time``); ``max_body`` the largest answer read
        (``--max-body-size``).
        """
        self._concurrency = max(1, concurrency)
        self._retries = max(1, retries)
        self._timeout = timeout
        self._request_timeout = request_timeout
        self._max_time = max_time
        self.run_deadline = None if max_time is None else time.monotonic() + max_time
        self._max_body = max_body
        self._hosts: dict[Origin, _HostLimit] = {}  # requests in flight per origin
        self.index_names: dict[str, str] = {}  # index URL -> name, for messages
        self._last_request = ""  # "GET <url>" of the latest request, for messages
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
        self._network = network or Network()
        self._tls = TlsContexts(self._network, ssl_context)  # made on first https use
        self._origin_tls: dict[Origin, tuple[str | None, str | None, str | None]] = {}
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

    def add_tls(
        self, url: str, cert: str | None, client_cert: str | None, name: str | None = None
    ) -> None:
        """An index's own CA bundle and client certificate, for its origin only (a redirect
        to another host is verified with the run's default trust and sends no client
        certificate); the first index to name an origin wins."""
        if cert is not None or client_cert is not None:
            where = f"cert: of index {name!r}" if name else "the index's cert:"
            self._origin_tls.setdefault(origin_of(url), (cert, where, client_cert))

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
        deadline: _Deadline,
        max_body: int,
    ) -> Response:
        """``_send``, plus one credential refresh when a proven origin starts saying 401."""
        origin = origin_of(url)
        used = self._auth.get(origin)
        response = await self._send(method, url, headers, cacheable, digest, deadline, max_body)
        if used is None:
            return response
        if 200 <= response.status < 300:
            self._proven.add(origin)
        elif response.status == 401 and origin in self._proven:
            task = self._refreshing.get(origin)
            if task is None and origin in self._refreshers:
                task = self._refreshing[origin] = asyncio.ensure_future(self._refresh(origin))
            if task is not None and await task and self._auth.get(origin) != used:
                response = await self._send(
                    method, url, headers, cacheable, digest, deadline, max_body
                )
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

    def _ssl_context(self, origin: Origin | None = None) -> ssl.SSLContext:
        """The TLS context of an https origin: its index's ``cert:`` / ``client-cert:``, else
        the run's CA bundle, else the system trust store (OpenSSL's default paths, so
        ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` work, as pip with truststore on Linux); ALPN
        offers h2 and http/1.1. One context per distinct combination, shared by the
        HTTP/1.1 pools and httpx."""
        ca, _where, client_cert = self._origin_tls.get(origin, (None, None, None))  # type: ignore[arg-type]
        return self._tls.get(ca, client_cert)

    def _proxy(self, origin: Origin) -> Proxy | None:
        scheme, host, port = origin
        return self._network.proxies.for_url(scheme, host, port or _DEFAULT_PORTS[scheme])

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
                ssl_context=(lambda: self._ssl_context(origin)) if scheme == "https" else None,
                proxy=self._proxy(origin),
                max_connections=self._concurrency,
                connect_timeout=self._connect_timeout,
                read_timeout=self._timeout,
                max_body=self._max_body,
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
                proxy = self._proxy(origin)
                client = httpx.AsyncClient(
                    verify=self._ssl_context(origin) if origin[0] == "https" else False,
                    http2=True,
                    proxy=proxy.url if proxy is not None else None,
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
        max_body: int | None = None,
    ) -> Response:
        """One logical request: redirects followed, retried on transient failure, within
        its total deadline (``--timeout``) and the run's (``--max-time``).

        ``digest`` ("sha256:<hex>") names the content of a file whose hash the index gave:
        the cache may then keep its bytes (or byte ranges) without ever revalidating.
        ``max_body`` lowers the cap on the answer's size for this request (metadata).
        """
        if url.startswith("file:"):
            return _file_response(method, url, headers or {}, self._cap(max_body))
        deadline = self._deadline()
        self._last_request = f"{method} {url}"
        current = url
        chain: list[str] = []
        for _ in range(_MAX_REDIRECTS + 1):
            response = await self._send_authed(
                method, current, headers or {}, cacheable, digest, deadline, self._cap(max_body)
            )
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                chain.append(current)
                current = urljoin(current, response.headers["location"])
                if method == "POST":
                    method = "GET"
                continue
            return replace(response, history=tuple(chain)) if chain else response
        raise IndexUnreachable(f"{redact(url)}: more than {_MAX_REDIRECTS} redirects")

    def _cap(self, max_body: int | None) -> int:
        return self._max_body if max_body is None else min(max_body, self._max_body)

    def _deadline(self) -> _Deadline:
        """The request's deadline: the run's until it starts, then its own if sooner."""
        return _Deadline(self._request_timeout, self.run_deadline, self._max_time)

    def check_run_deadline(self) -> None:
        """Raise ``DeadlineExceeded`` once the run's deadline has passed (the resolver's
        thread asks between its waits: a run also ends while it computes)."""
        run = self.run_deadline
        if run is not None and time.monotonic() >= run:
            method, _, url = self._last_request.partition(" ")
            url = strip_userinfo(url)
            index = next((n for u, n in self.index_names.items() if url.startswith(u)), None)
            where = f"index '{index}': " if index else ""
            after = f" (the last request: {method} {redact(url)})" if url else ""
            raise DeadlineExceeded(
                f"{where}the run deadline (--max-time {self._max_time:g} s) ran out before "
                f"the resolution finished{after}",
                "--max-time",
            )

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        cacheable: bool,
        digest: str | None = None,
        deadline: _Deadline | None = None,
        max_body: int | None = None,
    ) -> Response:
        origin = origin_of(url)
        deadline = deadline or self._deadline()
        max_body = self._max_body if max_body is None else max_body
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
        failures = throttles = 0
        while True:
            limit = self._hosts.get(origin)
            if limit is None:
                limit = self._hosts[origin] = _HostLimit(self._concurrency)
            queued = False  # waiting for a slot of the host (not yet sent)
            try:
                remaining = deadline.remaining()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                if not limit.take():  # wait for a slot (bounded by the run's deadline)
                    queued = True
                    async with asyncio.timeout(remaining):
                        await limit.acquire()
                    queued = False
                deadline.start()
                try:
                    raw = await self._exchange(
                        method, url, origin, request_headers, auth, max_body, deadline.remaining()
                    )
                finally:
                    limit.release()
            except (TimeoutError, wire.DeadlineReached):
                # Held back by the host's throttling: say so, with what the host said.
                held = limit.words if queued and limit.throttling() else ""
                raise deadline.expired(method, url, last_error, held) from None
            except wire.BodyTooLarge:  # asking again would not help
                hint = (
                    "the cap of metadata files"
                    if max_body < self._max_body
                    else "raise --max-body-size if such an answer is genuine"
                )
                raise IndexUnreachable(
                    f"{method} {redact(url)}: the answer is larger than {_size(max_body)} "
                    f"({hint}); refused, not retried"
                ) from None
            except wire.Unrecoverable as exc:  # a certificate, a TLS alert, a 407 from a proxy
                raise self._unrecoverable(url, origin, exc) from exc
            except self._errors as exc:
                failures += 1
                last_error = _why(exc)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s: %s (attempt %d)", method, redact(url), last_error, failures)
                if failures >= self._retries:
                    raise self._unreachable(url, last_error) from None
                await deadline.pause(self._pause(failures), method, url, last_error)
                continue
            self.stats.count(method, len(raw.content))
            if raw.status == 429 or (raw.status == 503 and "retry-after" in raw.headers):
                throttles += 1
                words = index_words(raw)
                last_error = f"throttled: {words}"
                wait = retry_after(raw.headers)
                limit.throttled(wait, words)
                if wait is None:  # no Retry-After: exponential from half a second, jittered
                    wait = (
                        max(self._backoff, 0.5) * 2 ** (throttles - 1) * (1 + random.random() / 2)
                    )
                    wait = min(_MAX_THROTTLE_PAUSE, wait)
                log.info(
                    "%s %s: throttled (HTTP %d), waiting %.3g s",
                    method,
                    redact(url),
                    raw.status,
                    wait,
                )
                if throttles > _MAX_THROTTLES:
                    raise Throttled(
                        f"{method} {redact(url)}: throttled: the index still answered {words} "
                        f"after {_MAX_THROTTLES} waits",
                        deadline.limit,
                    )
                if time.monotonic() + wait >= deadline.at:
                    raise Throttled(
                        f"{method} {redact(url)}: throttled: the index answered {words} and "
                        f"asked for {wait:.3g} s more, past the {deadline.what} "
                        f"({deadline.limit} {deadline.seconds:g} s)",
                        deadline.limit,
                    )
                await asyncio.sleep(wait)
                continue
            if raw.status >= 500:
                failures += 1
                last_error = f"HTTP {raw.status}"
                if failures >= self._retries:
                    raise self._unreachable(url, last_error)
                await deadline.pause(self._pause(failures), method, url, last_error)
                continue
            limit.succeeded()
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

    def _unreachable(self, url: str, last_error: str) -> IndexUnreachable:
        return IndexUnreachable(
            f"{redact(url)} could not be reached after {self._retries} attempts ({last_error})"
        )

    def _unrecoverable(self, url: str, origin: Origin, exc: wire.Unrecoverable) -> IndexUnreachable:
        """The error of a failure that asking again would not mend, saying what to set;
        with ``-v``, the chain of causes (OpenSSL's own words) is logged too."""
        ca, where, client_cert = self._origin_tls.get(origin, (None, None, None))
        if isinstance(exc, wire.CertificateError):
            message = (
                f"{url}: certificate verify failed: {exc.reason} (verified against "
                f"{self._tls.describe(ca, where)}). If the index's certificate comes from a "
                "company or private CA, give that CA's bundle: SSL_CERT_FILE=PATH, `cert: PATH` "
                "on the index in the config, or --cert PATH"
            )
        elif isinstance(exc, wire.TLSError):
            message = f"{url}: {exc}{_tls_hint(exc.alert, client_cert)}"
        else:
            message = f"{url}: {exc}"
        message = redact(message)
        if log.isEnabledFor(logging.INFO):
            chain = "".join(
                f"\n  caused by {type(cause).__name__}: {cause}" for cause in _causes(exc)
            )
            log.info("%s%s", message, redact(chain))
        return IndexUnreachable(message)

    def _pause(self, failures: int) -> float:
        """The backoff before retry number ``failures``: exponential, with jitter."""
        return self._backoff * (2 ** (failures - 1)) * (1 + random.random())

    async def _exchange(
        self,
        method: str,
        url: str,
        origin: Origin,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
        max_body: int | None = None,
        within: float | None = None,
    ) -> wire.RawResponse:
        """One request on the wire: the lean client, or httpx for HTTP/2 and tests;
        ``within``: the seconds left of its total deadline."""
        if self._transport is None and origin not in self._h2:
            if origin[0] not in _DEFAULT_PORTS:
                raise IndexUnreachable(f"{redact(url)}: not an http(s) URL")
            parts = urlsplit(url)
            pool = self._pool(origin, parts.hostname or "")
            proxy = pool.proxy if origin[0] == "http" else None
            head = self._head(method, parts, origin, headers, auth, proxy)
            try:
                raw = await pool.request(method, head, max_body=max_body, within=within)
                if proxy is not None and raw.status == 407:  # only a proxy answers 407
                    raise wire.proxy_auth_refused(proxy, f"407 {raw.reason}")
                return raw
            except wire.Http2Selected:
                log.debug("%s://%s speaks HTTP/2: using httpx for it", origin[0], origin[1])
                self._h2.add(origin)
        async with asyncio.timeout(within):
            return await self._exchange_httpx(
                method, url, origin, headers, auth, self._max_body if max_body is None else max_body
            )

    def _head(
        self,
        method: str,
        parts: SplitResult,
        origin: Origin,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
        proxy: Proxy | None = None,
    ) -> bytes:
        """The request line and headers for the lean client; through a proxy (plain http),
        the target is the whole URL and the proxy's credentials go in Proxy-Authorization."""
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
        if proxy is not None:
            target = f"{parts.scheme}://{host}{target}"
            if proxy.authorization is not None:
                lines.append(("Proxy-Authorization", proxy.authorization))
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
        max_body: int,
    ) -> wire.RawResponse:
        """httpx (HTTP/2, tests); the body is read as it streams in, and refused as soon as
        it passes ``max_body``."""
        client = self._client(origin)
        async with self._limits[origin]:
            request = client.build_request(method, url, headers=headers)
            try:
                raw = await client.send(request, auth=self._basic_auth(origin, auth), stream=True)
            except Exception as exc:
                if self._transport is None:
                    _raise_as_wire_error(exc, self._proxy(origin), origin)
                raise
            try:
                content = b"" if method == "HEAD" else await _read_capped(raw, max_body)
            finally:
                await raw.aclose()
        return wire.RawResponse(
            raw.status_code, raw.reason_phrase, Headers(raw.headers.multi_items()), content
        )


def _why(exc: BaseException) -> str:
    """A transport failure in a few words: its class, and what a proxy failure was."""
    if isinstance(exc, wire.ProxyError):
        return f"{type(exc).__name__}: {exc}"
    return type(exc).__name__


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (``__cause__``, else ``__context__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def _tls_hint(alert: str, client_cert: str | None) -> str:
    """What to do about a TLS handshake the server refused, by OpenSSL's reason."""
    alert = alert.upper()
    give = (
        "give one (PEM, certificate and unencrypted key) with `client-cert: PATH` on the index "
        "in the config"
    )
    if client_cert is None and "CERTIFICATE_REQUIRED" in alert:
        return f". The server asks for a client certificate: {give}"
    if client_cert is None and "HANDSHAKE_FAILURE" in alert:
        return f". If the server requires a client certificate, {give}"
    if client_cert is not None and any(
        word in alert for word in ("UNKNOWN_CA", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN")
    ):
        return f". The server refused the client certificate {client_cert}"
    if "WRONG_VERSION_NUMBER" in alert or "RECORD_LAYER_FAILURE" in alert:
        return ". The server does not speak TLS on this port: is the URL http://?"
    return ""


def _raise_as_wire_error(exc: Exception, proxy: Proxy | None, origin: Origin) -> None:
    """httpx's failures (the HTTP/2 path) as the lean client's, so both read the same."""
    import httpx

    if isinstance(exc, httpx.ProxyError) and proxy is not None:
        text = str(exc)
        if text.startswith(("407", "401")):  # only the proxy answers CONNECT
            raise wire.proxy_auth_refused(proxy, text) from exc
        raise wire.ProxyError(f"proxy {proxy.display}: {text}") from exc
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or str(cause.reason or cause)
            raise wire.CertificateError(reason, cause.verify_code) from exc
        if isinstance(cause, ssl.SSLError) and not isinstance(
            cause, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            reason = str(cause.reason or cause)
            raise wire.TLSError(f"TLS with {origin[1]} failed: {reason}", reason) from exc


async def _read_capped(raw: httpx.Response, max_body: int) -> bytes:
    declared = raw.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_body:
        raise wire.BodyTooLarge(f"body of {declared} bytes, more than {max_body}")
    parts: list[bytes] = []
    size = 0
    async for part in raw.aiter_bytes():
        size += len(part)
        if size > max_body:
            raise wire.BodyTooLarge(f"body larger than {max_body} bytes")
        parts.append(part)
    return b"".join(parts)


def _file_response(
    method: str, url: str, headers: Mapping[str, str], max_body: int = DEFAULT_MAX_BODY
) -> Response:
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
    if size > max_body:
        raise IndexUnreachable(f"{url}: file too large ({size} bytes, more than {max_body})")
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


# -- deadlines and throttling -------------------------------------------------------------


class _Deadline:
    """When one logical request must be over, and which option set that time.

    Until the request first gets a slot (``start``), only the run's deadline bounds it:
    time queued behind the host's other requests is not the request's own. From then on
    ``--timeout`` covers connecting, the answer, retries and their pauses.
    """

    __slots__ = ("at", "limit", "run_at", "seconds", "started", "timeout", "what")

    def __init__(self, timeout: float, run_at: float | None, max_time: float | None) -> None:
        self.timeout = timeout
        self.run_at = run_at
        self.started = False
        self.at = float("inf") if run_at is None else run_at  # time.monotonic()
        self.limit, self.seconds, self.what = "--max-time", max_time or 0.0, "run deadline"

    def start(self) -> None:
        if self.started:
            return
        self.started = True
        at = time.monotonic() + self.timeout
        if self.run_at is None or at < self.run_at:
            self.at = at
            self.limit, self.seconds, self.what = "--timeout", self.timeout, "request deadline"

    def remaining(self) -> float | None:
        """Seconds left; None when nothing bounds the request yet."""
        return None if self.at == float("inf") else self.at - time.monotonic()

    def expired(self, method: str, url: str, last_error: str, held: str = "") -> DeadlineExceeded:
        """The error for this deadline; ``held``: what the host said when it throttled, if
        that held this request back."""
        where = f"{method} {redact(url)}"
        ran_out = f"the {self.what} ({self.limit} {self.seconds:g} s) ran out"
        if last_error.startswith("throttled") or held:
            words = held or last_error.removeprefix("throttled: ")
            return Throttled(
                f"{where}: throttled: {ran_out} while the index answered {words}", self.limit
            )
        why = f" (last error: {last_error})" if last_error else ""
        return DeadlineExceeded(f"{where}: no complete answer; {ran_out}{why}", self.limit)

    async def pause(self, seconds: float, method: str, url: str, last_error: str) -> None:
        """Sleep before a retry, or fail now if the retry could not start in time."""
        if time.monotonic() + seconds >= self.at:
            raise self.expired(method, url, last_error)
        await asyncio.sleep(seconds)


class _HostLimit:
    """Requests in flight to one host: the configured concurrency, halved on a throttle
    answer (at most once a second, so one burst of 429s is one cut); after a quiet spell
    with no throttle answer, one more allowed per ``allowed`` successes (additive
    increase, as TCP recovers) up to the configured concurrency again; and no request
    starts before the time the last ``Retry-After`` named.
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.allowed = float(ceiling)
        self.active = 0
        self.resume_at = 0.0  # time.monotonic()
        self.words = ""  # what the host last said when it throttled
        self._cut_at = self._last = float("-inf")
        self._waiters: deque[asyncio.Future[None]] = deque()

    def throttled(self, wait: float | None, words: str) -> None:
        now = self._last = time.monotonic()
        self.words = words
        if now - self._cut_at >= 1.0:
            self.allowed = max(1.0, self.allowed / 2)
            self._cut_at = now
        if wait:
            self.resume_at = max(self.resume_at, now + wait)

    def throttling(self) -> bool:
        """Is the host still holding requests back, or not yet trusted with all of them?"""
        return time.monotonic() < self.resume_at or self.allowed < self.ceiling

    def take(self) -> bool:
        """A slot now, without waiting, if one is free (the usual case: no coroutine)."""
        if self.active < int(self.allowed) and not self._waiters and not self.resume_at:
            self.active += 1
            return True
        return False

    def succeeded(self) -> None:
        if self.allowed < self.ceiling and time.monotonic() - self._last >= _RECOVER_AFTER:
            self.allowed = min(float(self.ceiling), self.allowed + 1 / self.allowed)
            self._wake()

    async def acquire(self) -> None:
        delay = self.resume_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        elif self.resume_at:
            self.resume_at = 0.0  # the pause is over: back to the fast path
        if self.active < int(self.allowed) and not self._waiters:
            self.active += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # given a slot, then cancelled: pass it on
            elif waiter in self._waiters:
                self._waiters.remove(waiter)
            raise

    def release(self) -> None:
        self.active -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.active < int(self.allowed):
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.active += 1
                waiter.set_result(None)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % (scale // 1024 or 1) == 0:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"


def retry_after(headers: Headers) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds or an HTTP-date, taken
    relative to the answer's own ``Date`` when it has one, so clock skew does not count);
    None without a usable one."""
    value = headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        return float(value) if len(value) < 10 else 1e9
    when = _http_date(value)
    if when is None:
        return None
    now = _http_date(headers.get("date", "")) or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


def _http_date(value: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.S | re.I)
_WORDS_LIMIT = 200


def index_words(raw: wire.RawResponse) -> str:
    """What the index said, for a message: its status, and the text of its body (the
    ``message`` of a JSON error, the text of an HTML page), redacted and truncated."""
    status = f"HTTP {raw.status}" + (f" {raw.reason}" if raw.reason else "")
    text = _body_text(raw)
    if text and text.lower() != raw.reason.lower():
        if len(text) > _WORDS_LIMIT:
            text = text[: _WORDS_LIMIT - 1].rstrip() + "…"
        status += f': "{text}"'
    return redact(status)


def _body_text(raw: wire.RawResponse) -> str:
    body = raw.content[: 64 * 1024]
    kind = raw.headers.get("content-type", "").lower()
    if not body or not (not kind or "text" in kind or "json" in kind or "xml" in kind):
        return ""
    text = body.decode("utf-8", "replace")
    if "json" in kind or text.lstrip().startswith(("{", "[")):
        try:
            found = _json_message(json.loads(text))
        except ValueError:
            found = None
        if found:
            text = found
    text = html.unescape(_TAG.sub(" ", text))
    text = "".join(c if c.isprintable() else " " for c in text)
    return " ".join(text.split())


def _json_message(data: object, depth: int = 0) -> str | None:
    """The first ``message`` / ``detail`` / ``error`` string of a JSON error body."""
    if depth > 4:
        return None
    if isinstance(data, dict):
        for key in ("message", "detail", "error_description", "error", "errors", "title"):
            value = data.get(key)
            if isinstance(value, str) and value.strip():
                return value
            found = _json_message(value, depth + 1) if value is not None else None
            if found:
                return found
    if isinstance(data, list) and data:
        return _json_message(data[0], depth + 1)
    return None
