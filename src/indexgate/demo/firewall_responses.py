"""Answer a blocked download exactly as each repository firewall does.

The inverse of ``indexgate.index.firewall``: the demo server, the quarantine proxy and the
tests use these to produce byte-for-byte the answers the real products send.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, NamedTuple

from indexgate.dists.models import parse_filename

RuleFormat = Literal[
    "nexus",
    "nexus-problem",
    "curation",
    "xray",
    "plain",
    "curation-pending",  # "not being found in catalog": a package Curation has not seen yet
    "curation-on-demand",  # "... curation on-demand scan in progress."
    "curation-waivable",  # a policy block that carries "[waivers allowed]"
    "xray-unavailable",  # Xray down, and the repository blocks downloads meanwhile
    "nexus-unknown",  # Nexus: a component the IQ server has not evaluated (unreachable)
]
RuleTarget = Literal["file", "metadata", "both"]
FORMATS: tuple[RuleFormat, ...] = (
    "nexus",
    "nexus-problem",
    "curation",
    "xray",
    "plain",
    "curation-pending",
    "curation-on-demand",
    "curation-waivable",
    "xray-unavailable",
    "nexus-unknown",
)

NEXUS_REASON = "REQUESTED ITEM IS QUARANTINED"
# Our own wording: Sonatype documents the behaviour (an unreachable IQ server quarantines
# every new component; "Component Unknown" holds new releases until scanned), not a text.
NEXUS_UNKNOWN_REASON = "REQUESTED ITEM IS QUARANTINED: COMPONENT UNKNOWN, NOT YET EVALUATED"
WAIVERS_ALLOWED = "[waivers allowed]"
DEFAULT_POLICY = {
    "policy": "block-malicious",
    "condition": "Malicious package",
    "explanation": "Package is flagged as malicious by JFrog Security",
    "remediation": "Upgrade to a version that is not malicious",
}


class FirewallResponse(NamedTuple):
    status: int
    reason_phrase: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class FirewallRule:
    """How one quarantined file is refused.

    ``block`` says which request is refused: the file itself, its PEP 658 ``.metadata``, or
    both. The other fields fill in the vendor's message; sensible values are derived from
    the filename when they are left out.
    """

    format: RuleFormat = "nexus"
    block: RuleTarget = "both"
    status: int = 403
    details_url: str | None = None  # nexus, nexus-problem
    policies: tuple[Mapping[str, str], ...] = ()  # curation
    repo: str = "pypi-remote"  # xray
    message: str = "Forbidden by repository policy"  # plain

    def blocks(self, metadata: bool) -> bool:
        return self.block == "both" or self.block == ("metadata" if metadata else "file")


def coerce_rule(rule: FirewallRule | str) -> FirewallRule:
    """Accept a bare format name (``"xray"``) where a rule is expected."""
    if isinstance(rule, FirewallRule):
        return rule
    if rule not in FORMATS:
        raise ValueError(f"unknown firewall format {rule!r}; expected one of {FORMATS}")
    return FirewallRule(format=rule)


def nexus_text(details_url: str, reason: str = NEXUS_REASON) -> str:
    return (
        f"-------------------->>> {reason} -------------------->>> "
        f"FOR DETAILS SEE ------>>> {details_url} <<<------"
    )


def nexus_response(details_url: str, reason: str = NEXUS_REASON) -> FirewallResponse:
    """Nexus Firewall over HTTP/1.1: the message is the HTTP reason phrase itself."""
    text = nexus_text(details_url, reason)
    body = (
        '<!DOCTYPE html>\n<html lang="en">\n<head><title>403 - Sonatype Nexus Repository'
        '</title></head>\n<body>\n<div class="nexus-body">\n<h1>Error 403</h1>\n'
        f"<p>{html.escape(text)}</p>\n</div>\n</body>\n</html>\n"
    )
    return FirewallResponse(
        403, text, {"Content-Type": "text/html; charset=UTF-8"}, body.encode("utf-8")
    )


def nexus_problem_json_response(details_url: str, reason: str = NEXUS_REASON) -> FirewallResponse:
    """Nexus Firewall over HTTP/2: no reason phrase, the text is an RFC 9457 ``detail``."""
    problem = {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": nexus_text(details_url, reason),
    }
    return FirewallResponse(
        403,
        "Forbidden",
        {"Content-Type": "application/problem+json"},
        json.dumps(problem).encode("utf-8"),
    )


def curation_message(name: str, version: str, policies: Iterable[Mapping[str, str]]) -> str:
    groups = ", ".join(
        "{"
        + ", ".join(p.get(key, "") for key in ("policy", "condition", "explanation", "remediation"))
        + "}"
        for p in policies
    )
    return (
        f"Package {name}:{version} download was blocked by JFrog Packages Curation service "
        f"due to the following policies violated {groups}."
    )


def curation_pending_message(name: str, version: str, *, on_demand: bool = False) -> str:
    """Curation's answer for a package not in its catalog yet, as jfrog-cli-security's
    tests quote it; with ``on_demand`` the catalog is being filled by a scan right now."""
    text = (
        f"Package {name}:{version} download was blocked by JFrog Packages Curation service "
        "due to the package not being found in catalog"
    )
    return text + (", curation on-demand scan in progress." if on_demand else "")


def curation_response(
    name: str, version: str, policies: Iterable[Mapping[str, str]] = (DEFAULT_POLICY,)
) -> FirewallResponse:
    """JFrog Curation: a JFrog ``errors`` body naming every violated policy."""
    return _jfrog_error(curation_message(name, version, policies))


def xray_message(path: str, repo: str) -> str:
    return (
        f"Artifact download request rejected: {path} was not downloaded due to the download "
        f"blocking policy configured in Xray for {repo}."
    )


def xray_unavailable_message(path: str, repo: str) -> str:
    """Artifactory's refusal while Xray cannot be asked and the repository is set to block
    downloads meanwhile (our wording of a documented behaviour)."""
    return (
        f"Artifact download request rejected: {path} was not downloaded because Xray is "
        f"unavailable and {repo} blocks downloads until the artifact is scanned."
    )


def xray_response(path: str, repo: str) -> FirewallResponse:
    """JFrog Xray: a JFrog ``errors`` body naming the artifact path and repository."""
    return _jfrog_error(xray_message(path, repo))


def plain_response(message: str, status: int = 403) -> FirewallResponse:
    """A firewall nobody recognizes: a short text body."""
    return FirewallResponse(
        status, "Forbidden", {"Content-Type": "text/plain; charset=utf-8"}, message.encode()
    )


def render_rule(rule: FirewallRule, filename: str, path: str) -> FirewallResponse:
    """The answer ``rule`` gives to a request for ``path`` (the file or its .metadata)."""
    if rule.format == "nexus":
        response = nexus_response(rule.details_url or default_details_url(filename))
    elif rule.format == "nexus-problem":
        response = nexus_problem_json_response(rule.details_url or default_details_url(filename))
    elif rule.format == "curation":
        parsed = parse_filename(filename)
        name, version = (parsed.name, str(parsed.version)) if parsed else (filename, "unknown")
        response = curation_response(name, version, rule.policies or (DEFAULT_POLICY,))
    elif rule.format in ("curation-pending", "curation-on-demand", "curation-waivable"):
        parsed = parse_filename(filename)
        name, version = (parsed.name, str(parsed.version)) if parsed else (filename, "unknown")
        if rule.format == "curation-waivable":
            text = curation_message(name, version, rule.policies or (DEFAULT_POLICY,))
            response = _jfrog_error(f"{text} {WAIVERS_ALLOWED}")
        else:
            on_demand = rule.format == "curation-on-demand"
            response = _jfrog_error(curation_pending_message(name, version, on_demand=on_demand))
    elif rule.format == "xray":
        response = xray_response(f"{rule.repo}-cache/{path.lstrip('/')}", rule.repo)
    elif rule.format == "xray-unavailable":
        path = f"{rule.repo}-cache/{path.lstrip('/')}"
        response = _jfrog_error(xray_unavailable_message(path, rule.repo))
    elif rule.format == "nexus-unknown":
        url = rule.details_url or default_details_url(filename)
        response = nexus_response(url, NEXUS_UNKNOWN_REASON)
    else:
        response = plain_response(rule.message, rule.status)
    if rule.status != response.status:
        response = response._replace(status=rule.status)
    return response


def default_details_url(filename: str) -> str:
    component = hashlib.sha1(filename.encode()).hexdigest()[:20]
    return f"https://iq.example/ui/links/repositories/quarantinedComponent/{component}"


def _jfrog_error(message: str) -> FirewallResponse:
    body = json.dumps({"errors": [{"status": 403, "message": message}]}, separators=(",", ":"))
    return FirewallResponse(
        403, "Forbidden", {"Content-Type": "application/json"}, body.encode("utf-8")
    )
