"""Every vendor format survives a round trip through classify_block; garbage never raises."""

from __future__ import annotations

import json
import time

import pytest

from indexgate.demo.firewall_responses import (
    FirewallRule,
    curation_response,
    nexus_problem_json_response,
    nexus_response,
    plain_response,
    render_rule,
    xray_response,
)
from indexgate.dists.models import BlockInfo
from indexgate.index.firewall import classify_block
from indexgate.model import vendor_label

IQ = "https://iq.example/ui/links/repositories/quarantinedComponent/0123abcd"
NEXUS_PHRASE = (
    "-------------------->>> REQUESTED ITEM IS QUARANTINED -------------------->>> "
    f"FOR DETAILS SEE ------>>> {IQ} <<<------"
)


def classify(response: tuple[int, str, dict[str, str], bytes]) -> BlockInfo:
    status, phrase, headers, body = response
    return classify_block(status, phrase, headers, body)


def test_nexus_reason_phrase_exact() -> None:
    response = nexus_response(IQ)
    assert response.status == 403
    assert response.reason_phrase == NEXUS_PHRASE
    assert classify(response) == BlockInfo(
        "nexus-firewall", "REQUESTED ITEM IS QUARANTINED", details_url=IQ
    )


def test_nexus_reason_phrase_alone_without_body() -> None:
    block = classify_block(403, NEXUS_PHRASE, {}, b"")
    assert (block.vendor, block.details_url) == ("nexus-firewall", IQ)


def test_nexus_html_body_when_the_reason_phrase_was_lost() -> None:
    _, _, headers, body = nexus_response(IQ)
    block = classify_block(403, "Forbidden", headers, body)
    assert block == BlockInfo("nexus-firewall", "REQUESTED ITEM IS QUARANTINED", details_url=IQ)


def test_nexus_problem_json_over_http2() -> None:
    response = nexus_problem_json_response(IQ)
    assert response.reason_phrase == "Forbidden"
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = json.loads(response.body)
    assert problem == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": NEXUS_PHRASE,
    }
    # HTTP/2 has no reason phrase at all
    assert classify_block(403, "", response.headers, response.body) == BlockInfo(
        "nexus-firewall", "REQUESTED ITEM IS QUARANTINED", details_url=IQ
    )


def test_nexus_problem_json_in_title() -> None:
    body = json.dumps({"status": 403, "title": NEXUS_PHRASE}).encode()
    block = classify_block(403, "", {"content-type": "application/problem+json"}, body)
    assert (block.vendor, block.details_url) == ("nexus-firewall", IQ)


def test_nexus_other_reason_keeps_its_text() -> None:
    phrase = NEXUS_PHRASE.replace("REQUESTED ITEM IS QUARANTINED", "COMPONENT IS BLOCKED BY POLICY")
    block = classify_block(403, phrase, {}, b"")
    assert block.reason == "COMPONENT IS BLOCKED BY POLICY"
    assert block.details_url == IQ


def test_curation_one_policy() -> None:
    policy = {
        "policy": "no-malicious",
        "condition": "Malicious package",
        "explanation": "Package is malicious",
        "remediation": "Remove it",
    }
    response = curation_response("flask", "3.1.0", [policy])
    assert response.body == (
        b'{"errors":[{"status":403,"message":"Package flask:3.1.0 download was blocked by JFrog '
        b"Packages Curation service due to the following policies violated {no-malicious, "
        b'Malicious package, Package is malicious, Remove it}."}]}'
    )
    block = classify(response)
    assert block.vendor == "jfrog-curation"
    assert block.reason.startswith("Package flask:3.1.0 download was blocked by JFrog")
    assert block.policies == (policy,)
    assert block.details_url is None


def test_curation_several_policies_and_commas_in_free_text() -> None:
    policies = [
        {
            "policy": "p1",
            "condition": "CVE with high severity",
            "explanation": "a, b",
            "remediation": "up",
        },
        {
            "policy": "p2",
            "condition": "Aged",
            "explanation": "too new",
            "remediation": "wait, or ask",
        },
    ]
    block = classify(curation_response("numpy", "2.0.0", policies))
    assert block.vendor == "jfrog-curation"
    assert block.policies[0] == policies[0]
    # an ambiguous comma ends up in the explanation; nothing is lost
    assert block.policies[1]["policy"] == "p2"
    assert "wait" in block.policies[1]["explanation"] + block.policies[1]["remediation"]


def test_curation_short_group_is_padded() -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "status": 403,
                    "message": "Package a:1 download was blocked by JFrog Packages "
                    "Curation service due to the following policies violated {only-policy}.",
                }
            ]
        }
    ).encode()
    block = classify_block(403, "Forbidden", {"Content-Type": "application/json"}, body)
    assert block.policies == (
        {"policy": "only-policy", "condition": "", "explanation": "", "remediation": ""},
    )


