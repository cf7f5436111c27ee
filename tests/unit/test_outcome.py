"""The gate's outcome (report/outcome.py): the status under ``--fail-on``, and the record of
what was fatal that the renderers and the Action's annotations read."""

from __future__ import annotations

import json
from typing import Any

from indexgate.drift_model import DriftEntry, HiddenVersions, ShadowedName, StuckVersions
from indexgate.model import Blocked, Problem, Report, TargetReport
from indexgate.report.json_report import to_json
from indexgate.report.outcome import decide_target

# --- the gate's outcome: one place for --fail-on --------------------------------------


def test_unreachable_index_is_an_error_whatever_else_failed() -> None:
    from indexgate.report.outcome import target_status

    status = target_status(["auth-failure", "index-unreachable"], [], [], frozenset())
    assert status == "error"


def test_findings_fail_only_when_fail_on_names_them() -> None:
    from indexgate.report.outcome import target_status

    assert target_status([], [], ["blocked"], frozenset()) == "pass"
    assert target_status([], [], ["blocked"], frozenset({"blocked"})) == "fail"
    assert target_status([], [], ["stuck"], frozenset({"shadowed"})) == "pass"


def test_fail_on_makes_its_warning_kinds_fatal() -> None:
    from indexgate.report.outcome import fatal_warning, target_status

    assert fatal_warning("yanked-pin", frozenset({"yanked"}))
    assert not fatal_warning("yanked-pin", frozenset({"shadowed"}))
    assert fatal_warning("skipped-index", frozenset({"warnings"}))
    assert target_status([], ["shadowed-name"], [], frozenset({"shadowed"})) == "fail"
    assert target_status([], ["shadowed-name"], [], frozenset()) == "pass"


# --- the record: decided once, read by every output ------------------------------------


def _blocked(name: str, state: str = "blocked") -> Blocked:
    return Blocked(
        name, "2.0", f"{name}-2.0-py3-none-any.whl", "private", "download", 403,
        "nexus-firewall", "QUARANTINED", fallback="1.0", state=state,  # type: ignore[arg-type]
    )  # fmt: skip


def _entry(name: str, **facts: Any) -> DriftEntry:
    return DriftEntry(name, "1.0", None, "uv.lock:1", **facts)


def test_decide_records_which_warnings_fail_the_gate_and_by_which_rules() -> None:
    yanked = Problem("yanked-pin", "six 1.16.0 is yanked", package="six")
    other = Problem("skipped-index", "skipped", index="b")
    t = TargetReport("3.12", "linux_x86_64", warnings=[yanked, other])
    assert decide_target(t, frozenset({"yanked", "warnings"})) == "fail" == t.status
    assert (yanked.fatal, yanked.fail_on) == (True, ["warnings", "yanked"])  # FAIL_ON order
    assert (other.fatal, other.fail_on) == (True, ["warnings"])
    # Decided again under other rules: the record is rewritten, not added to.
    assert decide_target(t, frozenset({"shadowed"})) == "pass"
    assert (yanked.fatal, yanked.fail_on, other.fatal) == (False, None, False)


def test_decide_records_blocked_and_pending_artifacts() -> None:
    done, pending = _blocked("a"), _blocked("b", "pending")
    t = TargetReport("3.12", "linux_x86_64", blocked=[done, pending])
    assert decide_target(t, frozenset({"pending"})) == "fail"
    assert (done.fatal, pending.fatal, pending.fail_on) == (False, True, ["pending"])
    assert decide_target(t, frozenset({"blocked", "pending"})) == "fail"
    assert (done.fail_on, pending.fail_on) == (["blocked"], ["blocked", "pending"])
    assert decide_target(t, frozenset()) == "pass"
    assert (done.fail_on, pending.fail_on) == (None, None)


def test_decide_records_stuck_hidden_and_shadowed_drift_entries() -> None:
    stuck = _entry("a", stuck=StuckVersions(["2.0"]))
    hidden = _entry("b", hidden=HiddenVersions("x", "upstream", []))
    shadowed = _entry("c", shadowed=ShadowedName("x", [], "high"))
    fine = _entry("d")
    t = TargetReport("3.12", "linux_x86_64", drift=[stuck, hidden, shadowed, fine])
    assert decide_target(t, frozenset({"stuck"})) == "fail"
    assert stuck.fail_on == hidden.fail_on == ["stuck"] and stuck.fatal is True
    assert not shadowed.fatal and fine.fail_on is None
    assert (stuck.to_dict()["fatal"], stuck.to_dict()["fail_on"]) == (True, ["stuck"])
    assert "fatal" not in shadowed.to_dict() and "fail_on" not in fine.to_dict()
    assert decide_target(t, frozenset({"shadowed"})) == "fail"
    assert not stuck.fatal and shadowed.fail_on == ["shadowed"]
    assert decide_target(t, frozenset()) == "pass"
    assert not any(e.fatal or "fatal" in e.to_dict() for e in (stuck, hidden, shadowed, fine))


def test_errors_fail_the_gate_and_are_not_marked() -> None:
    error = Problem("no-solution", "nothing fits", package="a")
    t = TargetReport("3.12", "linux_x86_64", errors=[error], blocked=[_blocked("a")])
    assert decide_target(t, frozenset()) == "fail"
    assert not error.fatal and not t.blocked[0].fatal


def test_the_json_carries_fatal_and_the_rules_only_where_fail_on_made_it_fatal() -> None:
    yanked = Problem("yanked-pin", "six 1.16.0 is yanked", package="six")
    shadow = Problem("shadowed-name", "also on b", package="six")
    t = TargetReport("3.12", "linux_x86_64", warnings=[yanked, shadow], blocked=[_blocked("a")])
    decide_target(t, frozenset({"yanked"}))
    target = json.loads(to_json(Report("check", [t])))["targets"][0]
    assert target["warnings"][0]["fatal"] is True
    assert target["warnings"][0]["fail_on"] == ["yanked"]
    assert "fatal" not in target["warnings"][1] and "fail_on" not in target["warnings"][1]
    assert "fatal" not in target["blocked"][0] and "fail_on" not in target["blocked"][0]
    decide_target(t, frozenset({"blocked"}))
    target = json.loads(to_json(Report("check", [t])))["targets"][0]
    assert (target["blocked"][0]["fatal"], target["blocked"][0]["fail_on"]) == (True, ["blocked"])
    assert "file_path" not in target["blocked"][0]
