"""Index policy in one place: what each HTTP status means, per index and strategy.

Two separate lists, on purpose (see the contract): ``ignore-error-codes`` say "this
project is not here, try the next index" for a *project page*; ``quarantine-codes`` say
"this artifact is blocked, backtrack" for a *file or its .metadata*. uv uses one list for
both, so enabling backtracking on 403 also lets a 403 project page fall through to PyPI.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Literal
from urllib.parse import urlsplit


class Strategy(StrEnum):
    FIRST_INDEX = "first-index"
    UNSAFE_FIRST_MATCH = "unsafe-first-match"
    UNSAFE_BEST_MATCH = "unsafe-best-match"


class Fallback(StrEnum):
    NEXT_VERSION = "next-version"
    NEXT_DISTRIBUTION = "next-distribution"


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


def page_decision(
    status: int,
    strategy: Strategy,
    ignore_error_codes: frozenset[int],
    index_name: str,
    *,
    refused: str | None = None,
) -> PageDecision:
    """The one place that decides what a project page's answer means (issue 14).

    ``refused`` says why an answer is a refusal whatever its status: a login page (a
    redirect to another path of the server, or a password form), or a 404 after which the
    index failed its auth check again (a token that expired during the run). That is an
    auth failure under every strategy: never "not here", never a reason to try the next
    index.
    """
    if refused is not None:
        return PageDecision(
            PageAction.AUTH_FAILURE,
            "auth-failure",
            f"{refused}: the credentials were refused",
            auth_failure_advice(status, index_name, refused=True),
        )
    action = project_page_action(status, strategy, ignore_error_codes)
    if action is PageAction.AUTH_FAILURE:
        return PageDecision(
            action,
            "auth-failure",
            f"answered HTTP {status}",
            auth_failure_advice(status, index_name),
        )
    if action is PageAction.ERROR:
        return PageDecision(action, "index-unreachable", f"answered HTTP {status}")
    return PageDecision(action)


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


# --- the gate's outcome ----------------------------------------------------------------

# What ``--fail-on`` may name, and the warning kinds each one makes fatal.
FAIL_ON: dict[str, frozenset[str]] = {
    "blocked": frozenset(),  # any blocked artifact, even one the resolution went around
    "warnings": frozenset(),  # any warning at all
    "yanked": frozenset({"yanked-pin"}),
    "shadowed": frozenset({"shadowed-name"}),
    "stuck": frozenset({"stuck"}),
    "pending": frozenset(),  # a blocked[] entry whose state is pending (a scan in progress)
    "not-from-index": frozenset({"not-from-index"}),
}


def blocked_findings(blocked: Iterable[object]) -> set[str]:
    """What ``blocked[]`` entries add to the findings ``--fail-on`` may name: ``blocked``
    for any entry, ``pending`` for one whose scan is still in progress."""
    states = {getattr(b, "state", "blocked") for b in blocked}
    return ({"blocked"} if states else set()) | ({"pending"} if "pending" in states else set())


def fatal_warning(kind: str, fail_on: frozenset[str]) -> bool:
    """Does ``--fail-on`` turn a warning of this kind into a gate failure?"""
    return "warnings" in fail_on or any(kind in FAIL_ON[f] for f in fail_on if f in FAIL_ON)


def target_status(
    error_kinds: Iterable[str],
    warning_kinds: Iterable[str],
    findings: Iterable[str],
    fail_on: frozenset[str],
) -> Literal["pass", "fail", "error"]:
    """error: an index was unreachable; fail: any other error, or what ``--fail-on`` names
    among the warnings and the findings (``blocked``, ``pending``, ``stuck``, ``shadowed``);
    else pass."""
    errors = set(error_kinds)
    if "index-unreachable" in errors:
        return "error"
    if errors or fail_on & set(findings):
        return "fail"
    if any(fatal_warning(k, fail_on) for k in warning_kinds):
        return "fail"
    return "pass"
