"""Policy in one place: what each HTTP status means, per index and strategy; the names of
the strategies and fallbacks; and what ``--fail-on`` may name (``FAIL_ON``: the gate's
decision itself is ``report.outcome``'s).

Two separate lists, on purpose (see the contract): ``ignore-error-codes`` say "this
project is not here, try the next index" for a *project page*; ``quarantine-codes`` say
"this artifact is blocked, backtrack" for a *file or its .metadata*. uv uses one list for
both, so enabling backtracking on 403 also lets a 403 project page fall through to PyPI.

Each index carries an ``IndexPolicy`` (``IndexConfig.policy``): every listing path and
drift ask its ``on_page``, probes and metadata fetches its ``on_file``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, StrEnum
from functools import cache
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:  # for the type checker only: a Protocol class costs every start-up

    class _IndexLike(Protocol):
        """What a policy is built from: the fields of ``settings.IndexConfig``."""

        @property
        def name(self) -> str: ...
        @property
        def ignore_error_codes(self) -> frozenset[int]: ...
        @property
        def quarantine_codes(self) -> frozenset[int]: ...


class Strategy(StrEnum):
    FIRST_INDEX = "first-index"
    UNSAFE_FIRST_MATCH = "unsafe-first-match"
    UNSAFE_BEST_MATCH = "unsafe-best-match"


class Fallback(StrEnum):
    NEXT_VERSION = "next-version"
    NEXT_DISTRIBUTION = "next-distribution"


# What ``--fail-on`` may name, and the warning kinds each one makes fatal. The order is the
# order rules are named in (the summary's "Failed by", an annotation's title).
FAIL_ON: dict[str, frozenset[str]] = {
    "blocked": frozenset(),  # any blocked artifact, even one the resolution went around
    "warnings": frozenset(),  # any warning at all
    "yanked": frozenset({"yanked-pin"}),
    "shadowed": frozenset({"shadowed-name"}),
    "stuck": frozenset({"stuck"}),
    "pending": frozenset(),  # a blocked[] entry whose state is pending (a scan in progress)
    "not-from-index": frozenset({"not-from-index"}),
}


class PageAction(Enum):
    USE = "use"  # the index has the project: take its files
    NEXT = "next"  # not here: try the next index
    AUTH_FAILURE = "auth-failure"  # stop the search for this package, fail the gate
    SKIP_WITH_WARNING = "skip"  # unsafe strategies: skip this index, say so in the report
    ERROR = "error"  # anything else: fail closed


class FileAction(Enum):
    OK = "ok"
    BLOCKED = "blocked"  # quarantined: skip this artifact and backtrack
    AUTH_FAILURE = "auth-failure"
    ERROR = "error"


DEFAULT_QUARANTINE_CODES: frozenset[int] = frozenset({403})
AUTH_CODES: frozenset[int] = frozenset({401, 403})
# Hosts known to answer 403 for a project they do not have (as uv special-cases).
_HOST_IGNORE_DEFAULTS: dict[str, frozenset[int]] = {"download.pytorch.org": frozenset({403})}


def default_ignore_error_codes(url: str) -> frozenset[int]:
    """Built-in ``ignore-error-codes`` for an index URL; an explicit list replaces these."""
    return _HOST_IGNORE_DEFAULTS.get(urlsplit(url).hostname or "", frozenset())


@dataclass(frozen=True)
class PageDecision:
    """What a project-page answer means, with what to tell the user when it stops."""

    action: PageAction
    kind: str | None = None  # the error kind when the action stops the search
    why: str = ""  # what the index did, for the message
    advice: str = ""  # what to do about it


@dataclass(frozen=True)
class FileDecision:
    """What a file or ``.metadata`` answer means, with the error kind and the advice when
    the answer stops the target (the project page listed the file, so it must be there)."""

    action: FileAction
    status: int
    kind: str | None = None  # the error kind when the action stops the target
    advice: str = ""  # what to do about it

    def message(self, index_name: str, filename: str) -> str:
        """The sentence users read when this answer stops the target."""
        said = f"index '{index_name}' answered HTTP {self.status} for {filename}"
        if self.advice:
            return f"{said} although it listed it; {self.advice}"
        return f"{said}, which its project page lists"


@dataclass(frozen=True)
class IndexPolicy:
    """One index's status-code policy as a value (issue 14; as uv's ``StatusCodeStrategy``).

    Built once from the index's ``ignore-error-codes``, ``quarantine-codes``, the run's
    strategy and the URL's defaults; its two handlers say what a project page's answer
    (``on_page``) and a file's or ``.metadata``'s answer (``on_file``) mean, each decision
    carrying the error kind and the advice. Nothing outside this module tests a status
    against an index's code lists, so the two lists cannot drift apart in meaning.
    """

    index_name: str
    strategy: Strategy = Strategy.FIRST_INDEX
    ignore_error_codes: frozenset[int] = frozenset()
    quarantine_codes: frozenset[int] = DEFAULT_QUARANTINE_CODES

    @classmethod
    def for_index(cls, index: _IndexLike, strategy: Strategy = Strategy.FIRST_INDEX) -> IndexPolicy:
        """The policy of a configured index (its code lists already hold the defaults).

        File answers do not depend on the strategy; page answers do.
        """
        return cls(index.name, strategy, index.ignore_error_codes, index.quarantine_codes)

    @classmethod
    def from_url(
        cls,
        index_name: str,
        url: str,
        *,
        strategy: Strategy = Strategy.FIRST_INDEX,
        ignore_error_codes: frozenset[int] | None = None,
        quarantine_codes: frozenset[int] | None = None,
    ) -> IndexPolicy:
        """A policy from what the user said; a list not given takes the URL's defaults."""
        if ignore_error_codes is None:
            ignore_error_codes = default_ignore_error_codes(url)
        if quarantine_codes is None:
            quarantine_codes = DEFAULT_QUARANTINE_CODES
        return cls(index_name, strategy, ignore_error_codes, quarantine_codes)

    def under(self, strategy: Strategy) -> IndexPolicy:
        """The same index's policy under another strategy (a pinned source: first-index)."""
        if strategy is self.strategy:
            return self
        return IndexPolicy(
            self.index_name, strategy, self.ignore_error_codes, self.quarantine_codes
        )

    def on_page(self, status: int, *, refused: str | None = None) -> PageDecision:
        """The one place that decides what a project page's answer means (issue 14).

        ``refused`` says why an answer is a refusal whatever its status: a login page (a
        redirect to another path of the server, or a password form), or a 404 after which
        the index failed its auth check again (a token that expired during the run). That
        is an auth failure under every strategy: never "not here", never a reason to try
        the next index.
        """
        if refused is not None:
            return PageDecision(
                PageAction.AUTH_FAILURE,
                "auth-failure",
                f"{refused}: the credentials were refused",
                auth_failure_advice(status, self.index_name, refused=True),
            )
        action = project_page_action(status, self.strategy, self.ignore_error_codes)
        if action is PageAction.AUTH_FAILURE:
            return PageDecision(
                action,
                "auth-failure",
                f"answered HTTP {status}",
                auth_failure_advice(status, self.index_name),
            )
        if action is PageAction.ERROR:
            return PageDecision(action, "index-unreachable", f"answered HTTP {status}")
        return _plain(action)

    def on_file(self, status: int) -> FileDecision:
        """What a file's (or its ``.metadata``'s) answer means once the page listed it.

        A quarantine code is a block to backtrack past; another 401/403 is a refusal of
        the credentials; 404/410 is a pin the index no longer has; anything else fails
        closed as an unreachable index.
        """
        action = file_action(status, self.quarantine_codes)
        if action is FileAction.AUTH_FAILURE:
            return FileDecision(
                action,
                status,
                "auth-failure",
                "check the credentials, or add the code to its quarantine-codes if this is "
                "how its firewall blocks files",
            )
        if action is FileAction.OK:
            return _served(status)
        # An error, or a block where the caller cannot backtrack (a later range request).
        kind = "missing-pin" if status in (404, 410) else "index-unreachable"
        return FileDecision(action, status, kind)


