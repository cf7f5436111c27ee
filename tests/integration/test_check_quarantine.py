"""Backtracking past quarantined artifacts, with each firewall's reason (issue 3).

A QuarantineProxy in front of the private pypiserver answers blocked downloads exactly as
Nexus Firewall (reason phrase, or problem+json), JFrog Curation and JFrog Xray do. The dev
index (PEP 658 ``.metadata`` files) covers the cases where metadata and file differ.
"""

from __future__ import annotations

import pytest
from support.packages import sdist, wheel

from indexgate.demo import FirewallRule
from indexgate.demo.firewall_responses import default_details_url

NATIVE_TAG = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
FLASK_NEW = "flask-3.1.0-py3-none-any.whl"
FLASK_OLD = "flask-3.0.3-py3-none-any.whl"
WERKZEUG_NEW = "werkzeug-3.1.0-py3-none-any.whl"
NATIVE_LINUX = f"native-2.0-{NATIVE_TAG}.whl"
NATIVE_ANY = "native-2.0-py3-none-any.whl"
PACKAGES = [
    wheel("flask", "3.0.3", "werkzeug>=3"),
    wheel("flask", "3.1.0", "werkzeug>=3"),
    "werkzeug==3.0.0",
    "werkzeug==3.1.0",
    wheel("native", "2.0", tag=NATIVE_TAG),
    "native==2.0",
    sdist("native", "2.0"),
    "native==1.0",
]
POLICIES = (
    {
        "policy": "block-malicious",
        "condition": "Malicious package",
        "explanation": "Package is flagged as malicious by JFrog Security",
        "remediation": "Upgrade to a version that is not malicious",
    },
    {
        "policy": "no-gpl",
        "condition": "License is GPL-3.0",
        "explanation": "GPL licenses are not allowed, by order of legal",
        "remediation": "Pick another package",
    },
)


@pytest.fixture
def firewall(firewalled_private, cli):
    """The firewalled private index, with its credentials in the environment."""

    def make(rules, packages=PACKAGES):
        index = firewalled_private(packages, rules)
        user, password = index.credentials
        cli.monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_USERNAME", user)
        cli.monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_PASSWORD", password)
        return index

    return make


def _check(cli, index, requirements, *args, **kwargs):
    return cli.run("--index", f"private={index.url}", *args, requirements=requirements, **kwargs)


