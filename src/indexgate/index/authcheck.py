"""Prove an index's credentials before trusting its 404s.

first-index reads a 404 as "not here, try the next index". Behind a bad or expired token
many private indexes answer 404 for everything (CodeArtifact, GitLab, Artifactory with
"Hide Existence of Unauthorized Resources"), and a search that moves on hands every
internal name to the public index: dependency confusion. So before resolving, every index
that has credentials answers one request that must succeed with them:

- by default a HEAD of its root page (a GET, asking for the first bytes only, where HEAD is
  refused with 405/501): one round trip, never a whole PyPI-sized listing;
- with ``auth-check: <project>``, that project's page (HEAD, or GET where HEAD is refused):
  for indexes without a root page, or whose root page anyone may read.

Anything but 2xx (404, 401, 403, ...) or a login page fails the gate as ``auth-failure``
naming the index, before any project page is asked of any index. The checks run
concurrently. A token can also expire during the run, and a 404 then looks like "not here"
again: a project page answered 404 by an index whose last proof is older than
``REPROVE_AFTER`` seconds proves the credentials again before the search moves on
(``IndexClient.prove``).

A login page is how some set-ups refuse a wrong password: devpi-lockdown's nginx answers
with a 302 to ``/+login?goto_url=...``, whose page is 200 HTML. ``login_page`` recognizes
that shape (a redirect to another path of the same server, or a password form) on any page.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name

from indexgate.errors import IndexUnreachable
from indexgate.index.client_types import ACCEPT
from indexgate.index.http import HttpClient, Response, origin_of
from indexgate.lazy_re import LazyPattern
from indexgate.model import Problem
from indexgate.policy import env_name
from indexgate.redact import redact
from indexgate.settings import IndexConfig

_PASSWORD_FIELD = LazyPattern(rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.IGNORECASE)
SNIFF = 65536  # a login form sits near the top of its page (bytes read for it)
REPROVE_AFTER = 60.0  # seconds: a 404 after this long since the last proof proves again


def login_page(
    response: Response, requested: str, name: str | None = None, *, head: bytes | None = None
) -> str | None:
    """Why this 2xx answer is a login page rather than what was asked for, or None.

    ``name`` is the project whose page was asked for (None for an index's root page). A
    redirect to another path of the same server lands on something other than that page:
    a login form (devpi-lockdown), a portal, an "access denied" page. A page carrying a
    password field is a login form wherever it was served from. ``head``: the body's
    first bytes, when ``response`` does not hold its body (a streamed page).
    """
    if not 200 <= response.status < 300:
        return None
    if response.history:
        final = urlsplit(response.url)
        if origin_of(response.url) == origin_of(requested) and not _same_page(
            final.path, urlsplit(requested).path, name
        ):
            return f"redirected to {final.path} (a login page?)"
    if _PASSWORD_FIELD.search((response.content if head is None else head)[:SNIFF]):
        return "answered with a login form"
    return None


def _same_page(final: str, requested: str, name: str | None) -> bool:
    if final.rstrip("/") == requested.rstrip("/"):
        return True
    if name is None:
        return False
    last = final.rstrip("/").rpartition("/")[2]
    return canonicalize_name(last) == name  # /simple/Foo.Bar/ for foo-bar: the same page


async def check_index(http: HttpClient, index: IndexConfig) -> Problem | None:
    """One auth check; a Problem (kind ``auth-failure``) when the credentials fail it."""
    project = canonicalize_name(index.auth_check) if index.auth_check else None
    url = index.url if project is None else f"{index.url}{project}/"
    if index.format == "flat" and project is not None:
        url = index.url  # a flat page has no per-project pages
        project = None
    accept = {"Accept": ACCEPT}
    try:
        r = await http.request("HEAD", url, headers=accept)
        if r.status in (405, 501):  # HEAD refused: the first bytes are enough
            r = await http.request("GET", url, headers={**accept, "Range": "bytes=0-4095"})
    except IndexUnreachable as exc:
        return Problem(kind="index-unreachable", message=redact(str(exc)), index=index.name)
    login = login_page(r, url, project)
    if 200 <= r.status < 300 and login is None:
        return None
    what = f"the page of {project}" if project else "its root page"
    answer = login or f"answered HTTP {r.status}"
    file, line = _declared_at(index.origin)
    return Problem(
        kind="auth-failure",
        index=index.name,
        package=project,
        status_code=r.status,
        file=file,
        line=line,
        message=redact(
            f"index '{index.name}' ({index.url}) failed its auth check: {what} {answer} with the "
            f'configured credentials, so its 404s cannot be trusted to mean "not here". '
            f"{_advice(index, r.status, project, login)} indexgate asked no other index for "
            "anything."
        ),
    )


def _declared_at(origin: str) -> tuple[str | None, int | None]:
    """Where the index was configured, for annotations: a file (``path`` or ``path:line``),
    or nothing for the command line and environment variables."""
    if origin == "command line" or origin.startswith("-") or origin.isupper():
        return None, None
    path, sep, line = origin.rpartition(":")
    if sep and line.isdigit() and path:
        return path, int(line)
    return origin, None


def _advice(index: IndexConfig, status: int, project: str | None, login: str | None) -> str:
    env = "INDEXGATE_INDEX_" + env_name(index.name)
    text = (
        f"Check the credentials for index '{index.name}' (username/password, {env}_USERNAME/"
        f"_PASSWORD, keyring-provider, password-command or netrc); a token may have expired."
    )
    if project is None and status in (404, 405) and login is None:
        text += (
            " If this index has no root page, set `auth-check: <project>` to a project that "
            "exists on it."
        )
    elif project is not None and status == 404:
        text += f" If {project} is not on this index, name one that is in `auth-check:`."
    return text


def needs_proof(index: IndexConfig) -> bool:
    """An http(s) index with credentials."""
    return index.auth is not None and index.url.startswith(("http:", "https:"))


async def prove_credentials(
    prove: Callable[[IndexConfig], Awaitable[Problem | None]], indexes: tuple[IndexConfig, ...]
) -> list[Problem]:
    """Every index with credentials, checked concurrently (``prove``: the index client's,
    which remembers when each index last passed); the failures, in index order."""
    results = await asyncio.gather(*(prove(i) for i in indexes if needs_proof(i)))
    return [p for p in results if p is not None]
