"""Keep credentials out of everything a user can see.

Every secret indexgate reads is registered here; ``redact`` scrubs both the known
values and any ``user:password@`` userinfo in URLs from a string.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

from indexgate.lazy_re import LazyPattern

_lock = threading.Lock()
_secrets: set[str] = set()
# Compiled on the first ``redact``: a run that meets no error may never call it.
_USERINFO = LazyPattern(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/@\s]*@)")


def register_secret(value: str | None) -> None:
    """Remember a credential so that ``redact`` removes it wherever it appears."""
    if value and len(value) >= 3:
        with _lock:
            _secrets.add(value)


def known_secrets() -> list[str]:
    with _lock:
        return sorted(_secrets)


def no_password() -> bytes:
    """The passphrase callback for every client certificate load: OpenSSL must never
    prompt on the terminal for an encrypted key's passphrase (a CI job would hang)."""
    return b""


def redact(text: str) -> str:
    """Remove userinfo from URLs and every registered secret from ``text``."""
    text = _USERINFO.sub(lambda m: m.group("scheme") + "***@", text)
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "***")
    return text


def strip_userinfo(url: str) -> str:
    """The URL without any ``user:password@`` part (for display and cache keys)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