def test_newest_version_of_a_direct_dependency_blocked(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus"})
    run = _check(cli, index, "flask\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"flask": "3.0.3", "werkzeug": "3.1.0"}
    assert run.target["blocked"] == [
        {
            "name": "flask",
            "version": "3.1.0",
            "file": FLASK_NEW,
            "index": "private",
            "stage": "download",
            "status_code": 403,
            "vendor": "nexus-firewall",
            "reason": "REQUESTED ITEM IS QUARANTINED",
            "details_url": default_details_url(FLASK_NEW),
            "fallback": "3.0.3",
            "policies": [],
            "state": "blocked",
        }
    ]
    assert run.errors() == []
    # the text output names it, above the resolution
    assert "Blocked artifacts" in run.out
    assert run.out.index("Blocked artifacts") < run.out.index("Resolution")
    assert FLASK_NEW in run.out and default_details_url(FLASK_NEW) in run.out


def test_newest_version_of_a_transitive_dependency_blocked(cli, firewall) -> None:
    index = firewall({WERKZEUG_NEW: "curation"})
    run = _check(cli, index, "flask\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"flask": "3.1.0", "werkzeug": "3.0.0"}
    (blocked,) = run.target["blocked"]
    assert (blocked["name"], blocked["version"], blocked["fallback"]) == (
        "werkzeug",
        "3.1.0",
        "3.0.0",
    )
    assert blocked["vendor"] == "jfrog-curation"


def test_every_version_blocked_fails_naming_each_blocked_artifact(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus", FLASK_OLD: "xray"})
    run = _check(cli, index, "flask>=3\n")
    assert run.code == 1
    assert run.report["status"] == "fail"
    (error,) = run.errors()
    assert error["kind"] == "no-solution"
    assert error["package"] == "flask"
    assert (error["file"], error["line"]) == ("requirements.txt", 1)
    message = error["message"]
    assert "every version allowed by flask>=3 is blocked" in message
    assert "flask 3.1.0 (Nexus Firewall: REQUESTED ITEM IS QUARANTINED" in message
    assert default_details_url(FLASK_NEW) in message
    assert "flask 3.0.3 (JFrog Xray:" in message
    assert {(b["version"], b["fallback"]) for b in run.target["blocked"]} == {
        ("3.1.0", None),
        ("3.0.3", None),
    }


def test_every_version_of_a_transitive_dependency_blocked(cli, firewall) -> None:
    index = firewall({WERKZEUG_NEW: "nexus", "werkzeug-3.0.0-py3-none-any.whl": "nexus"})
    run = _check(cli, index, "flask\n")
    assert run.code == 1
    kinds = {(e["kind"], e["package"]) for e in run.errors()}
    assert ("no-solution", "werkzeug") in kinds
    message = next(e["message"] for e in run.errors() if e["package"] == "werkzeug")
    assert "werkzeug 3.1.0" in message and "werkzeug 3.0.0" in message


@pytest.mark.parametrize("vendor", ["nexus", "curation"])
def test_metadata_served_but_the_wheel_blocked_is_found_by_the_probe(
    cli, dev_index, vendor
) -> None:
    server = dev_index(PACKAGES[:4], firewall={FLASK_NEW: FirewallRule(vendor, block="file")})
    run = cli.run("--index", f"private={server.url}", requirements="flask\n")
    assert run.code == 0, run.out + run.err
    assert run.versions()["flask"] == "3.0.3"
    (blocked,) = run.target["blocked"]
    assert (blocked["file"], blocked["stage"], blocked["fallback"]) == (
        FLASK_NEW,
        "download",
        "3.0.3",
    )
    # the firewall served the metadata; only the probe of the wheel itself saw the block
    assert [e.status for e in server.requests_for(f"/files/{FLASK_NEW}.metadata")] == [200]
    probes = [
        (e.method, e.headers.get("range"), e.status)
        for e in server.requests_for(f"/files/{FLASK_NEW}")
        if not e.path.endswith(".metadata")
    ]
    if vendor == "nexus":
        # the reason phrase of the HEAD answer says it all: no second request
        assert probes == [("HEAD", None, 403)]
        assert blocked["vendor"] == "nexus-firewall"
        assert blocked["details_url"] == default_details_url(FLASK_NEW)
    else:
        # JFrog's reason is in the body, which a HEAD answer lacks: one byte is asked for
        assert probes == [("HEAD", None, 403), ("GET", "bytes=0-0", 403)]
        assert blocked["vendor"] == "jfrog-curation"
        assert blocked["policies"][0]["policy"] == "block-malicious"


def test_every_chosen_file_is_probed_even_when_its_metadata_came_separately(cli, dev_index) -> None:
    server = dev_index(PACKAGES[:4])
    run = cli.run("--index", f"private={server.url}", requirements="flask\n")
    assert run.code == 0, run.out + run.err
    for entry in run.target["resolution"]:
        path = f"/files/{entry['file']}"
        assert [e.status for e in server.requests_for(path + ".metadata")] == [200]
        probes = [e for e in server.requests_for(path) if not e.path.endswith(".metadata")]
        assert [(e.method, e.status) for e in probes] == [("HEAD", 200)]


def test_blocked_metadata_is_stage_metadata(cli, dev_index) -> None:
    server = dev_index(
        PACKAGES[:4], firewall={FLASK_NEW: FirewallRule("curation", block="metadata")}
    )
    run = cli.run("--index", f"private={server.url}", requirements="flask\n")
    assert run.code == 0, run.out + run.err
    assert run.versions()["flask"] == "3.0.3"
    (blocked,) = run.target["blocked"]
    assert (blocked["stage"], blocked["vendor"], blocked["fallback"]) == (
        "metadata",
        "jfrog-curation",
        "3.0.3",
    )


def test_next_distribution_takes_another_wheel_of_the_same_version(cli, firewall) -> None:
    index = firewall({NATIVE_LINUX: "nexus"})
    target = ["--python-version", "3.12", "--platform", "linux_x86_64"]
    run = _check(cli, index, "native\n", *target)
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"native": "1.0"}  # next-version: the previous release
    run = _check(cli, index, "native\n", *target, "--fallback", "next-distribution")
    assert run.code == 0, run.out + run.err
    assert run.resolved("native")["version"] == "2.0"
    assert run.resolved("native")["file"] == NATIVE_ANY
    (blocked,) = run.target["blocked"]
    assert (blocked["file"], blocked["fallback"]) == (NATIVE_LINUX, "2.0")


def test_next_distribution_falls_back_to_the_sdist(cli, firewall) -> None:
    index = firewall({NATIVE_LINUX: "nexus", NATIVE_ANY: "xray"})
    run = _check(
        cli,
        index,
        "native\n",
        "--python-version",
        "3.12",
        "--fallback",
        "next-distribution",
    )
    assert run.code == 0, run.out + run.err
    assert run.resolved("native")["file"] == "native-2.0.tar.gz"
    assert {b["file"] for b in run.target["blocked"]} == {NATIVE_LINUX, NATIVE_ANY}


def test_fallback_from_the_config_file(cli, firewall) -> None:
    index = firewall({NATIVE_LINUX: "nexus"})
    config = f"fallback: next-distribution\nindexes:\n  - name: private\n    url: {index.url}\n"
    run = cli.run("--python-version", "3.12", requirements="native\n", config=config)
    assert run.code == 0, run.out + run.err
    assert run.resolved("native")["file"] == NATIVE_ANY


def test_a_pin_on_a_blocked_version_is_blocked_pin(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus"})
    run = _check(cli, index, "werkzeug\nflask==3.1.0\n")
    assert run.code == 1
    (error,) = run.errors()
    assert error["kind"] == "blocked-pin"
    assert error["package"] == "flask"
    assert (error["file"], error["line"]) == ("requirements.txt", 2)
    assert "flask 3.1.0" in error["message"]
    assert "REQUESTED ITEM IS QUARANTINED" in error["message"]
    assert run.target["blocked"][0]["version"] == "3.1.0"


def test_a_constraint_pin_on_a_blocked_version_is_blocked_pin(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus"})
    cli.write("constraints.txt", "# pinned by pip-compile\nflask==3.1.0\n")
    run = _check(cli, index, "-c constraints.txt\nflask\n")
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("blocked-pin", "flask")
    assert (error["file"], error["line"]) == ("constraints.txt", 2)
    assert "flask==3.1.0 (constraint, constraints.txt:2)" in error["message"]
    assert "flask 3.1.0 (Nexus Firewall" in error["message"]


def test_a_403_project_page_is_an_auth_failure_even_though_403_is_a_quarantine_code(
    cli, firewall, public_index
) -> None:
    index = firewall({"/simple/flask/": "nexus"})
    public = public_index(PACKAGES[:4])
    run = cli.run(
        "--index",
        f"private={index.url}",
        "--index",
        f"public={public.url}",
        requirements="flask\n",
    )
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["index"], error["status_code"]) == (
        "auth-failure",
        "flask",
        "private",
        403,
    )
    assert run.target["blocked"] == []
    assert public.requests_for("/simple/flask/") == []


@pytest.mark.parametrize(
    ("rule", "vendor", "reason", "details"),
    [
        ("nexus", "nexus-firewall", "REQUESTED ITEM IS QUARANTINED", True),
        ("nexus-problem", "nexus-firewall", "REQUESTED ITEM IS QUARANTINED", True),
        (
            FirewallRule("curation", policies=POLICIES),
            "jfrog-curation",
            "Package flask:3.1.0 download was blocked by JFrog Packages Curation service",
            False,
        ),
        (
            "xray",
            "jfrog-xray",
            "Artifact download request rejected: pypi-remote-cache/packages/" + FLASK_NEW,
            False,
        ),
        (
            FirewallRule("plain", message="Blocked by policy SEC-42: typosquat"),
            "unknown",
            "Blocked by policy SEC-42: typosquat",
            False,
        ),
    ],
    ids=["nexus", "nexus-problem-json", "curation", "xray", "unknown"],
)
def test_each_vendor_reason_reaches_the_report_and_the_summary(
    cli, firewall, rule, vendor, reason, details
) -> None:
    index = firewall({FLASK_NEW: rule})
    run = _check(cli, index, "flask\n", summary=True)
    assert run.code == 0, run.out + run.err
    (blocked,) = run.target["blocked"]
    assert blocked["vendor"] == vendor
    assert blocked["reason"].startswith(reason)
    url = default_details_url(FLASK_NEW)
    assert blocked["details_url"] == (url if details else None)
    if vendor == "jfrog-curation":
        assert blocked["policies"] == [dict(p) for p in POLICIES]
    else:
        assert blocked["policies"] == []
    summary = run.summary
    assert summary is not None
    assert "Blocked artifacts" in summary
    assert summary.index("Blocked artifacts") < summary.index("Resolution")
    row = next(line for line in summary.splitlines() if FLASK_NEW in line and "|" in line)
    label = {
        "nexus-firewall": "Nexus Firewall",
        "jfrog-curation": "JFrog Curation",
        "jfrog-xray": "JFrog Xray",
        "unknown": "unknown",
    }[vendor]
    assert label in row
    assert "3.1.0" in row and "3.0.3" in row  # blocked version, chosen instead
    assert reason.split(":")[0] in row
    if details:
        assert f"[details]({url})" in row
    if vendor == "jfrog-curation":
        for policy in POLICIES:
            assert policy["policy"] in row
            assert policy["remediation"] in row
            assert policy["explanation"] in row


def test_quarantine_codes_are_configurable(cli, firewall) -> None:
    rule = FirewallRule("plain", status=451, message="Unavailable: legal hold")
    index = firewall({FLASK_NEW: rule})
    config = (
        f"indexes:\n  - name: private\n    url: {index.url}\n    quarantine-codes: [403, 451]\n"
    )
    run = cli.run(requirements="flask\n", config=config)
    assert run.code == 0, run.out + run.err
    (blocked,) = run.target["blocked"]
    assert (blocked["status_code"], blocked["reason"], blocked["fallback"]) == (
        451,
        "Unavailable: legal hold",
        "3.0.3",
    )
    # the same from the environment, for a command-line index
    run = _check(cli, index, "flask\n", env={"INDEXGATE_INDEX_PRIVATE_QUARANTINE_CODES": "451"})
    assert run.code == 0, run.out + run.err
    assert run.target["blocked"][0]["status_code"] == 451


def test_fail_on_blocked_fails_the_gate_on_any_block(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus"})
    run = _check(cli, index, "flask\n", "--fail-on", "blocked")
    assert run.code == 1
    assert run.report["status"] == "fail"
    assert run.versions() == {"flask": "3.0.3", "werkzeug": "3.1.0"}  # still resolved
    assert run.target["blocked"][0]["file"] == FLASK_NEW


def test_a_blocked_url_is_fetched_once_per_run_across_targets(cli, firewall) -> None:
    index = firewall({FLASK_NEW: "nexus"})
    run = _check(cli, index, "flask\n", "--python-version", "3.11", "--python-version", "3.12")
    assert run.code == 0, run.out + run.err
    assert len(run.report["targets"]) == 2
    for target in run.report["targets"]:
        assert [b["file"] for b in target["blocked"]] == [FLASK_NEW]
        assert run.versions(target)["flask"] == "3.0.3"
    assert len(index.requests_for(f"/packages/{FLASK_NEW}")) == 1


def test_a_block_never_moves_the_search_to_another_index(cli, firewall, public_index) -> None:
    index = firewall({FLASK_NEW: "nexus", FLASK_OLD: "curation"})
    public = public_index(PACKAGES[:4])  # has both flask versions, unblocked
    run = cli.run(
        "--index", f"private={index.url}", "--index", f"public={public.url}", requirements="flask\n"
    )
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("no-solution", "flask")
    assert {b["index"] for b in run.target["blocked"]} == {"private"}
    assert public.requests_for("/simple/flask/") == []
    assert public.requests_for("/packages/flask") == []


def test_a_blocked_extra_dependency_backtracks_too(cli, firewall) -> None:
    packages = [
        wheel("web", "1.0", 'flask>=3; extra == "flask"', provides_extra=["flask"]),
        *PACKAGES[:4],
    ]
    index = firewall({FLASK_NEW: "xray"}, packages)
    run = _check(cli, index, "web[flask]\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"web": "1.0", "flask": "3.0.3", "werkzeug": "3.1.0"}
    (blocked,) = run.target["blocked"]
    assert (blocked["name"], blocked["fallback"]) == ("flask", "3.0.3")


def test_only_binary_skips_the_sdist_under_next_distribution(cli, firewall) -> None:
    index = firewall({NATIVE_LINUX: "nexus", NATIVE_ANY: "nexus"})
    args = ["--python-version", "3.12", "--fallback", "next-distribution"]
    run = _check(cli, index, "native\n", *args, "--only-binary", ":all:")
    assert run.code == 0, run.out + run.err
    assert run.resolved("native")["file"] == "native-1.0-py3-none-any.whl"
    assert {(b["file"], b["fallback"]) for b in run.target["blocked"]} == {
        (NATIVE_LINUX, "1.0"),
        (NATIVE_ANY, "1.0"),
    }
