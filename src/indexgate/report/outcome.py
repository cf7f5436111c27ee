"""The gate's outcome: what ``--fail-on`` may name, each target's status, and the record of
what was fatal.

The status of a target and which of its findings made it fail are decided here, once, when
the run (``check`` or ``drift``) finishes the target. The decision is written into the
report itself (``fatal`` and ``fail_on`` on each warning, blocked artifact and drift entry
that ``--fail-on`` made fatal), so the renderers and the Action's annotations read it
instead of applying the settings a second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from indexgate.model import Blocked, Problem, Report, Status, TargetReport
from indexgate.policy import FAIL_ON

if TYPE_CHECKING:  # a check has no drift entry: the class loads with drift only
    from indexgate.drift_model import DriftEntry

__all__ = [
    "blocked_findings",
    "decide_report",
    "decide_target",
    "fatal_rules",
    "fatal_warning",
    "target_status",
]


def blocked_findings(blocked: Iterable[Blocked]) -> set[str]:
    """What ``blocked[]`` entries add to the findings ``--fail-on`` may name: ``blocked``
    for any entry, ``pending`` for one whose scan is still in progress."""
    states = {b.state for b in blocked}
    return ({"blocked"} if states else set()) | ({"pending"} if "pending" in states else set())


def fatal_warning(kind: str, fail_on: frozenset[str]) -> bool:
    """Does ``--fail-on`` turn a warning of this kind into a gate failure?"""
    return "warnings" in fail_on or any(kind in FAIL_ON[f] for f in fail_on if f in FAIL_ON)


def fatal_rules(kind: str, fail_on: frozenset[str]) -> list[str]:
    """The ``fail-on`` rules that make a warning of this kind fatal, in ``FAIL_ON`` order."""
    return [r for r in FAIL_ON if r in fail_on and fatal_warning(kind, frozenset({r}))]


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


def decide_target(t: TargetReport, fail_on: frozenset[str]) -> Status:
    """Decide ``t``'s status under ``fail_on``, set it, and record what was fatal.

    Every warning, blocked artifact and drift entry gets its ``fail_on`` rules (None when
    it does not fail the gate); ``fatal`` says there are some.
    Called again on the same target (a target whose errors changed), the record is
    rewritten, not added to. The findings are the blocked artifacts (``blocked``,
    ``pending``) and, for drift, the entries stuck in quarantine or hidden by the index's
    page (``stuck``) and the shadowed names.
    """
    for w in t.warnings:
        _mark(w, fatal_rules(w.kind, fail_on))
    for b in t.blocked:
        _mark(b, _blocked_rules(b, fail_on))
    findings = blocked_findings(t.blocked)
    for e in t.drift or []:
        rules = _drift_rules(e)
        findings.update(rules)
        _mark(e, [r for r in rules if r in fail_on])
    t.status = target_status(
        (e.kind for e in t.errors), (w.kind for w in t.warnings), findings, fail_on
    )
    return t.status


def decide_report(report: Report, fail_on: frozenset[str]) -> Status:
    """Decide every target (``decide_target``) and record which run-wide warnings
    ``fail_on`` makes fatal (an index that matched no project, an implicit default index not
    checked): under ``fail-on: warnings`` they fail the gate as a target's warnings do. The
    report's status follows from both. Called once per run, by ``gate``, for ``check`` and
    ``drift`` alike: the runs hand over findings, this decides."""
    for t in report.targets:
        decide_target(t, fail_on)
    for w in report.warnings:
        _mark(w, fatal_rules(w.kind, fail_on))
    return report.status


def _blocked_rules(b: Blocked, fail_on: frozenset[str]) -> list[str]:
    rules = ["blocked"] if "blocked" in fail_on else []
    if "pending" in fail_on and b.state == "pending":
        rules.append("pending")
    return rules


def _drift_rules(entry: DriftEntry) -> list[str]:
    """The findings a drift entry stands for: ``stuck`` (stuck in quarantine, or versions
    the index's page hides), ``shadowed`` (a name other indexes also serve)."""
    found = {"stuck"} if entry.stuck or entry.hidden else set()
    found |= {"shadowed"} if entry.shadowed else set()
    return [r for r in FAIL_ON if r in found]


def _mark(item: Problem | Blocked | DriftEntry, rules: list[str]) -> None:
    item.fail_on = rules or None
