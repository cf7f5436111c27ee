"""The seam between ``HttpClient`` and the wire: one request in, one whole answer out
(its body either in ``RawResponse.content`` or, when the caller gave a ``SinkFactory``
that wanted it, fed piece by piece to a ``Sink`` as it arrived).

``HttpClient`` (``indexgate.index.http``) decides what to ask and what an answer means:
retries, deadlines, throttling, redirects, credentials, the cache. A ``Transport`` only
carries one exchange, and says in a ``TransportError`` why it could not. Its
implementations: ``http11.Pool`` (the lean HTTP/1.1 client), ``http2.Http2Transport``
(for servers that pick HTTP/2), ``files.FileTransport`` (``file://``), and
``router.Router``, which picks one of them per origin. Tests put their own transport
(``tests/support/mock_transport.py``) at the same seam.
"""

from __future__ import annotations

import ipaddress
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from indexgate.index.transport.headers import Headers

if TYPE_CHECKING:
    from indexgate.index.network import Proxy

Origin = tuple[str, str, int | None]  # scheme, lower-case host, port as written (or None)


_UNSAFE_TARGET = re.compile(r"[^\x21-\x7e]|[\"<>\\^`{|}]")


def authority_prefix(url: str) -> str:
    """The URL's ``scheme://authority`` part as written (the whole URL without "://"):
    what is parsed once per origin, not once per request."""
    start = url.find("://") + 3
    if start <= 3:
        return url
    end = url.find("/", start)  # the authority ends at the first "/", "?" or "#" after it
    if end < 0:
        end = len(url)
    found = url.find("?", start, end)
    if found >= 0:
        end = found
    found = url.find("#", start, end)
    if found >= 0:
        end = found
    return url[:end]


def origin_of(url: str) -> Origin:
    """Who a URL talks to: credentials, TLS settings and transports are per origin.

    Asked three times per request (limits, credentials, transport), so parsed once per
    distinct ``scheme://authority`` prefix: a warm run's 450 requests go to one origin."""
    return _authority(authority_prefix(url))[0]


# "scheme://authority" -> its origin and its Host as written (without userinfo)
_AUTHORITIES: dict[str, tuple[Origin, str]] = {}


def _authority(prefix: str) -> tuple[Origin, str]:
    """The origin and the Host of a ``scheme://authority`` prefix, parsed once (a prefix
    with userinfo is never kept: no credential stays in memory beyond its request)."""
    known = _AUTHORITIES.get(prefix)
    if known is None:
        parts = urlsplit(prefix)
        try:
            port = parts.port
        except ValueError:  # a link's "host:abc": urllib's words would quote the netloc
            raise InvalidURL("invalid port") from None
        origin = (parts.scheme, (parts.hostname or "").lower(), port)
        known = (origin, parts.netloc.rpartition("@")[2])
        if len(_AUTHORITIES) < 1024 and "@" not in prefix:
            _AUTHORITIES[prefix] = known
    return known


def split_target(url: str) -> tuple[str, str, str]:
    """An absolute URL's scheme, ``Host`` (without userinfo; an IDN host in its ASCII
    form) and origin-form target, as ``urlsplit`` reads them (tabs and line breaks
    dropped, the fragment cut). The scheme and host are parsed once per
    ``scheme://authority`` prefix (``_authority``, shared with ``origin_of``):
    ``urlsplit`` per request cost more than the rest of the request's head."""
    if "\t" in url or "\r" in url or "\n" in url:  # what urlsplit removes, before all
        url = url.replace("\t", "").replace("\r", "").replace("\n", "")  # else "http:\t//"
    prefix = authority_prefix(url)
    origin, host = _authority(prefix)
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise InvalidURL("invalid host name") from None
    path, _, query = url[len(prefix) :].partition("#")[0].partition("?")
    return origin[0], host, request_target(path, query)


def request_target(path: str, query: str) -> str:
    """The origin-form target; characters not allowed in a URL are %-encoded (as httpx)."""
    target = path or "/"
    if query:
        target = f"{target}?{query}"
    if _UNSAFE_TARGET.search(target) is None:
        return target
    return "".join(f"%{b:02X}" if _unsafe_byte(b) else chr(b) for b in target.encode("utf-8"))


def _unsafe_byte(b: int) -> bool:
    return b <= 0x20 or b >= 0x7F or chr(b) in '"<>\\^`{|}'


def eyeballs_delay(host: str) -> float | None:
    """``happy_eyeballs_delay`` for connecting to ``host``: a quarter second for a name,
    whose addresses (IPv6 and IPv4) are raced so that a dead one does not stall the
    connect; None for an IP address, which has one address to try: asyncio would still
    run its race (a task, an event and a timer per connection, ~0.2 ms of CPU) for it."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return 0.25
    return None


def causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what caused it, outermost first (``__cause__``, else ``__context__``)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


@dataclass(frozen=True, slots=True)
class Request:
    """One exchange to carry: ``url`` absolute (its userinfo, if any, is never sent as
    such: ``HttpClient`` turned it into ``Authorization`` already); ``headers`` in the
    order and spelling to send, without ``Host``, which the transport adds."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)


# -- errors ---------------------------------------------------------------------------------


class TransportError(Exception):
    """The exchange failed on the wire; asking again may work.

    ``name`` is what messages call the failure: the class name, or the name of the
    library error it stands for (``WriteTimeout``, ``DecodingError``: the tests' httpx
    transport at this seam names its failures so).
    """

    def __init__(self, *args: object, name: str | None = None) -> None:
        super().__init__(*args)
        self.name = name or type(self).__name__


class ConnectError(TransportError):
    pass


class ConnectTimeout(TransportError):
    pass


class ReadTimeout(TransportError):
    pass


