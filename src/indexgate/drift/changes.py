"""What changed since the last drift report (``--previous-report``).

The previous run's JSON is the only memory between runs, so everything compared here is
read from its ``drift`` entries (read back with ``DriftEntry.from_dict``): each probed
version's status and the newest version listed. A claim needs evidence on both sides:
"released" means blocked then, allowed now; "newly blocked" means allowed then (or
published since) and blocked now.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from indexgate.drift_model import DriftEntry, ProbedFile
from indexgate.errors import InputError
from indexgate.model import SCHEMA, Report

__all__ = ["changes", "previous_entries", "read_previous"]


def read_previous(path: Path, display: str) -> dict[str, Any]:
    """The last run's JSON report; an InputError naming the file if it is not one."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("previous report not found", file=display) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the previous report: {exc}", file=display) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", file=display, line=exc.lineno) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"not an indexgate report (expected schema {SCHEMA!r})", file=display)
    if data.get("command") != "drift":
        raise InputError(
            f"a `{data.get('command')}` report: --previous-report takes the JSON report "
            "(--report-json) of an earlier `indexgate drift` run",
            file=display,
        )
    targets = data.get("targets")
    if not isinstance(targets, list) or not all(
        isinstance(t, dict) and isinstance(t.get("drift", []), list) for t in targets
    ):
        raise InputError("'targets' must be a list of targets with 'drift' lists", file=display)
    return data


def previous_entries(previous: dict[str, Any]) -> list[DriftEntry]:
    """The drift entries of a previous report; one that has no name is left out."""
    entries = []
    for target in previous.get("targets", []):
        for data in target.get("drift") or []:
            if isinstance(data, dict) and isinstance(data.get("name"), str):
                entries.append(DriftEntry.from_dict(data))
    return entries


def _facts(
    entries: Iterable[DriftEntry],
) -> tuple[dict[tuple[str, str], ProbedFile], dict[str, Version]]:
    """(name, version) -> probe (blocked wins over allowed) and name -> newest listed."""
    probes: dict[tuple[str, str], ProbedFile] = {}
    latest: dict[str, Version] = {}
    for entry in entries:
        name = entry.name
        newest = _version(entry.latest.version) if entry.latest is not None else None
        if newest is not None and (name not in latest or newest > latest[name]):
            latest[name] = newest
        for probe in entry.probed:
            key = (name, probe.version)
            if key not in probes or probe.status == "blocked":
                probes[key] = probe
    return probes, latest


def changes(
    report: Report, previous: dict[str, Any], listed: dict[str, set[Version]]
) -> dict[str, Any]:
    """Newly blocked, released from quarantine and newly published since ``previous``.

    "Newly blocked" needs evidence that it was not blocked before: allowed last time, or
    published since. A version that was not probed last time is never claimed. ``listed``
    holds the versions an install could take now, per package.
    """
    old, old_latest = _facts(previous_entries(previous))
    new, _ = _facts(e for t in report.targets for e in t.drift or [])
    newly_blocked, released = [], []
    for (name, version), probe in sorted(new.items()):
        before = old.get((name, version))
        v = _version(version)
        fresh = name in old_latest and v is not None and v > old_latest[name]
        item = {"name": name, "version": version, "file": probe.file, "index": probe.index}
        was = before.status if before else None
        if probe.status == "blocked" and (was == "allowed" or (before is None and fresh)):
            newly_blocked.append(item)
        elif probe.status == "allowed" and was == "blocked":
            released.append(item)
    published = [
        {"name": name, "version": str(v)}
        for name, versions in sorted(listed.items())
        if name in old_latest
        for v in sorted(versions, reverse=True)
        if v > old_latest[name]
    ]
    for t in report.targets:
        for e in t.drift or []:
            mark = {
                key: [c["version"] for c in items if c["name"] == e.name]
                for key, items in (
                    ("newly_blocked", newly_blocked),
                    ("released", released),
                    ("newly_published", published),
                )
            }
            e.changes = {k: v for k, v in mark.items() if v}  # {}: compared, none
    return {
        "previous_status": previous.get("status"),
        "newly_blocked": newly_blocked,
        "released": released,
        "newly_published": published,
    }


def _version(value: Any) -> Version | None:
    try:
        return Version(value) if isinstance(value, str) else None
    except InvalidVersion:
        return None
