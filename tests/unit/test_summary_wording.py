"""A summary that explains itself: the fail-on rule, the pins a drift run checked, the first
drift run, the transitive path of a block, a reason apart from its link, a policy named once.
"""

from __future__ import annotations

from pathlib import Path

from indexgate import action, workflow
from indexgate.drift_model import DriftEntry
from indexgate.model import Blocked, Problem, Report, Resolved, TargetReport
from indexgate.report.outcome import decide_target
from indexgate.report.render import dependency_path, render_markdown, render_text

POLICY = {
    "policy": "block-new-releases",
    "condition": "Package version is younger than 14 days",
    "remediation": "Use an older version",
}


def _blocked(name: str, version: str, **kw: object) -> Blocked:
    base: dict[str, object] = {
        "file": f"{name}-{version}-py3-none-any.whl",
        "index": "private",
        "stage": "download",
        "status_code": 403,
        "vendor": "nexus-firewall",
        "reason": "REQUESTED ITEM IS QUARANTINED",
        "details_url": "https://iq.example/ui/links/1",
        "fallback": "1.0",
    }
    return Blocked(name, version, **{**base, **kw})  # type: ignore[arg-type]


def _target(**kw: object) -> TargetReport:
    resolution = [
        Resolved("acme-web", "2.0.0", "private", "w.whl", ["requirements.txt:2"]),
        Resolved("requests", "2.32.0", "private", "r.whl", ["acme-web 2.0.0"]),
        Resolved("urllib3", "2.5.0", "private", "u.whl", ["requests 2.32.0", "acme-web 2.0.0"]),
    ]
    return TargetReport("3.12", "linux_x86_64", resolution=resolution, **kw)  # type: ignore[arg-type]


def _decided(fail_on: frozenset[str], **kw: object) -> TargetReport:
    """A target whose status (and record of what was fatal) report/outcome.py decided."""
    t = _target(**kw)
    decide_target(t, fail_on)
    return t


def test_a_transitive_block_names_its_path() -> None:
    t = _target(blocked=[_blocked("urllib3", "2.6.0"), _blocked("acme-web", "2.1.0")])
    assert dependency_path(t, "urllib3") == (["acme-web", "requests"], "requirements.txt", 2)
    assert dependency_path(t, "acme-web") == ([], "requirements.txt", 2)
    assert dependency_path(t, "unknown") == ([], None, None)
    report = Report("check", [t])
    md = render_markdown(report)
    assert "| urllib3 via acme-web → requests | 2.6.0 |" in md
    assert "| acme-web | 2.1.0 |" in md
    assert "urllib3 via acme-web → requests" in render_text(report)


def test_a_dependency_cycle_does_not_loop() -> None:
    t = TargetReport(
        "3.12",
        "linux_x86_64",
        resolution=[
            Resolved("a", "1", "i", "a.whl", ["b 1"]),
            Resolved("b", "1", "i", "b.whl", ["a 1"]),
        ],
    )
    assert dependency_path(t, "a") == (["b"], None, None)


def test_the_curation_policy_is_named_once() -> None:
    named = _blocked(
        "acme-web",
        "2.1.0",
        vendor="jfrog-curation",
        reason="download was blocked by JFrog Curation: policy block-new-releases",
        details_url=None,
        policies=[POLICY],
    )
    report = Report("check", [TargetReport("3.12", "linux_x86_64", blocked=[named])])
    for text in (render_markdown(report), render_text(report)):
        assert text.count("block-new-releases") == 1, text
        assert "Package version is younger than 14 days; Use an older version" in text
    # A reason that does not name the policy: the policy line names it.
    unnamed = _blocked(
        "acme-web", "2.1.0", vendor="jfrog-curation", reason="blocked", policies=[POLICY]
    )
    report = Report("check", [TargetReport("3.12", "linux_x86_64", blocked=[unnamed])])
    assert "policy block-new-releases: Package version" in render_markdown(report)


