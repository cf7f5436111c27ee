"""The report: one data model, rendered as JSON, text and Markdown.

Field names follow the JSON contract (``indexgate-report/1``) so that ``to_json`` is a
plain conversion and every renderer reads the same facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, Literal

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


@dataclass
class Resolved:
    name: str
    version: str
    index: str | None
    file: str | None
    requested_by: list[str] = field(default_factory=list)


@dataclass
class Blocked:
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


@dataclass
class TargetReport:
    python: str
    platform: str
    status: Status = "pass"
    resolution: list[Resolved] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    drift: list[dict[str, Any]] | None = None  # per-package drift section (drift command)


@dataclass
class Report:
    command: Literal["check", "drift"]
    targets: list[TargetReport] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)  # run-wide (e.g. unchecked default)
    changes: dict[str, Any] | None = None  # drift: changes since --previous-report
    schema: str = SCHEMA

    @property
    def status(self) -> Status:
        states = {t.status for t in self.targets}
        if "error" in states:
            return "error"
        if "fail" in states or not self.targets:
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
            data["warnings"] = [_clean(_asdict(w)) for w in self.warnings]
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
    return {name: _copy(getattr(obj, name)) for name in _field_names(type(obj))}


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _clean(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _target_dict(t: TargetReport) -> dict[str, Any]:
    data: dict[str, Any] = {
        "python": t.python,
        "platform": t.platform,
        "status": t.status,
        "resolution": [_asdict(r) for r in t.resolution],
        "blocked": [
            {k: v for k, v in _asdict(b).items() if k not in ("file_path", "line")}
            for b in t.blocked
        ],
        "errors": [_clean(_asdict(e)) for e in t.errors],
        "warnings": [_clean(_asdict(w)) for w in t.warnings],
    }
    if t.drift is not None:
        data["drift"] = t.drift
    return data