@cache
def _plain(action: PageAction) -> PageDecision:
    """The decision on a page that is its action alone (use it, try the next index, skip
    it), one per action: every listing asks, twice per page in a cold run."""
    return PageDecision(action)


@cache
def _served(status: int) -> FileDecision:
    """The decision on a file the index served, one per status (decisions are values):
    every probe and metadata fetch asks, hundreds of times in a warm run."""
    return FileDecision(FileAction.OK, status)


def project_page_action(
    status: int, strategy: Strategy, ignore_error_codes: frozenset[int]
) -> PageAction:
    """Decide what a project-page status means. 404 always moves on."""
    if 200 <= status < 300:
        return PageAction.USE
    if status == 404 or status in ignore_error_codes:
        return PageAction.NEXT
    if status in AUTH_CODES:
        if strategy is Strategy.FIRST_INDEX:
            return PageAction.AUTH_FAILURE
        return PageAction.SKIP_WITH_WARNING
    return PageAction.ERROR


def file_action(status: int, quarantine_codes: frozenset[int]) -> FileAction:
    """Decide what a file or ``.metadata`` status means, once the index served the page."""
    if 200 <= status < 300:
        return FileAction.OK
    if status in quarantine_codes:
        return FileAction.BLOCKED
    if status in AUTH_CODES:
        return FileAction.AUTH_FAILURE
    return FileAction.ERROR


def auth_failure_advice(status: int, index_name: str, *, refused: bool = False) -> str:
    """How to fix an auth failure on a project page: the message users act on."""
    env = "INDEXGATE_INDEX_" + env_name(index_name)
    advice = (
        f"check the credentials for index '{index_name}' (config username/password, "
        f"{env}_USERNAME/_PASSWORD, UV_INDEX_{env_name(index_name)}_USERNAME/_PASSWORD or netrc)"
    )
    if refused:
        advice += "; with valid ones the index answers with the project page itself"
    elif status == 403:
        advice += (
            f"; if this index answers 403 for packages it does not have, add 403 to its "
            f"ignore-error-codes (or set {env}_IGNORE_ERROR_CODES=403)"
        )
    return advice + ". indexgate did not look for this package on any later index."


def env_name(index_name: str) -> str:
    """``INDEXGATE_INDEX_<NAME>``: upper-cased, other characters turned into ``_``."""
    return "".join(c if c.isalnum() else "_" for c in index_name.upper())