class ReadError(TransportError):
    """The connection broke (closed, reset) before the answer was complete."""


class RemoteProtocolError(TransportError):
    """The server's bytes are not HTTP/1.1."""


class BodyTooLarge(TransportError):
    """The answer is larger than the cap: asking again would not help."""


class Unrecoverable(TransportError):
    """Asking again would not help (a certificate, a TLS alert, proxy credentials)."""


class CertificateError(Unrecoverable):
    """The server's certificate did not verify; ``reason`` is OpenSSL's verify message."""

    def __init__(self, reason: str, code: int | None = None) -> None:
        super().__init__(f"certificate verify failed: {reason}")
        self.reason = reason
        self.code = code
        self.trust = "the run's trust settings"  # what verified it; the router says which


class TLSError(Unrecoverable):
    """The TLS handshake failed, or the server ended the session with an alert."""

    def __init__(self, message: str, alert: str = "") -> None:
        super().__init__(message)
        self.alert = alert  # OpenSSL's reason, e.g. TLSV13_ALERT_CERTIFICATE_REQUIRED
        self.hint = ""  # what to do about it (the router knows the origin's client cert)


def tls_alert(exc: BaseException | None) -> TLSError | None:
    """The refusal of a server that ended the TLS session with an alert, else None.

    TLS 1.3: a server that refuses the client certificate says so with an alert after the
    handshake, so it arrives when the connection is lost, not when it is made."""
    if isinstance(exc, ssl.SSLError) and "ALERT" in str(exc.reason or ""):
        reason = str(exc.reason)
        return TLSError(f"the server ended the TLS session: {reason}", reason)
    return None


def lost_answer(exc: BaseException | None) -> TransportError:
    """What a connection lost before the answer was complete means (HTTP/1.1 and /2)."""
    alert = tls_alert(exc)
    if alert is not None:
        return alert
    why = f": {exc}" if exc else ""
    return ReadError(f"connection closed before the answer was complete{why}")


class ProxyError(ConnectError):
    """The proxy could not be reached, or did not open the tunnel (retried)."""


class ProxyAuthRefused(Unrecoverable):
    """The proxy answered 407: its credentials are missing or wrong."""


class ProxyRefused(Unrecoverable):
    """The proxy refused the tunnel by its policy (a 4xx answer to CONNECT, e.g. 403)."""


class InvalidURL(Unrecoverable):
    """The URL cannot be asked: a scheme no transport carries, a host name IDNA refuses."""


class DeadlineReached(TransportError):
    """The caller's total deadline for the exchange passed (however fast bytes came):
    asking again would not help."""


def connect_failure(exc: Exception, where: str, proxy: Proxy | None) -> Exception:
    """One of this package's errors for a failed connect (HTTP/1.1 and /2); OpenSSL's
    reasons kept."""
    via = f" through proxy {proxy.display}" if proxy is not None else ""
    if isinstance(exc, TimeoutError):  # before OSError: TimeoutError is one
        return ConnectTimeout(f"timed out connecting to {where}{via}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc.reason or exc)
        return CertificateError(reason, exc.verify_code)
    if isinstance(exc, ssl.SSLError) and not isinstance(
        exc, ssl.SSLEOFError | ssl.SSLZeroReturnError
    ):
        reason = str(exc.reason or exc)
        return TLSError(f"TLS handshake with {where} failed: {reason}", reason)
    if isinstance(exc, OSError):  # refused, unreachable, DNS, a closed tunnel
        return ConnectError(f"{where}{via}: {exc.strerror or exc or type(exc).__name__}")
    return ConnectError(f"{where}{via}: {type(exc).__name__}: {exc}")


class Http2Selected(Exception):
    """The TLS server chose HTTP/2 by ALPN: this origin needs an HTTP/2 client.

    ``transport``: the connection that learnt it, handed over (with the ``early`` bytes the
    server sent on it already, its HTTP/2 preface) so that the HTTP/2 client need not
    shake hands again; None for the requests that were only waiting for it."""

    def __init__(self, *args: object, transport: object = None, early: bytes = b"") -> None:
        super().__init__(*args)
        self.transport = transport
        self.early = early


class Sink(Protocol):
    """Where a streamed body goes: ``feed`` gets each piece of the decoded body, in order,
    as it arrives. It must not raise (a sink keeps its own failure for its owner to read):
    the transport is in the middle of reading a connection. A sink whose exchange failed
    is simply dropped; the caller's next attempt asks the factory for a new one."""

    def feed(self, data: bytes) -> None: ...


SinkFactory = Callable[[int, Headers], "Sink | None"]
"""Called once per exchange with the answer's status and headers, when its body is about
to be read: a ``Sink`` to stream that body into, or None to have it buffered as usual."""


@dataclass(frozen=True, slots=True)
class RawResponse:
    """One whole answer, its body decoded (``Content-Encoding``) and within the cap.

    ``sink``: the sink the whole body was fed to (``content`` is then empty)."""

    status: int
    reason: str
    headers: Headers
    content: bytes
    sink: Sink | None = None


class Transport(Protocol):
    """Carries one exchange at a time (many may be in flight); owns its connections."""

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        """The whole answer to ``request``: at most ``max_body`` bytes of body (else
        ``BodyTooLarge``), all of it within ``within`` seconds (None: no bound; else
        ``DeadlineReached``). Failures are ``TransportError``s; a 3xx, 4xx or 5xx is an
        answer, not an error.

        ``sink``: asked for a ``Sink`` once the answer's head is read; the body then goes
        there as it arrives, not into ``content``. A transport that cannot stream may
        ignore it (``HttpClient`` then feeds the buffered body to the sink itself)."""
        ...

    async def aclose(self) -> None:
        """Close every connection; the transport may be used again after."""
        ...
