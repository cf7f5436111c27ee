"""Credentials per origin: which ``Authorization`` a request carries, and one refresh of a
short-lived token.

Credentials belong to an origin (scheme, host, port): the first index to name it. A
request to any other origin (a redirect to a CDN, say) carries none, unless its URL has
userinfo of its own (as httpx reads it). An origin that answered 2xx with its credentials
and then 401 gets one refresh from its provider (``indexgate.credentials``: keyring,
a token command); ``HttpClient`` then asks once more.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Callable
from urllib.parse import unquote, urlsplit

from indexgate.index.transport.base import Origin, origin_of
from indexgate.redact import redact

log = logging.getLogger("indexgate.http")

Refresher = Callable[[], tuple[str, str]]


def basic(user: str, password: str) -> str:
    """The ``Authorization`` value for Basic auth (UTF-8, as httpx encodes it)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class OriginCredentials:
    """The run's credentials, by origin, with their ``Authorization`` values made once."""

    def __init__(self) -> None:
        self._auth: dict[Origin, tuple[str, str]] = {}
        # The Basic header of each origin, with the credentials it was made from.
        self._header: dict[Origin, tuple[tuple[str, str], str]] = {}
        self._refreshers: dict[Origin, Refresher] = {}
        self._refreshing: dict[Origin, asyncio.Future[bool]] = {}
        self._proven: set[Origin] = set()  # answered 2xx with its credentials

    def add(self, url: str, auth: tuple[str, str] | None) -> None:
        """Credentials for one origin; the first index to name an origin wins."""
        if auth is not None:
            self._auth.setdefault(origin_of(url), auth)

    def add_refresher(self, url: str, refresh: Refresher | None) -> None:
        """How to get new credentials for an origin when its token expires mid-run."""
        if refresh is not None:
            self._refreshers.setdefault(origin_of(url), refresh)

    def get(self, origin: Origin) -> tuple[str, str] | None:
        return self._auth.get(origin)

    def authorization(self, origin: Origin, auth: tuple[str, str] | None, url: str) -> str | None:
        """Basic auth for the index's own origin; else a URL's own userinfo (as httpx)."""
        if auth is not None:
            # Made again when ``auth`` is not what it was made from: a request that read
            # the credentials before a refresh must not put the old ones back for all.
            made = self._header.get(origin)
            if made is None or made[0] != auth:
                made = self._header[origin] = (auth, basic(*auth))
            return made[1]
        if "@" in url:
            parts = urlsplit(url)
            if "@" in parts.netloc and (parts.username or parts.password):
                return basic(unquote(parts.username or ""), unquote(parts.password or ""))
        return None

    async def refreshed(self, origin: Origin, used: tuple[str, str], status: int) -> bool:
        """After an answer with ``status`` to a request that carried ``used``: True when the
        origin's credentials were refreshed since, so the request is worth asking again
        (once per origin per run: a second expiry gets no second refresh)."""
        if 200 <= status < 300:
            self._proven.add(origin)
            return False
        if status != 401 or origin not in self._proven:
            return False
        task = self._refreshing.get(origin)
        if task is None and origin in self._refreshers:
            task = self._refreshing[origin] = asyncio.ensure_future(self._refresh(origin))
        return task is not None and await task and self._auth.get(origin) != used

    async def _refresh(self, origin: Origin) -> bool:
        """Ask the origin's provider once for new credentials (in a thread: it runs a
        command); False when it could not give any."""
        try:
            auth = await asyncio.to_thread(self._refreshers[origin])
        except Exception as exc:  # an InputError from the provider: the 401 stands
            log.warning("refreshing the credentials of %s failed: %s", origin[1], redact(str(exc)))
            return False
        self._auth[origin] = auth
        log.info("%s answered 401 after 200: credentials refreshed once", origin[1])
        return True
