"""HTTP for indexes, the policy half: bounded concurrency per host, retries, deadlines,
throttling, redirects, credentials per origin, and the cache.

Credentials are attached per request (``origin_auth``), only when the request's origin
(scheme, host, port) is the index's own; redirects are followed here, so a redirect to
another host never carries them. Deadlines and throttling are in ``limits``. ``file://``
URLs are served from disk with the same interface (no retries, cache or throttling: the
disk answers at once).

Carrying each exchange is the ``Transport``'s job (``indexgate.index.transport``): by
default its ``Router``, which sends ``http://`` and HTTP/1.1-over-TLS through the lean
HTTP/1.1 client (httpx cost ~1 ms of CPU per request and ~0.1 s of imports per run),
hands an origin whose TLS server picks HTTP/2 by ALPN to the lean HTTP/2 client (``h2``
on one connection), and reads ``file://``
from disk. Tests give ``transport=`` a mock transport at the same seam.

What every request sends besides ``Host``: ``User-Agent``, ``Accept: */*`` unless the
caller names one, and ``Accept-Encoding: gzip, deflate`` (httpx's default, so pages may
come compressed over real networks) except on ``Range`` requests, which ask for
``identity``: a byte range must be of the file's own bytes.

Streaming (``request(sink=...)``): a 2xx body the caller wants as it arrives (a project
page, parsed incrementally) goes to a ``BodySink`` the caller's factory makes per
attempt; the transport feeds it piece by piece, so the body is never held whole. The
answer then carries the sink and the body's sha256 (``Response.body_sha256``) instead of
its bytes, and the cache keeps that hash and the sink's ``summary`` (a page's parse), not
the body. Redirects and other answers are buffered as before; a failed attempt's sink is
dropped and the next attempt gets a new one.

The types this module hands on (``Response``, ``Stats``, ``HttpCache``...) and the
streaming plumbing live in ``responses`` (``Response`` and ``BodySinkFactory`` are also
importable from here).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from urllib.parse import urljoin

from indexgate import __version__
from indexgate.errors import DeadlineExceeded, IndexUnreachable
from indexgate.index.limits import Deadline, HostLimit, throttle_wait
from indexgate.index.network import Network
from indexgate.index.origin_auth import OriginCredentials, Refresher
from indexgate.index.responses import (
    BodySinkFactory,
    HttpCache,
    Response,
    Stats,
    Streaming,
    Tee,
    delivered,
    tee_factory,
    to_response,
)
from indexgate.index.transport.base import (
    BodyTooLarge,
    CertificateError,
    DeadlineReached,
    InvalidURL,
    Origin,
    ProxyError,
    Request,
    TLSError,
    Transport,
    TransportError,
    Unrecoverable,
    causes,
    origin_of,
)
from indexgate.index.transport.router import Router
from indexgate.redact import redact, strip_userinfo
from indexgate.settings import DEFAULT_CONCURRENCY, DEFAULT_MAX_BODY, DEFAULT_TIMEOUT

log = logging.getLogger("indexgate.http")

USER_AGENT = f"indexgate/{__version__}"
_MAX_REDIRECTS = 10
METADATA_MAX_BODY = 20 * 1024 * 1024  # METADATA / .metadata: real ones are kilobytes


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
        transport: Transport | None = None,
        network: Network | None = None,
        request_timeout: float = DEFAULT_TIMEOUT,
        max_time: float | None = None,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        """``transport`` carries every request (tests: a mock transport) instead of the
        run's ``Router``, which reaches the network and the disk; for the router,
        ``ssl_context`` replaces the default TLS context (the system trust store) and
        ``network`` is the run's CA bundle and proxies (``indexgate.index.network``;
        default: neither).

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
        self._hosts: dict[Origin, HostLimit] = {}  # requests in flight per origin
        self.index_names: dict[str, str] = {}  # index URL -> name, for messages
        self._last_request = ""  # "GET <url>" of the latest request, for messages
        self._backoff = backoff
        self._router: Router | None = None
        if transport is None:
            transport = self._router = Router(
                network=network,
                ssl_context=ssl_context,
                max_connections=self._concurrency,
                connect_timeout=min(timeout, 10.0),
                read_timeout=timeout,
                max_body=max_body,
            )
        self.transport: Transport = transport
        self._credentials = OriginCredentials()
        self.cache = cache
        self.stats = Stats()

    def add_credentials(self, url: str, auth: tuple[str, str] | None) -> None:
        """Credentials for one origin; the first index to name an origin wins."""
        self._credentials.add(url, auth)

    def add_tls(
        self, url: str, cert: str | None, client_cert: str | None, name: str | None = None
    ) -> None:
        """An index's own CA bundle and client certificate, for its origin only (a redirect
        to another host is verified with the run's default trust and sends no client
        certificate); the first index to name an origin wins. A transport given to the
        constructor has no TLS of its own: then nothing to do."""
        if self._router is not None and (cert is not None or client_cert is not None):
            where = f"cert: of index {name!r}" if name else "the index's cert:"
            self._router.add_tls(url, cert, client_cert, where)

    def add_refresher(self, url: str, refresh: Refresher | None) -> None:
        """How to get new credentials for an origin when its token expires mid-run."""
        self._credentials.add_refresher(url, refresh)

    async def aclose(self) -> None:
        """Close every connection (the client may still be used: it opens new ones)."""
        await self.transport.aclose()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        cacheable: bool = False,
        digest: str | None = None,
        max_body: int | None = None,
        sink: BodySinkFactory | None = None,
        reload: bool = False,
        background: bool = False,
    ) -> Response:
        """One logical request: redirects followed, retried on transient failure, within
        its total deadline (``--timeout``) and the run's (``--max-time``).

        ``digest`` ("sha256:<hex>") names the content of a file whose hash the index gave:
        the cache may then keep its bytes (or byte ranges) without ever revalidating.
        ``max_body`` lowers the cap on the answer's size for this request (metadata).
        ``sink``: a 2xx body goes to the sink it makes, as it arrives (see the module's
        doc); ``max_body`` holds for the streamed bytes too. ``reload``: ask without the
        cache's validators (an answer is still stored), for a body the cache did not keep.
        ``background``: nothing waits on the answer to ask the next thing (a probe of a
        file), so the request takes a host's slot only when no other request is waiting
        for one (``HostLimit``): the pages and metadata of the next level go first.
        """
        if url.startswith("file:"):
            return await self._local(method, url, self._cap(max_body), sink)
        deadline = self._deadline()
        self._last_request = f"{method} {url}"
        headers = headers or {}
        cap = self._cap(max_body)
        streaming = Streaming(sink, reload) if sink is not None or reload else None
        current = url
        chain: list[str] = []
        for _ in range(_MAX_REDIRECTS + 1):
            try:
                origin = origin_of(current)
            except InvalidURL as exc:  # a page's link or a redirect to "host:abc"
                raise self._unrecoverable(current, exc) from exc
            used = self._credentials.get(origin)
            args = (method, current, origin, headers, cacheable, digest, deadline, cap, streaming)
            response = await self._send(*args, background, auth=used)
            # A proven origin that starts saying 401: one refresh of its credentials.
            if used is not None and await self._credentials.refreshed(
                origin, used, response.status
            ):
                response = await self._send(*args, background, auth=self._credentials.get(origin))
            if response.status in (301, 302, 303, 307, 308) and "location" in response.headers:
                chain.append(current)
                current = urljoin(current, response.headers["location"])
                if method == "POST":
                    method = "GET"
                continue
            return replace(response, history=tuple(chain)) if chain else response
        raise IndexUnreachable(f"{redact(url)}: more than {_MAX_REDIRECTS} redirects")

    async def _local(
        self, method: str, url: str, max_body: int, sink: BodySinkFactory | None
    ) -> Response:
        """A ``file://`` URL: the disk's answer as it is (nothing to retry or cache; read
        whole, then fed to ``sink``)."""
        factory = tee_factory(sink, url)
        try:
            raw = await self.transport.exchange(
                Request(method, url), max_body=max_body, within=None, sink=factory
            )
        except BodyTooLarge as exc:
            raise IndexUnreachable(f"{url}: {exc}") from None
        return to_response(url, delivered(method, raw, factory))

    def _cap(self, max_body: int | None) -> int:
        return self._max_body if max_body is None else min(max_body, self._max_body)

    def _deadline(self) -> Deadline:
        """The request's deadline: the run's until it starts, then its own if sooner."""
        return Deadline(self._request_timeout, self.run_deadline, self._max_time)

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
        origin: Origin,
        headers: Mapping[str, str],
        cacheable: bool,
        digest: str | None,
        deadline: Deadline,
        max_body: int,
        streaming: Streaming | None,
        background: bool,
        *,
        auth: tuple[str, str] | None,
    ) -> Response:
        """One request to ``url`` (of ``origin``, carrying ``auth``, the origin's
        credentials), retried; redirects and credential refreshes are ``request``'s."""
        request_headers = headers  # the caller's, with the cache's validators if any
        factory = tee_factory(streaming.sink if streaming else None, url)
        cached = None
        if cacheable and self.cache is not None and not (streaming and streaming.reload):
            cached = self.cache.lookup(method, url, headers, digest, authed=auth is not None)
        if cached is not None:
            if cached.fresh:  # never, with credentials on either side (but hashed bytes)
                self.stats.cache_hits += 1
                return cached.response
            request_headers = {**headers, **cached.validators}
        last_error = ""
        failures = throttles = 0
        while True:
            limit = self._hosts.get(origin)
            if limit is None:
                limit = self._hosts[origin] = HostLimit(self._concurrency)
            queued = False  # waiting for a slot of the host (not yet sent)
            try:
                remaining = deadline.remaining()
                if remaining is not None and remaining <= 0:
                    raise TimeoutError
                if not limit.take(background):  # wait for a slot (within the run's deadline)
                    queued = True
                    if remaining is None:  # no --max-time: nothing bounds the wait, no timer
                        await limit.acquire(background)
                    else:
                        async with asyncio.timeout(remaining):
                            await limit.acquire(background)
                    queued = False
                deadline.start()
                handed_on = False
                try:
                    raw = await self.transport.exchange(
                        self._request(method, url, origin, request_headers, auth),
                        max_body=max_body,
                        within=deadline.remaining(),
                        sink=factory,
                    )
                finally:
                    handed_on = limit.release()
                if handed_on:
                    await _after_waiters()
            except (TimeoutError, DeadlineReached):
                # Held back by the host's throttling: say so, with what the host said.
                held = limit.words if queued and limit.throttling() else ""
                raise deadline.expired(method, url, last_error, held) from None
            except BodyTooLarge:  # asking again would not help
                hint = (
                    "the cap of metadata files"
                    if max_body < self._max_body
                    else "raise --max-body-size if such an answer is genuine"
                )
                raise IndexUnreachable(
                    f"{method} {redact(url)}: the answer is larger than {_size(max_body)} "
                    f"({hint}); refused, not retried"
                ) from None
            except Unrecoverable as exc:  # a certificate, a TLS alert, a 407 from a proxy
                raise self._unrecoverable(url, exc) from exc
            except TransportError as exc:
                failures += 1
                last_error = _why(exc)
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s %s: %s (attempt %d)", method, redact(url), last_error, failures)
                if failures >= self._retries:
                    raise self._unreachable(url, last_error) from None
                await deadline.pause(self._pause(failures), method, url, last_error)
                continue
            raw = delivered(method, raw, factory)
            size = raw.sink.size if isinstance(raw.sink, Tee) else len(raw.content)
            self.stats.count(method, size)
            if raw.status == 429 or (raw.status == 503 and "retry-after" in raw.headers):
                throttles += 1
                wait, last_error = throttle_wait(
                    raw, limit, throttles, self._backoff, deadline, method, url
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
            response = to_response(url, raw)
            if log.isEnabledFor(logging.DEBUG):  # redact() is not free; most runs are not -v
                log.debug("%s %s -> %d (%d bytes)", method, redact(url), raw.status, size)
            if cached is not None and response.status == 304:
                self.stats.revalidated += 1
                return self.cache.refresh(cached, response)  # type: ignore[union-attr]
            if cacheable and self.cache is not None:
                self.cache.store(
                    method, url, request_headers, response, digest, authed=auth is not None
                )
            return response

    def _unreachable(self, url: str, last_error: str) -> IndexUnreachable:
        return IndexUnreachable(
            f"{redact(url)} could not be reached after {self._retries} attempts ({last_error})"
        )

    def _unrecoverable(self, url: str, exc: Unrecoverable) -> IndexUnreachable:
        """The error of a failure that asking again would not mend, saying what to set;
        with ``-v``, the chain of causes (OpenSSL's own words) is logged too."""
        if isinstance(exc, CertificateError):
            message = (
                f"{url}: certificate verify failed: {exc.reason} (verified against "
                f"{exc.trust}). If the index's certificate comes from a "
                "company or private CA, give that CA's bundle: SSL_CERT_FILE=PATH, `cert: PATH` "
                "on the index in the config, or --cert PATH"
            )
        elif isinstance(exc, TLSError):
            message = f"{url}: {exc}{exc.hint}"
        else:
            message = f"{url}: {exc}"
        message = redact(message)
        if log.isEnabledFor(logging.INFO):
            chain = "".join(
                f"\n  caused by {type(cause).__name__}: {cause}" for cause in causes(exc)
            )
            log.info("%s%s", message, redact(chain))
        return IndexUnreachable(message)

    def _pause(self, failures: int) -> float:
        """The backoff before retry number ``failures``: exponential, with jitter."""
        import random  # here: only a failed request needs it

        return self._backoff * (2 ** (failures - 1)) * (1 + random.random())

    def _request(
        self,
        method: str,
        url: str,
        origin: Origin,
        headers: Mapping[str, str],
        auth: tuple[str, str] | None,
    ) -> Request:
        """What goes on the wire besides ``Host`` (the transport's): the caller's headers,
        the defaults it did not name, and the origin's credentials."""
        names = {name.lower() for name in headers}
        lines: list[tuple[str, str]] = [("User-Agent", USER_AGENT)]
        if "accept" not in names:
            lines.append(("Accept", "*/*"))
        if "accept-encoding" not in names:
            coding = "identity" if "range" in names else "gzip, deflate"
            lines.append(("Accept-Encoding", coding))
        lines.extend(headers.items())
        if "authorization" not in names:
            authorization = self._credentials.authorization(origin, auth, url)
            if authorization is not None:
                lines.append(("Authorization", authorization))
        return Request(method, url, tuple(lines))


def _why(exc: TransportError) -> str:
    """A transport failure in a few words: its name, and what a proxy failure was."""
    if isinstance(exc, ProxyError):
        return f"{exc.name}: {exc}"
    return exc.name


async def _after_waiters() -> None:
    """Let the requests just given a slot go out before this answer is processed.

    When a round of answers arrives together, each one's processing (the cache, the
    page, the caller) would otherwise run before the next request waiting for its slot is
    written, so the connections idled a round's worth of CPU between answer and request.
    Two turns of the loop: the woken requests run in the first, this answer in the next.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % (scale // 1024 or 1) == 0:
            return f"{n / scale:g} {unit}"
    return f"{n} bytes"
