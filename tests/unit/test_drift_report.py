"""Drift without servers: previous reports, pins, changes, and a summary that stays small."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

from indexgate.cli import main
from indexgate.drift import collect_pins
from indexgate.drift.changes import changes, read_previous
from indexgate.drift_model import (
    DriftEntry,
    HiddenVersion,
    HiddenVersions,
    LatestVersion,
    PinnedFile,
    ProbedFile,
    ShadowedName,
    ShadowingIndex,
    StuckVersions,
)
from indexgate.errors import InputError
from indexgate.model import Report, TargetReport
from indexgate.report.render import render_markdown, render_text
from indexgate.sources import load_sources


def entry(name: str, pinned: str, probed: dict[str, str], latest: str, **extra: Any) -> DriftEntry:
    """A drift entry (only the facts the code reads)."""
    return DriftEntry(
        name=name,
        pinned=pinned,
        requirement=None,
        source="uv.lock:1",
        index="internal",
        pin=PinnedFile(pinned, f"{name}-{pinned}.whl", probed[pinned]),
        latest=LatestVersion(latest, status=probed.get(latest, "unprobed")),
        probed=[ProbedFile(v, f"{name}-{v}.whl", "internal", s) for v, s in probed.items()],
        **extra,
    )


def drift_report(*entries: DriftEntry, changes: dict | None = None) -> Report:
    target = TargetReport("3.12", "linux_x86_64", drift=list(entries))
    return Report("drift", [target], changes=changes)


# --- --previous-report ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (None, "previous report not found", None),
        ('{"schema": "indexgate-report/1",\n  "command": ', "not valid JSON", 2),
        ('{"schema": "other"}', "not an indexgate report", None),
        ('{"schema": "indexgate-report/1", "command": "check", "targets": []}', "`check`", None),
        ('{"schema": "indexgate-report/1", "command": "drift", "targets": {}}', "'targets'", None),
    ],
)
def test_read_previous_names_the_file(tmp_path: Path, content, message, line) -> None:
    path = tmp_path / "last.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(InputError) as info:
        read_previous(path, "last.json")
    assert info.value.file == "last.json" and message in str(info.value)
    assert info.value.line == line


def test_a_bad_previous_report_exits_2_before_any_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("flask==3.0.3\n")
    Path("last.json").write_text(json.dumps(Report("check").to_dict()))
    argv = ["drift", "--index", "http://127.0.0.1:9/simple/", "--previous-report", "last.json"]
    assert main(argv) == 2
    assert "last.json: a `check` report" in capsys.readouterr().err


# --- pins -------------------------------------------------------------------------------


def test_pins_from_hashed_requirements_and_locks(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text(
        "flask==3.0.3 --hash=sha256:AB12\nrich>=13\nsix===1.16.0\nattrs==23.*\n"
    )
    (tmp_path / "uv.lock").write_text(
        'version = 1\n\n[[package]]\nname = "tqdm"\nversion = "4.0.0"\n'
        'source = { registry = "https://pypi.org/simple" }\n'
    )
    sources = load_sources(["requirements.txt", "uv.lock"], cwd=tmp_path, allow_locks=True)

    pins = {p.name: p for p in collect_pins(sources)}

    assert str(pins["flask"].version) == "3.0.3" and pins["flask"].hashes == {"sha256:ab12"}
    assert pins["rich"].version is None and str(pins["rich"].specifier) == ">=13"
    assert str(pins["six"].version) == "1.16.0"
    assert pins["attrs"].version is None  # a wildcard pins nothing
    assert pins["tqdm"].index_url == "https://pypi.org/simple"
    assert len(pins) == 5  # the lock's own ==-requirement is not counted twice


# --- changes ----------------------------------------------------------------------------


def test_changes_need_evidence_on_both_sides() -> None:
    before = drift_report(
        entry("a", "1.0", {"1.0": "allowed", "1.2": "blocked"}, "1.2"),
        entry("b", "2.0", {"2.0": "allowed"}, "2.1"),
    ).to_dict()
    now = drift_report(
        entry("a", "1.0", {"1.0": "allowed", "1.2": "allowed"}, "1.3"),
        entry("b", "2.0", {"2.0": "blocked", "2.1": "blocked", "2.2": "blocked"}, "2.2"),
        entry("c", "1.0", {"1.0": "blocked"}, "1.0"),  # new in this run: nothing claimed
    )
    listed = {"a": {Version("1.2"), Version("1.3")}, "b": {Version("2.1"), Version("2.2")}}

    result = changes(now, before, listed)

    pairs = {
        k: [(c["name"], c["version"]) for c in v]
        for k, v in result.items()
        if k != "previous_status"
    }
    assert pairs == {
        "released": [("a", "1.2")],
        # 2.0 was allowed, 2.2 is new; 2.1 was listed but never probed: not claimed
        "newly_blocked": [("b", "2.0"), ("b", "2.2")],
        "newly_published": [("a", "1.3"), ("b", "2.2")],
    }
    marks = {e.name: e.to_dict()["changes"] for e in now.targets[0].drift or []}
    assert marks == {
        "a": {"released": ["1.2"], "newly_published": ["1.3"]},
        "b": {"newly_blocked": ["2.0", "2.2"], "newly_published": ["2.2"]},
        "c": None,
    }


# --- rendering --------------------------------------------------------------------------


def huge_report(n: int) -> Report:
    entries = []
    for i in range(n):
        e = entry(f"package-{i:05d}", "1.0", {"1.0": "blocked", "2.0": "blocked"}, "2.0")
        e.probed[0].vendor = "nexus-firewall"
        e.probed[0].reason = "REQUESTED ITEM IS QUARANTINED " * 4
        e.stuck = StuckVersions(["2.0"], "2025-01-01T00:00:00Z", 300)
        e.upgrade = "1.5"
        e.shadowed = ShadowedName("internal", [ShadowingIndex("pypi", ["9"] * 40)], "warning")
        entries.append(e)
    released = [{"name": f"package-{i:05d}", "version": "3.0"} for i in range(n)]
    return drift_report(*entries, changes={"newly_blocked": [], "released": released})


def test_a_huge_drift_summary_stays_under_1_mib_counts_first_tables_folded() -> None:
    report = huge_report(12_000)

    text = render_markdown(report)

    assert len(text.encode()) < 1_000_000
    counts = text.index("12000 pins checked, 12000 blocked or missing pins")
    assert counts < text.index("#### Blocked or missing pins (12000)")
    sections = [
        "Blocked or missing pins",
        "Stuck in quarantine",
        "Upgrades available",
        "Shadowed names",
    ]
    positions = [text.index(f"#### {s}") for s in [*sections, "Changes since last run"]]
    assert positions == sorted(positions)
    assert "<details>" in text and "more not shown: see the JSON report" in text


def test_a_small_drift_summary_folds_long_tables_but_keeps_every_row() -> None:
    report = huge_report(30)
    text = render_markdown(report)
    assert "<summary>10 more</summary>" in text and "not shown" not in text
    assert text.count("| package-00029 |") == 5  # blocked, stuck, upgrade, shadowed, changes


def test_drift_text_lists_sections_after_the_counts() -> None:
    report = huge_report(2)
    text = render_text(report)
    assert text.index("Drift: 2 pins checked") < text.index("  Blocked or missing pins:")
    assert "released from quarantine  package-00001  3.0" in text


def test_a_typed_entry_writes_the_json_keys_in_their_order() -> None:
    """Every key, always, in the order the JSON has had them; ``changes`` only after a
    comparison (null when nothing changed); ``fatal``/``fail_on`` only when fatal."""
    e = entry("a", "1.0", {"1.0": "allowed"}, "1.0")
    keys = ["name", "pinned", "requirement", "source", "index", "pin", "latest"]
    keys += ["newest_allowed", "upgrade", "stuck", "shadowed", "hidden", "probed", "probe_cap"]
    assert list(e.to_dict()) == keys
    e.changes = {}
    assert list(e.to_dict()) == [*keys, "changes"] and e.to_dict()["changes"] is None
    e.changes, e.fail_on = {"released": ["1.2"]}, ["stuck"]
    data = e.to_dict()
    assert list(data) == [*keys, "changes", "fatal", "fail_on"]
    assert (data["changes"], data["fatal"], data["fail_on"]) == (
        {"released": ["1.2"]},
        True,
        ["stuck"],
    )
    # A copy: editing the dict leaves the entry as it was.
    data["probed"][0]["status"] = "edited"
    assert e.probed[0].status == "allowed"


def test_typed_facts_write_their_optional_keys_only_when_set() -> None:
    """The facts' JSON is the contract's: ``hash``, ``yanked``/``yanked_reason`` and
    ``upload_time`` on a pin, a probe's firewall verdict, only when there is one."""
    pin = PinnedFile("1.0")
    assert pin.to_dict() == {"version": "1.0", "file": None, "status": "missing"}
    pin.file, pin.status, pin.hash, pin.yanked = "a-1.0.whl", "allowed", "match", True
    pin.upload_time = "2025-01-01T00:00:00Z"
    assert list(pin.to_dict()) == [
        *("version", "file", "status", "hash", "yanked", "yanked_reason", "upload_time")
    ]
    assert pin.to_dict()["yanked_reason"] is None  # the key is there for a yanked file
    probe = ProbedFile("2.0", "a-2.0.whl", "internal", "allowed")
    assert list(probe.to_dict()) == ["version", "file", "index", "status"]
    probe.status, probe.vendor, probe.reason, probe.state = (
        "blocked",
        "jfrog-xray",
        "CVE",
        "blocked",
    )
    assert list(probe.to_dict()) == [
        "version",
        "file",
        "index",
        "status",
        "vendor",
        "reason",
        "state",
    ]