def test_xray() -> None:
    response = xray_response("pypi-remote-cache/packages/ab/cd/flask-3.1.0.whl", "pypi-remote")
    assert json.loads(response.body) == {
        "errors": [
            {
                "status": 403,
                "message": "Artifact download request rejected: pypi-remote-cache/packages/ab/cd/"
                "flask-3.1.0.whl was not downloaded due to the download blocking policy "
                "configured in Xray for pypi-remote.",
            }
        ]
    }
    block = classify(response)
    assert block.vendor == "jfrog-xray"
    assert "flask-3.1.0.whl" in block.reason
    assert block.policies == ()


@pytest.mark.parametrize("fmt", ["nexus", "nexus-problem", "curation", "xray", "plain"])
def test_render_rule_round_trips(fmt: str) -> None:
    rule = FirewallRule(format=fmt)  # type: ignore[arg-type]
    response = render_rule(
        rule, "flask-3.1.0-py3-none-any.whl", "/packages/flask-3.1.0-py3-none-any.whl"
    )
    expected = {
        "nexus": "nexus-firewall",
        "nexus-problem": "nexus-firewall",
        "curation": "jfrog-curation",
        "xray": "jfrog-xray",
        "plain": "unknown",
    }[fmt]
    assert classify(response).vendor == expected


def test_unknown_uses_a_non_standard_reason_phrase() -> None:
    block = classify_block(403, "Blocked by corporate proxy", {}, b"<html>ignored</html>")
    assert block == BlockInfo("unknown", "Blocked by corporate proxy")


def test_unknown_ignores_the_standard_phrase_and_reads_text() -> None:
    assert classify(plain_response("Forbidden by repository policy")) == BlockInfo(
        "unknown", "Forbidden by repository policy"
    )


def test_unknown_html_error_page_is_stripped() -> None:
    body = (
        b"<!DOCTYPE html><html><head><title>403</title><style>p {color: red}</style>"
        b"<script>var x = 1;</script></head><body><h1>Access denied</h1>"
        b"<p>Package &amp; version blocked.</p></body></html>"
    )
    block = classify_block(403, "Forbidden", {"Content-Type": "text/html"}, body)
    assert block == BlockInfo("unknown", "Access denied Package & version blocked.")


def test_unknown_text_is_capped_at_300_characters() -> None:
    block = classify_block(451, "Unavailable For Legal Reasons", {}, b"x" * 1000)
    assert block.reason == "x" * 300


def test_unknown_generic_jfrog_error_message() -> None:
    body = b'{"errors":[{"status":403,"message":"Not enough permissions"}]}'
    assert classify_block(403, "Forbidden", {}, body) == BlockInfo(
        "unknown", "Not enough permissions"
    )


def test_unknown_json_without_known_fields() -> None:
    assert classify_block(403, "Forbidden", {}, b'{"foo": 1}').reason == '{"foo": 1}'


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\x00\x01\x02\xff\xfe binary",
        bytes(range(256)) * 4,
        b"{not json",
        b'{"errors": "nope"}',
        b'{"errors": [null, 3, {"message": 5}]}',
        b"[1, 2, 3]",
        b"null",
        b"<html><head><title></title></head><body></body></html>",
        b"   \n\t  ",
        "\u00e9t\u00e9 \U0001f525".encode(),
    ],
)
def test_garbage_never_raises(body: bytes) -> None:
    block = classify_block(403, "Forbidden", {"Content-Type": "application/json"}, body)
    assert block.vendor == "unknown"
    assert block.reason
    assert len(block.reason) <= 300


@pytest.mark.parametrize(
    "body",
    [
        b"<" * 65536,
        b"<a " * 20000,
        b"<head" * 12000,
        b"<!--" * 16000,
        b"<a href='" * 8000,
        b"[" * 100000,
        b"-->>> FOR DETAILS SEE " * 3000,
        b'{"errors":[' + b'{"message":"x"},' * 5000 + b"{}]}",
    ],
    ids=lambda body: repr(body[:12]),
)
def test_hostile_bodies_are_handled_quickly(body: bytes) -> None:
    started = time.monotonic()
    for content_type in ("text/html", "application/json", ""):
        block = classify_block(403, "Forbidden", {"Content-Type": content_type}, body)
        assert len(block.reason) <= 300
    assert time.monotonic() - started < 2


def test_empty_everything() -> None:
    assert classify_block(403, "", {}, b"") == BlockInfo("unknown", "HTTP 403")
    assert classify_block(599, "", {}, b"") == BlockInfo("unknown", "HTTP 599")


def test_broken_arguments_never_raise() -> None:
    block = classify_block(403, None, None, None)  # type: ignore[arg-type]
    assert block.vendor == "unknown"


def test_vendor_label() -> None:
    assert vendor_label("nexus-firewall") == "Nexus Firewall"
    assert vendor_label("jfrog-curation") == "JFrog Curation"
    assert vendor_label("jfrog-xray") == "JFrog Xray"
    assert vendor_label("unknown") == "unknown firewall"
    assert vendor_label("something-else") == "unknown firewall"
