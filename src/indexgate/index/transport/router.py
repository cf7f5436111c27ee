"""Which transport carries each origin, and with which TLS settings and proxy.

``file://`` is read from disk (``files``); ``http://`` and ``https://`` start on the lean
HTTP/1.1 client (``http11.Pool``, one per origin), and an https origin whose server picks
HTTP/2 by ALPN is handed to the HTTP/2 client (``http2``) from then on. The company network
(``indexgate.index.network``) plugs in here: each https origin's TLS context (its index's
``cert:`` / ``client-cert:``, else the run's CA bundle, else the system trust store) and
each origin's proxy (``https_proxy``, ``no_proxy``...). A TLS failure leaves with what a
message needs: which certificates verified it, and what to do about a refused handshake.
"""

from __future__ import annotations

import logging
import ssl
from typing import TYPE_CHECKING

from indexgate.index.network import Network, Proxy, TlsContexts, proxy_for
from indexgate.index.transport.base import (
    CertificateError,
    Http2Selected,
    InvalidURL,
    Origin,
    RawResponse,
    Request,
    SinkFactory,
    TLSError,
    Transport,
    origin_of,
)
from indexgate.index.transport.files import FileTransport
from indexgate.index.transport.http11 import Pool

if TYPE_CHECKING:
    from indexgate.index.transport.http2 import Http2Transport

log = logging.getLogger("indexgate.http")

DEFAULT_PORTS = {"http": 80, "https": 443}


class Router:
    """The ``Transport`` of a run: routes each request to its origin's transport."""

    def __init__(
        self,
        *,
        network: Network | None = None,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int,
        connect_timeout: float,
        read_timeout: float,
        max_body: int,
    ) -> None:
        """``ssl_context`` replaces the default TLS context (the system trust store);
        ``network`` is the run's CA bundle and proxies (default: neither); the rest are
        each origin's connection limit, timeouts and cap on an answer's size."""
        self._network = network or Network()
        self._tls = TlsContexts(self._network, ssl_context)  # made on first https use
        self._origin_tls: dict[Origin, tuple[str | None, str | None, str | None]] = {}
        self._max_connections = max(1, max_connections)
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._max_body = max_body
        self._files = FileTransport()
        self._pools: dict[Origin, Pool] = {}
        self._h2: dict[Origin, Http2Transport] = {}  # origins whose server chose HTTP/2

    def add_tls(
        self, url: str, cert: str | None, client_cert: str | None, where: str | None = None
    ) -> None:
        """An index's own CA bundle and client certificate, for its origin only (a redirect
        to another host is verified with the run's default trust and sends no client
        certificate); ``where`` names the setting in messages; the first one wins."""
        if cert is not None or client_cert is not None:
            self._origin_tls.setdefault(origin_of(url), (cert, where, client_cert))

    def route(self, origin: Origin) -> Transport | None:
        """The transport now carrying ``origin`` (None before its first request)."""
        if origin[0] == "file":
            return self._files
        return self._h2.get(origin) or self._pools.get(origin)

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        origin = origin_of(request.url)
        try:
            h2 = self._h2.get(origin)
            if h2 is not None:
                return await h2.exchange(request, max_body=max_body, within=within, sink=sink)
            pool = self._pools.get(origin) or self._pool(origin)
            if pool is None:
                return await self._files.exchange(request, max_body=max_body, within=within)
            try:
                return await pool.exchange(request, max_body=max_body, within=within, sink=sink)
            except Http2Selected as selected:  # nothing of the answer was read yet
                log.debug("%s://%s speaks HTTP/2", origin[0], origin[1])
                h2 = self._h2.get(origin) or self._http2(origin)
                if selected.transport is not None:  # the connection that learnt it
                    h2.adopt(selected.transport, selected.early)  # type: ignore[arg-type]
                return await h2.exchange(request, max_body=max_body, within=within, sink=sink)
        except CertificateError as exc:
            ca, where, _ = self._origin_tls.get(origin, (None, None, None))
            exc.trust = self._tls.describe(ca, where)
            raise
        except TLSError as exc:
            exc.hint = tls_hint(exc.alert, self._origin_tls.get(origin, (None, None, None))[2])
            raise

    def _pool(self, origin: Origin) -> Pool | None:
        """A new origin's HTTP/1.1 pool; None for ``file://``."""
        scheme, host, port = origin
        if scheme == "file":
            return None
        if scheme not in DEFAULT_PORTS:
            raise InvalidURL("not an http(s) URL")
        pool = self._pools[origin] = Pool(
            host,
            port or DEFAULT_PORTS[scheme],
            ssl_context=(lambda: self.ssl_context(origin)) if scheme == "https" else None,
            proxy=self.proxy(origin),
            max_connections=self._max_connections,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
            max_body=self._max_body,
        )
        return pool

    def _http2(self, origin: Origin) -> Http2Transport:
        # Imported here: only an https origin whose server picks h2 needs the HTTP/2 client.
        from indexgate.index.transport.http2 import Http2Transport

        h2 = self._h2[origin] = Http2Transport(
            host=origin[1],
            port=origin[2] or DEFAULT_PORTS[origin[0]],
            ssl_context=self.ssl_context(origin) if origin[0] == "https" else None,
            proxy=self.proxy(origin),
            max_connections=self._max_connections,
            connect_timeout=self._connect_timeout,
            read_timeout=self._read_timeout,
        )
        return h2

    def ssl_context(self, origin: Origin) -> ssl.SSLContext:
        """The TLS context of an https origin: its index's ``cert:`` / ``client-cert:``, else
        the run's CA bundle, else the system trust store (OpenSSL's default paths, so
        ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` work, as pip with truststore on Linux); ALPN
        offers h2 and http/1.1. One context per distinct combination, shared by the
        HTTP/1.1 pools and the HTTP/2 connections."""
        ca, _where, client_cert = self._origin_tls.get(origin, (None, None, None))
        return self._tls.get(ca, client_cert)

    def proxy(self, origin: Origin) -> Proxy | None:
        """The proxy of an origin (the environment's, unless ``no_proxy`` covers it)."""
        scheme, host, port = origin
        return proxy_for(self._network.proxies, scheme, host, port or DEFAULT_PORTS[scheme])

    async def aclose(self) -> None:
        for pool in self._pools.values():  # kept: a closed pool opens new connections
            await pool.aclose()
        for h2 in self._h2.values():  # kept too: the origin still speaks HTTP/2
            await h2.aclose()


def tls_hint(alert: str, client_cert: str | None) -> str:
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