def test_a_previous_entry_reads_back_as_it_was_written() -> None:
    """``from_dict`` is ``to_dict``'s inverse for every fact, so the next run compares with
    what this run found; facts of the wrong shape are left out, not a crash."""
    e = entry("a", "1.0", {"2.0": "blocked", "1.0": "allowed"}, "2.0", upgrade="1.5")
    assert e.pin is not None and e.latest is not None
    e.pin.hash, e.pin.yanked, e.pin.yanked_reason = "mismatch", True, "broken"
    e.latest.upload_time, e.latest.age_days = "2025-01-01T00:00:00Z", 3
    e.probed[0].vendor, e.probed[0].reason, e.probed[0].state = "nexus-firewall", "Q", "pending"
    e.probed[0].details_url = "https://iq.example.com/x"
    e.stuck = StuckVersions(["2.0"], "2025-01-01T00:00:00Z", 300)
    e.shadowed = ShadowedName("internal", [ShadowingIndex("public", ["9", "8"])], "error")
    e.hidden = HiddenVersions("internal", "public", [HiddenVersion("3.0", None, None)], None, None)
    e.changes, e.fail_on = {}, ["stuck", "shadowed"]
    data = json.loads(json.dumps(e.to_dict()))

    again = DriftEntry.from_dict(data)

    assert again == e and again.to_dict() == e.to_dict()
    assert DriftEntry.from_dict({**data, "changes": {"released": ["1.2"]}}).changes == {
        "released": ["1.2"]
    }
    assert DriftEntry.from_dict({k: v for k, v in data.items() if k != "changes"}).changes is None
    odd = DriftEntry.from_dict(
        {"name": "b", "latest": "3.0", "probed": [1, {"status": "blocked"}, {"version": "1"}]}
    )
    assert (odd.latest, odd.pin, [p.version for p in odd.probed]) == (None, None, ["1"])