def test_fail_on_names_the_rule_and_the_artifacts() -> None:
    blocked = [_blocked("acme-core", "1.2.0"), _blocked("urllib3", "2.6.0")]
    report = Report("check", [_decided(frozenset({"blocked"}), blocked=blocked)])
    assert report.status == "fail"
    md = render_markdown(report)
    section = md.split("### Failed by `fail-on`", 1)[1].split("###", 1)[0]
    assert "`fail-on: blocked` (2 findings)" in section
    assert "acme-core 1.2.0" in section and "urllib3 via acme-web → requests 2.6.0" in section
    assert md.index("Failed by") < md.index("### Blocked artifacts")
    assert "Failed by fail-on: blocked: acme-core 1.2.0" in render_text(report)
    # A pass says nothing of fail-on; a rule that found nothing is not named.
    passed = Report("check", [_decided(frozenset(), blocked=blocked)])
    assert passed.status == "pass"
    assert "Failed by" not in render_markdown(passed)
    # Nor does a hand-built pass, whatever its entries say.
    marked = _decided(frozenset({"blocked"}), blocked=blocked)
    marked.status = "pass"
    assert "Failed by" not in render_markdown(Report("check", [marked]))
    yanked = Problem("yanked-pin", "six 1.16.0 is yanked", package="six")
    report = Report("check", [_decided(frozenset({"yanked", "shadowed"}), warnings=[yanked])])
    md = render_markdown(report)
    assert "`fail-on: yanked` (1 finding): six (yanked-pin)" in md
    assert "fail-on: shadowed" not in md


def test_drift_counts_the_pins_it_checked_not_what_resolved() -> None:
    entries = [
        DriftEntry("acme-web", "2.0.0", None, "uv.lock:1"),
        DriftEntry("six", "1.16.0", None, "uv.lock:2"),
        DriftEntry("flask", None, "flask>=3", "pyproject.toml"),
    ]
    auth = Problem("auth-failure", "401", package="acme-web")
    t = TargetReport("3.12", "linux_x86_64", "fail", errors=[auth], drift=entries)
    report = Report("drift", [t])
    md = render_markdown(report)
    head = md.splitlines()[0]
    assert head.endswith("(1 target, 2 pins and 1 requirement checked, 0 blocked, 1 error)")
    assert "**2 pins and 1 requirement checked, " in md


def test_the_first_drift_run_says_there_was_no_previous_report(tmp_path: Path) -> None:
    inputs = {name: action.DEFAULTS.get(name, "") for name in action.INPUTS}
    inputs |= {"command": "drift", "previous-report": "previous/drift.json"}
    note = action.first_run_note(inputs, tmp_path)
    assert note and "No previous report at `previous/drift.json`" in note
    md = render_markdown(Report("drift", [TargetReport("3.12", "x", drift=[])]), notes=[note])
    assert md.index("No previous report") < md.index("### Quarantine drift")
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "drift.json").write_text("{}")
    assert action.first_run_note(inputs, tmp_path) is None  # there is one: changes are shown
    assert action.first_run_note({**inputs, "command": "check"}, tmp_path) is None


def test_the_annotation_keeps_the_reason_apart_from_its_link(tmp_path: Path) -> None:
    t = _target(blocked=[_blocked("urllib3", "2.6.0")])
    (tmp_path / "requirements.txt").write_text("x\nacme-web\n")
    errors, warnings = workflow.collect_notes(Report("check", [t]), tmp_path)
    (note,) = warnings
    assert not errors
    assert note.message.startswith("urllib3 2.6.0 (via acme-web → requests), file ")
    assert "Reason: REQUESTED ITEM IS QUARANTINED. indexgate chose 1.0 instead." in note.message
    assert note.message.endswith(" Details: https://iq.example/ui/links/1")
    # Anchored on the line that pulled the package in.
    assert (note.file, note.line) == ("requirements.txt", 2)
