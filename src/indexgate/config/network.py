"""The network part of the inputs: the run's CA bundle and proxies, read and checked.

Owns the precedence of the global CA bundle (``--cert`` > ``cert:`` > ``INDEXGATE_CERT`` >
``PIP_CERT`` > ``REQUESTS_CA_BUNDLE`` > the system store), the parsing of the proxy
variables (``https_proxy``, ``http_proxy``, ``all_proxy``, ``no_proxy`` as curl reads them),
and the checks that a CA bundle or client certificate file is usable (exit 2 naming where it
was given). It produces ``indexgate.settings.Network`` data; ``indexgate.index.network``
builds TLS contexts and matches proxies from that data.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from indexgate.errors import InputError
from indexgate.redact import no_password, register_secret
from indexgate.settings import IndexConfig, Network, Proxies, Proxy

# Global CA bundle variables, highest precedence first (after --cert and the config's cert:).
CERT_VARIABLES = ("INDEXGATE_CERT", "PIP_CERT", "REQUESTS_CA_BUNDLE")
_PROXY_PORTS = {"http": 80}


def parse_proxy(value: str, variable: str) -> Proxy:
    """A proxy URL as curl reads it (``host:port`` alone means ``http://``); exit 2 if bad."""
    text = value.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{variable}: not a proxy URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme != "http":
        raise InputError(
            f"{variable}: {scheme}:// proxies are not supported; give the proxy's http:// URL "
            "(an https index is still reached through a CONNECT tunnel, TLS end to end)"
        )
    host = parts.hostname or ""
    if not host:
        raise InputError(f"{variable}: the proxy URL names no host")
    user = unquote(parts.username) if parts.username else ""
    password = unquote(parts.password) if parts.password else ""
    register_secret(password)
    register_secret(parts.password)
    authorization = None
    if user or password:
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    port = port or _PROXY_PORTS[scheme]
    shown_host = f"[{host}]" if ":" in host else host
    display = f"{scheme}://{'***@' if authorization else ''}{shown_host}:{port}"
    return Proxy(host, port, display, variable, text, authorization)


def proxies_from_env(env: Mapping[str, str]) -> Proxies:
    """The run's proxies and ``no_proxy`` rules, as curl and requests read them; exit 2
    for a proxy URL that cannot be used."""

    def first(*names: str) -> Proxy | None:
        for name in names:
            value = env.get(name, "").strip()
            if value:
                return parse_proxy(value, name)
        return None

    every = first("all_proxy", "ALL_PROXY")
    http = first("http_proxy", "HTTP_PROXY") or every
    https = first("https_proxy", "HTTPS_PROXY") or every
    raw = env.get("no_proxy", "").strip() or env.get("NO_PROXY", "").strip()
    entries = tuple(e.lower() for e in re.split(r"[\s,]+", raw) if e)
    return Proxies(http, https, entries)


def global_cert(
    cli_cert: str | None, config_cert: str | None, env: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """The global CA bundle and where it came from, by precedence (see the module doc)."""
    if cli_cert:
        return cli_cert, "--cert"
    if config_cert:
        return config_cert, "the config's cert:"
    for name in CERT_VARIABLES:
        if env.get(name, "").strip():
            return env[name].strip(), name
    return None, None


_CHECKED: dict[str, ssl.SSLContext] = {}  # bundles checked by loading them, not yet used


def check_ca_bundle(path: str) -> str | None:
    """Why ``path`` cannot verify anything (None: it is a usable PEM CA bundle).

    The check loads the bundle into the TLS context the run will verify with, and keeps
    it for ``checked_context``: loading a bundle of a few hundred certificates costs
    20-40 ms, once is enough."""
    if not os.path.exists(path):
        return f"{path}: no such file"
    try:
        if os.path.isdir(path):
            context = ssl.create_default_context(capath=path)
        else:
            context = ssl.create_default_context(cafile=path)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{path}: not a PEM CA bundle ({ssl_reason(exc)})"
    if not os.path.isdir(path) and not context.get_ca_certs():
        return f"{path}: no CA certificate in it"
    _CHECKED[path] = context
    return None


def checked_context(path: str) -> ssl.SSLContext | None:
    """The context ``check_ca_bundle`` loaded ``path`` into, once (the caller changes it:
    ALPN, a client certificate); None when it was not checked in this process."""
    return _CHECKED.pop(path, None)


def check_client_cert(path: str) -> str | None:
    """Why ``path`` is not a PEM certificate with its unencrypted key (None: it is)."""
    if not os.path.isfile(path):
        return f"{path}: no such file"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        context.load_cert_chain(path, password=no_password)
    except (ssl.SSLError, OSError, ValueError) as exc:
        return f"{path}: not a PEM certificate with its unencrypted private key ({ssl_reason(exc)})"
    return None


def ssl_reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason) if reason else (getattr(exc, "strerror", None) or str(exc))


def network_settings(
    cli_cert: str | None,
    cfg_cert: str | None,
    cfg_cert_line: int | None,
    env: Mapping[str, str],
    cwd: Path,
    config_path: str | None,
    indexes: Sequence[IndexConfig],
) -> Network:
    """The run's CA bundle (``--cert`` > ``cert:`` > INDEXGATE_CERT > PIP_CERT >
    REQUESTS_CA_BUNDLE > the system store) and its proxies; a path that is not a usable
    bundle is exit 2, naming where it was given."""
    cert, origin = global_cert(cli_cert, cfg_cert, env)
    if cert is not None:
        cert = str(cwd / cert)
        problem = check_ca_bundle(cert)
        if problem is not None:
            if origin == "the config's cert:":
                raise InputError(f"cert: {problem}", file=config_path, line=cfg_cert_line)
            raise InputError(f"{origin}: {problem}")
    elif any(i.url.startswith("https:") for i in indexes):
        for var in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
            value = env.get(var, "")
            if value and not any((cwd / p).exists() for p in value.split(os.pathsep) if p):
                raise InputError(
                    f"{var}={value}: no such {'file' if var.endswith('FILE') else 'folder'}; "
                    "point it at your CA bundle or unset it to use the system trust store"
                )
    return Network(cert, origin, proxies_from_env(env))


def tls_file(
    value: str | None, key: str, line: int | None, cwd: Path, config_path: str | None
) -> str | None:
    """An index's ``cert:`` / ``client-cert:`` as an absolute path, checked (exit 2 if bad)."""
    if value is None:
        return None
    if not value.strip():
        raise InputError(f"{key} must be a file path", file=config_path, line=line)
    path = str(cwd / value)
    check = check_ca_bundle if key == "cert" else check_client_cert
    problem = check(path)
    if problem is not None:
        raise InputError(f"{key}: {problem}", file=config_path, line=line)
    return path
