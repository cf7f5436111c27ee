"""Company networks on the wire: the TLS contexts that verify each index, and which proxy a
request goes through. Built from the plain data of ``indexgate.settings.Network``, which
``indexgate.config.network`` reads and checks (its ``check_ca_bundle`` keeps the context
it loaded, for the run to verify with: one load of the bundle per run).

Trust, as pip (with truststore) and uv (``--native-tls``) do it: by default the operating
system's trust store, which on Linux is OpenSSL's default paths, so ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` work as users expect. An explicit bundle replaces it (as pip's ``--cert``
does), most specific first: an index's own ``cert:``; then ``--cert`` / ``cert:`` /
``INDEXGATE_CERT``; then ``PIP_CERT``, then ``REQUESTS_CA_BUNDLE`` (pip's own setting wins
over the requests variable, as in pip). certifi's bundle is used only when the system store
cannot be read at all (a container without ca-certificates).

Proxies, as curl and requests read them: ``https_proxy`` / ``HTTPS_PROXY`` for https URLs,
``http_proxy`` / ``HTTP_PROXY`` for http URLs, ``all_proxy`` / ``ALL_PROXY`` for both (the
lower-case spelling wins when both are set), and ``no_proxy`` / ``NO_PROXY``: ``*``; host
names matched on whole labels (``example.com`` and ``.example.com`` both cover
``example.com`` and ``a.example.com``); IP addresses and CIDR ranges; ``host:port`` entries
that match that port only. The proxy's credentials come from its URL; they are sent as
``Proxy-Authorization`` and shown nowhere (every display form is redacted).
"""

from __future__ import annotations

import ipaddress
import os
import re
import ssl

from indexgate.config.network import checked_context
from indexgate.redact import no_password
from indexgate.settings import Network, Proxies, Proxy

__all__ = [
    "Network",
    "Proxies",
    "Proxy",
    "TlsContexts",
    "bypasses",
    "proxy_for",
    "system_store",
]


_HASHED = re.compile(r"[0-9a-f]{8}\.[0-9]+")


# -- proxies ----------------------------------------------------------------------------------


def proxy_for(proxies: Proxies, scheme: str, host: str, port: int) -> Proxy | None:
    """The proxy a request to ``scheme://host:port`` goes through; None: direct."""
    proxy = proxies.https if scheme == "https" else proxies.http if scheme == "http" else None
    if proxy is None or bypasses(proxies.no_proxy, host, port):
        return None
    return proxy


def bypasses(entries: tuple[str, ...], host: str, port: int) -> bool:
    """True when ``no_proxy`` names ``host`` (and ``port``, if the entry has one)."""
    host = host.lower().strip("[]").rstrip(".")
    address = _ip(host)
    for entry in entries:
        if entry == "*":
            return True
        name, want_port = _split_port(entry)
        if want_port is not None and want_port != port:
            continue
        if address is not None:
            if "/" in name:
                try:
                    if address in ipaddress.ip_network(name, strict=False):
                        return True
                except ValueError:
                    pass
                continue
            if _ip(name) == address:
                return True
            continue
        name = name.lstrip(".").rstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False


def _split_port(entry: str) -> tuple[str, int | None]:
    """``host:port``, ``[v6]:port``, ``v6`` (several colons: no port) or ``host``."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else None
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        if port.isdigit():
            return host, int(port)
    return entry, None


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# -- trust ------------------------------------------------------------------------------------


def system_store() -> tuple[str | None, str | None]:
    """OpenSSL's default CA file and folder, each only if it holds certificates."""
    paths = ssl.get_default_verify_paths()
    cafile = paths.cafile if paths.cafile and os.path.isfile(paths.cafile) else None
    capath = paths.capath if paths.capath and _has_hashed_certs(paths.capath) else None
    return cafile, capath


def _has_hashed_certs(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return any(_HASHED.fullmatch(e.name) for e in entries)
    except OSError:
        return False


class TlsContexts:
    """One ``SSLContext`` per distinct (CA bundle, client certificate), made on first use.

    A context costs a few milliseconds to a tenth of a second (the system store has ~150
    certificates), so runs without https make none and runs with one bundle make one. Both
    the HTTP/1.1 and HTTP/2 clients use these same contexts.
    """

    def __init__(self, network: Network, default: ssl.SSLContext | None = None) -> None:
        self.network = network
        self._default = default  # the caller's own context for the default trust (tests)
        self._contexts: dict[tuple[str | None, str | None], ssl.SSLContext] = {}
        self._system: str | None = None

    def get(self, ca: str | None, client_cert: str | None) -> ssl.SSLContext:
        """The context verifying with ``ca`` (None: the run's default trust)."""
        key = (ca, client_cert)
        context = self._contexts.get(key)
        if context is None:
            context = self._contexts[key] = self._make(ca, client_cert)
        return context

    def _make(self, ca: str | None, client_cert: str | None) -> ssl.SSLContext:
        if ca is None and client_cert is None and self._default is not None:
            context = self._default
        else:
            bundle = ca or self.network.cert
            if bundle is not None:
                checked = checked_context(bundle)  # loaded when the settings were read
                if checked is not None:
                    context = checked
                elif os.path.isdir(bundle):
                    context = ssl.create_default_context(capath=bundle)
                else:
                    context = ssl.create_default_context(cafile=bundle)
            else:
                context = self._system_context()
            if client_cert is not None:
                context.load_cert_chain(client_cert, password=no_password)
        context.set_alpn_protocols(["h2", "http/1.1"])
        return context

    def _system_context(self) -> ssl.SSLContext:
        cafile, capath = system_store()
        if cafile or capath:
            paths = ", ".join(p for p in (cafile, capath) if p)
            self._system = f"the system trust store ({paths})"
            return ssl.create_default_context()
        try:
            import certifi
        except ImportError:  # nothing to trust: every https index fails, saying why
            self._system = "nothing (no readable system trust store, and no certifi)"
            return ssl.create_default_context()
        self._system = f"certifi's bundle {certifi.where()} (no readable system trust store)"
        return ssl.create_default_context(cafile=certifi.where())

    def describe(self, ca: str | None, ca_origin: str | None) -> str:
        """Which certificates verified a connection, in words, for error messages."""
        if ca is not None:
            return f"{ca} ({ca_origin or 'the index cert:'})"
        if self.network.cert is not None:
            return f"{self.network.cert} (from {self.network.cert_origin})"
        if self._default is not None and ca is None:
            return "the client's own TLS context"
        if self._system is None:
            cafile, capath = system_store()
            paths = ", ".join(p for p in (cafile, capath) if p) or "none found"
            return f"the system trust store ({paths})"
        return self._system
