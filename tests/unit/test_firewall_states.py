"""Each firewall answer gets a state: blocked (a policy), pending (not decided yet) or
waivable (a policy block that allows waivers). The Curation texts are the ones
jfrog-cli-security's own tests quote (commands/curation/curationaudit_test.go)."""

from __future__ import annotations

import json

import pytest

from indexgate.demo.firewall_responses import FirewallRule, render_rule
from indexgate.dists.models import BlockInfo
from indexgate.index.firewall import classify_block
from indexgate.model import state_advice

ON_DEMAND = (
    "Package test:1.0.0 download was blocked by JFrog Packages Curation service due to the "
    "package not being found in catalog, curation on-demand scan in progress."
)
NOT_FOUND = (
    "package test:1.0.0 download was blocked by jfrog packages curation service due to the "
    "package not being found in catalog"
)
POLICY = (
    "Package test:1.0.0 download was blocked by JFrog Packages Curation service due to the "
    "following policies violated {policy1, condition1, Package is 3339 days old, Upgrade to "
    "version 0.2.4 (latest)}."
)


def _jfrog(message: str) -> BlockInfo:
    body = json.dumps({"errors": [{"status": 403, "message": message}]}).encode()
    return classify_block(403, "Forbidden", {"Content-Type": "application/json"}, body)


@pytest.mark.parametrize("message", [ON_DEMAND, NOT_FOUND])
def test_curation_scan_in_progress_is_pending(message: str) -> None:
    info = _jfrog(message)
    assert (info.vendor, info.state) == ("jfrog-curation", "pending")
    assert "not being found" in info.reason


def test_curation_policy_is_blocked_and_waiver_flag_makes_it_waivable() -> None:
    plain = _jfrog(POLICY)
    assert (plain.vendor, plain.state) == ("jfrog-curation", "blocked")
    assert plain.policies[0]["policy"] == "policy1"
    waivable = _jfrog(POLICY + " [waivers allowed]")
    assert waivable.state == "waivable"
    assert waivable.policies == plain.policies  # the flag is not read as a policy field
    assert "[waivers allowed]" not in waivable.reason


def test_xray_policy_block_and_xray_unavailable() -> None:
    blocked = _jfrog(
        "Artifact download request rejected: pypi-remote-cache/x.whl was not downloaded due "
        "to the download blocking policy configured in Xray for pypi-remote."
    )
    assert (blocked.vendor, blocked.state) == ("jfrog-xray", "blocked")
    pending = _jfrog(
        "Artifact download request rejected: pypi-remote-cache/x.whl was not downloaded "
        "because Xray is unavailable and pypi-remote blocks downloads until it is scanned."
    )
    assert (pending.vendor, pending.state) == ("jfrog-xray", "pending")


@pytest.mark.parametrize(
    ("fmt", "vendor", "state"),
    [
        ("nexus", "nexus-firewall", "blocked"),
        ("nexus-unknown", "nexus-firewall", "pending"),
        ("curation", "jfrog-curation", "blocked"),
        ("curation-pending", "jfrog-curation", "pending"),
        ("curation-on-demand", "jfrog-curation", "pending"),
        ("curation-waivable", "jfrog-curation", "waivable"),
        ("xray", "jfrog-xray", "blocked"),
        ("xray-unavailable", "jfrog-xray", "pending"),
    ],
)
def test_devserver_emulation_round_trips_to_its_state(fmt: str, vendor: str, state: str) -> None:
    response = render_rule(FirewallRule(format=fmt), "demo-1.0-py3-none-any.whl", "/files/x")  # type: ignore[arg-type]
    info = classify_block(response.status, response.reason_phrase, response.headers, response.body)
    assert (info.vendor, info.state) == (vendor, state)


def test_state_advice_says_what_to_do() -> None:
    assert state_advice("pending") == "scan in progress, try again later"
    assert "waiver" in state_advice("waivable")
    assert "blocked by policy" in state_advice("blocked")
