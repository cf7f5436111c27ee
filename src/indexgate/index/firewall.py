"""Read why a repository firewall refused an artifact.

Nexus Firewall, JFrog Curation and JFrog Xray each answer a blocked download with a 403
whose *reason* lives somewhere different: the HTTP reason phrase (Nexus over HTTP/1.1), an
RFC 9457 problem+json body (Nexus over HTTP/2, where reason phrases do not exist), or a JFrog
``{"errors": [...]}`` body. ``classify_block`` turns any of them, or anything else, into a
``BlockInfo`` and never raises: the answer comes from a server we do not control.

Each answer also gets a *state*, because not every refusal is a policy decision:

- ``pending``: the firewall has not decided yet. JFrog Curation says the package is "not
  being found" in its catalog or that a "curation on-demand scan" is in progress
  (jfrog-cli-security, ``commands/curation/curationaudit.go``); Xray refuses downloads while
  it is unavailable or has not scanned the artifact; Nexus quarantines components its IQ
  server could not evaluate (unreachable) and, under "Component Unknown", brand-new
  releases until they are scanned. Trying again later is the fix, not a waiver.
- ``waivable``: a policy block whose message carries ``[waivers allowed]`` (Curation).
- ``blocked``: any other policy block.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from indexgate.dists.models import BlockInfo
from indexgate.lazy_re import LazyPattern

# "---->>> REQUESTED ITEM IS QUARANTINED ---->>> FOR DETAILS SEE ---->>> <url> <<<----"
_NEXUS = LazyPattern(
    r"-*>>>\s*(?P<reason>.*?)\s*-*>>>\s*FOR\s+DETAILS\s+SEE\s*-*>>>\s*(?P<url>\S+?)\s*(?:<<<|$)",
    re.IGNORECASE | re.DOTALL,
)
_NEXUS_BARE = LazyPattern(r"REQUESTED\s+ITEM\s+IS\s+QUARANTINED", re.IGNORECASE)
_CURATION = LazyPattern(r"blocked\s+by\s+JFrog\s+Packages\s+Curation", re.IGNORECASE)
_XRAY = LazyPattern(
    r"Artifact\s+download\s+request\s+rejected|download\s+blocking\s+policy\s+configured\s+in\s+Xray",
    re.IGNORECASE,
)
# Curation's own keys (curationaudit.go: NotBeingFoundKey, IsOnDemand), matched lower-cased.
_CURATION_PENDING = ("not being found", "on-demand")
_WAIVERS = "[waivers allowed]"
# Xray and Nexus wordings for "not decided yet" (the scanner down, a scan not finished, a
# component the firewall does not know yet). Their exact texts vary by version, so these
# are phrases, searched case-insensitively in the vendor's message.
_UNDECIDED = LazyPattern(
    r"\b(?:unavailable|not\s+available|unreachable|could\s+not\s+be\s+(?:reached|evaluated)"
    r"|not\s+(?:yet\s+)?(?:been\s+)?scanned|unscanned|scan\s+(?:is\s+)?(?:still\s+)?in\s+progress"
    r"|pending|component\s+unknown|unknown\s+component|not\s+yet\s+evaluated)\b",
    re.IGNORECASE,
)
_POLICY_FIELDS = ("policy", "condition", "explanation", "remediation")
_POLICY_GROUP = LazyPattern(r"\{([^{}]*)\}")
_HIDDEN = LazyPattern(r"<(script|style|head)\b")  # searched in lower-cased text
_TAG = LazyPattern(r"<[^<>]*>")
_SPACE = LazyPattern(r"\s+")

MAX_REASON = 300
_MAX_HTML = 16384
_MAX_MESSAGE = 2000


def classify_block(
    status_code: int, reason_phrase: str, headers: Mapping[str, str], body: bytes
) -> BlockInfo:
    """Which firewall refused the request, and what it said."""
    try:
        return _classify(status_code, reason_phrase or "", headers, body or b"")
    except Exception:  # a hostile or broken answer must never break the gate
        return BlockInfo("unknown", f"HTTP {status_code}")


def _classify(
    status_code: int, reason_phrase: str, headers: Mapping[str, str], body: bytes
) -> BlockInfo:
    content_type = _header(headers, "content-type").lower()
    text = _decode(body)
    data = _json(text) if text and ("json" in content_type or text.lstrip()[:1] in "{[") else None
    messages = list(_json_messages(data))

    for candidate in (reason_phrase, *messages):
        nexus = _nexus(candidate)
        if nexus is not None:
            return nexus
    for message in messages:
        if _CURATION.search(message):
            return _curation(message)
        if _XRAY.search(message):
            state = "pending" if _UNDECIDED.search(message) else "blocked"
            return BlockInfo("jfrog-xray", _clean(message), state=state)
    if text and data is None:  # Nexus also repeats the text in its HTML error page
        nexus = _nexus(_strip_html(text))
        if nexus is not None:
            return nexus
    return BlockInfo("unknown", _unknown_reason(status_code, reason_phrase, text, messages))


def _curation(message: str) -> BlockInfo:
    """A Curation answer: pending when the package is not in its catalog yet or an
    on-demand scan runs, as jfrog-cli-security reads it; else the violated policies."""
    lower = message.lower()
    if any(key in lower for key in _CURATION_PENDING):
        return BlockInfo("jfrog-curation", _clean(message)[:MAX_REASON], state="pending")
    policies = _policies(message.replace(_WAIVERS, ""))
    state = "waivable" if _WAIVERS in message else "blocked"
    reason = _curation_reason(message.replace(_WAIVERS, " "), policies)
    return BlockInfo("jfrog-curation", reason, policies=policies, state=state)


def _nexus(text: str) -> BlockInfo | None:
    if not text:
        return None
    # Search only around the marker: a lazy regex over a hostile 64 KiB body could crawl.
    marker = text.upper().find("FOR DETAILS SEE")
    window = text[max(marker - 600, 0) : marker + 1200] if marker >= 0 else ""
    match = _NEXUS.search(window) if window else None
    if match:
        reason = _clean(match.group("reason").strip("-<> "))[:MAX_REASON]
        url = match.group("url").strip("<>")
        return BlockInfo(
            "nexus-firewall",
            reason or "REQUESTED ITEM IS QUARANTINED",
            details_url=url if url.lower().startswith(("https://", "http://")) else None,
            state="pending" if _UNDECIDED.search(reason) else "blocked",
        )
    if _NEXUS_BARE.search(text):
        state = "pending" if _UNDECIDED.search(text[:2000]) else "blocked"
        return BlockInfo("nexus-firewall", "REQUESTED ITEM IS QUARANTINED", state=state)
    return None


def _curation_reason(message: str, policies: tuple[dict[str, str], ...]) -> str:
    """The sentence before the policy groups, then the violated policy names: the groups
    themselves travel in ``policies``, so the reason does not repeat them."""
    head = re.split(r"\s+due\s+to\s+the\s+following\s+polic", message, maxsplit=1)[0]
    names = ", ".join(p["policy"] for p in policies if p.get("policy"))
    return _clean(f"{head}: policy {names}" if names else message)


def _policies(message: str) -> tuple[dict[str, str], ...]:
    """Each ``{policy, condition, explanation, remediation}`` group of a Curation message.

    Only the free-text fields may contain commas, so the first two and the last part are
    taken as they come and whatever lies between is the explanation.
    """
    _, _, violated = message.partition("policies violated")
    groups = []
    for group in _POLICY_GROUP.findall(violated or message):
        parts = [part.strip() for part in group.split(",")]
        if len(parts) > 4:
            parts = [parts[0], parts[1], ", ".join(parts[2:-1]), parts[-1]]
        parts += [""] * (4 - len(parts))
        groups.append(dict(zip(_POLICY_FIELDS, parts, strict=True)))
    return tuple(groups)


def _unknown_reason(status_code: int, phrase: str, text: str, messages: list[str]) -> str:
    phrase = _clean(phrase)
    # Any standard phrase says nothing (a firewall answering 451 may still say "Forbidden").
    if phrase and phrase.lower() not in _generic_phrases() | {
        _standard_phrase(status_code).lower()
    }:
        return phrase[:MAX_REASON]
    for message in messages:
        if message.strip():
            return _clean(message)[:MAX_REASON]
    if text:
        stripped = _strip_html(text)
        if stripped:
            return stripped[:MAX_REASON]
    return f"HTTP {status_code}"


@cache
def _generic_phrases() -> frozenset[str]:
    from http import HTTPStatus

    return frozenset(status.phrase.lower() for status in HTTPStatus)


def _standard_phrase(status_code: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return ""


def _header(headers: Mapping[str, str], name: str) -> str:
    try:
        for key, value in headers.items():
            if str(key).lower() == name:
                return str(value)
    except Exception:
        return ""
    return ""


def _decode(body: bytes) -> str:
    """The body as text, or "" when it is clearly not text."""
    if not body or b"\x00" in body[:1024]:
        return ""
    text = body[:65536].decode("utf-8", errors="replace")
    if text.count("\ufffd") > max(8, len(text) // 20):
        return ""
    return text


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _json_messages(data: Any) -> Iterator[str]:
    """Human text from JFrog ``errors[]`` bodies and RFC 9457 problem details."""
    if isinstance(data, dict):
        errors = data.get("errors")
        if isinstance(errors, list):
            for error in errors:
                if isinstance(error, dict) and isinstance(error.get("message"), str):
                    yield error["message"][:_MAX_MESSAGE]
        for key in ("detail", "title", "message", "error"):
            if isinstance(data.get(key), str):
                yield data[key][:_MAX_MESSAGE]


def _strip_html(text: str) -> str:
    """Visible text of an HTML error page (else its title), in time linear in its size."""
    import html  # here: html.entities is big, and only a block's page is read as HTML

    text = text[:_MAX_HTML]
    if "<" not in text:
        return _clean(text)
    lower = text.lower()
    kept, pos = [], 0
    while (hidden := _HIDDEN.search(lower, pos)) is not None:
        kept.append(text[pos : hidden.start()])
        close = lower.find(f"</{hidden.group(1)}", hidden.end())
        end = lower.find(">", close) if close >= 0 else -1
        pos = len(text) if end < 0 else end + 1
    kept.append(text[pos:])
    visible = _clean(html.unescape(_TAG.sub(" ", "".join(kept))))
    if visible:
        return visible
    start = lower.find(">", lower.find("<title")) + 1 if "<title" in lower else 0
    stop = lower.find("</title", start) if start else -1
    return _clean(html.unescape(_TAG.sub(" ", text[start:stop]))) if stop > 0 else ""


def _clean(text: str) -> str:
    return _SPACE.sub(" ", text).strip()
