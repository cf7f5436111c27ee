"""The data a run produces: one model, built by the index client, the resolver and drift,
decided on by ``report.outcome`` and rendered as JSON, text and Markdown by ``report/``.

Plain data at the bottom of the layers (as uv keeps its types in a crate of their own that
the client and the resolver share): it imports nothing of indexgate. Owns the shape of a
report (targets, resolution, blocked artifacts, errors, warnings, changes) and its
conversion to the contract's dict; a drift entry and its facts are its sibling
``drift_model.py``'s, which a check never loads. Field names follow the
JSON contract (``indexgate-report/1``) so that ``to_dict`` is a plain conversion and every
renderer reads the same facts. The status of each target and the record of what
``--fail-on`` made fatal are filled in by :mod:`indexgate.report.outcome`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:  # a check run builds no drift entry: its class loads with drift only
    from indexgate.drift_model import DriftEntry

Status = Literal["pass", "fail", "error"]
ErrorKind = Literal[
    "auth-failure",
    "no-solution",
    "index-unreachable",
    "invalid-input",
    "blocked-pin",
    "missing-pin",
    "hash-mismatch",
]
SCHEMA = "indexgate-report/1"


@dataclass
class Problem:
    """An error or a warning. ``file``/``line`` point at the requirement at fault."""

    kind: str
    message: str
    package: str | None = None
    index: str | None = None
    status_code: int | None = None
    file: str | None = None
    line: int | None = None
    # Recorded by report/outcome.py when the target's status is decided: the ``fail-on``
    # rules that make this warning fail the gate; None when it does not. In the JSON (with
    # ``fatal: true``) only when there are some.
    fail_on: list[str] | None = None

    @property
    def fatal(self) -> bool:
        """Did ``fail-on`` make this warning fail the gate (errors always do)?"""
        return bool(self.fail_on)


@dataclass
class Resolved:
    """One pinned package of a target's resolution, and the file it installs."""

    name: str
    version: str
    index: str | None
    file: str | None
    requested_by: list[str] = field(default_factory=list)


@dataclass
class Blocked:
    """One artifact the index refused (a firewall, a quarantine), and why."""

    name: str
    version: str
    file: str
    index: str
    stage: Literal["metadata", "download"]
    status_code: int
    vendor: str
    reason: str
    details_url: str | None = None
    fallback: str | None = None
    policies: list[dict[str, str]] = field(default_factory=list)
    state: Literal["blocked", "pending", "waivable"] = "blocked"  # see index/firewall.py
    file_path: str | None = None  # requirement file that asked for the package (annotations)
    line: int | None = None
    fail_on: list[str] | None = None  # as on Problem: the rules that made this block fatal

    @property
    def fatal(self) -> bool:
        """Did ``fail-on`` make this block fail the gate?"""
        return bool(self.fail_on)


# The words for a Blocked's ``vendor`` and ``state`` (read by index/firewall.py): the
# report owns how a block is named and what to do about it; the index only classifies.
_LABELS: dict[str, str] = {
    "nexus-firewall": "Nexus Firewall",
    "jfrog-curation": "JFrog Curation",
    "jfrog-xray": "JFrog Xray",
    "unknown": "unknown firewall",
}


def vendor_label(vendor: str) -> str:
    """The human name of a vendor, for tables and messages."""
    return _LABELS.get(vendor, _LABELS["unknown"])


def state_advice(state: str) -> str:
    """What to do about a refused artifact of this state: the words the summary uses."""
    if state == "pending":
        return "scan in progress, try again later"
    if state == "waivable":
        return "blocked by policy, waivers allowed; request a waiver or use another version"
    return "blocked by policy; use another version or ask your security team"


@dataclass
class TargetReport:
    """The outcome of one target: its resolution, blocks, errors and warnings."""

    python: str
    platform: str
    status: Status = "pass"
    resolution: list[Resolved] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    drift: list[DriftEntry] | None = None  # per-package drift section (drift command)


@dataclass
class Report:
    """The whole run's report: what every renderer reads."""

    command: Literal["check", "drift"]
    targets: list[TargetReport] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # run-wide (e.g. unchecked default)
    changes: dict[str, Any] | None = None  # drift: changes since --previous-report
    schema: str = SCHEMA

    @property
    def status(self) -> Status:
        """The worst target's status; a run-wide warning that ``fail-on`` made fatal (see
        ``report.outcome.decide_report``) fails the gate too."""
        states = {t.status for t in self.targets}
        if "error" in states:
            return "error"
        if "fail" in states or not self.targets or any(w.fail_on for w in self.warnings):
            return "fail"
        return "pass"

    @property
    def blocked_count(self) -> int:
        return len({(b.name, b.version, b.file) for t in self.targets for b in t.blocked})

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "schema": self.schema,
            "command": self.command,
            "status": self.status,
            "targets": [_target_dict(t) for t in self.targets],
        }
        if self.warnings:
            data["warnings"] = [_problem_dict(w) for w in self.warnings]
        if self.changes is not None:
            data["changes"] = self.changes
        return data


@cache
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _asdict(obj: Any) -> dict[str, Any]:
    """``dataclasses.asdict`` for this model: fields in order, lists and dicts copied.

    asdict deep-copies every string and number too, which was half the cost of writing
    a report of a few hundred packages.
    """
    return {name: copy_json(getattr(obj, name)) for name in _field_names(type(obj))}


def copy_json(value: Any) -> Any:
    """``value`` with its lists and dicts copied, its strings and numbers shared."""
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    return value


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def mark_fatal(d: dict[str, Any]) -> dict[str, Any]:
    """``fatal: true`` then the rules, where ``fail-on`` made an entry fatal; else neither."""
    rules = d.pop("fail_on", None)
    return {**d, "fatal": True, "fail_on": rules} if rules else d


def _problem_dict(p: Problem) -> dict[str, Any]:
    return mark_fatal(_clean(_asdict(p)))


def _blocked_dict(b: Blocked) -> dict[str, Any]:
    # file_path and line are for annotations only, not in the JSON
    return mark_fatal({k: v for k, v in _asdict(b).items() if k not in ("file_path", "line")})


def _target_dict(t: TargetReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "python": t.python,
        "platform": t.platform,
        "status": t.status,
        "resolution": [_asdict(r) for r in t.resolution],
        "blocked": [_blocked_dict(b) for b in t.blocked],
        "errors": [_problem_dict(e) for e in t.errors],
        "warnings": [_problem_dict(w) for w in t.warnings],
    }
    if t.drift is not None:
        data["drift"] = [e.to_dict() for e in t.drift]
    return data
