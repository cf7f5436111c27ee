"""The three renderings of a report: contract JSON, terminal text, GitHub job summary."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest

from indexgate.model import Blocked, Problem, Report, Resolved, TargetReport
from indexgate.report.drift import drift_markdown, drift_text
from indexgate.report.json_report import to_json, write_json
from indexgate.report.render import render_markdown, render_text

NEXUS_URL = "https://iq.example.com/ui/links/repositories/quarantinedComponent/abc"
CONTRACT_BLOCKED_KEYS = {
    "name",
    "version",
    "file",
    "index",
    "stage",
    "status_code",
    "vendor",
    "reason",
    "state",  # issue 16: blocked | pending | waivable
    "details_url",
    "fallback",
}


def _resolution() -> list[Resolved]:
    return [
        Resolved("requests", "2.32.3", "pypi", "requests-2.32.3-py3-none-any.whl", ["r.txt:3"]),
        Resolved("urllib3", "2.5.0", "internal", "urllib3-2.5.0-py3-none-any.whl", ["requests"]),
        Resolved("flask", "3.0.3", "internal", "flask-3.0.3-py3-none-any.whl", ["r.txt:1"]),
    ]


def _blocked() -> list[Blocked]:
    return [
        Blocked(
            "urllib3",
            "2.6.0",
            "urllib3-2.6.0-py3-none-any.whl",
            "internal",
            "metadata",
            403,
            "nexus-firewall",
            "REQUESTED ITEM IS QUARANTINED",
            details_url=NEXUS_URL,
            fallback="2.5.0",
        ),
        Blocked(
            "flask",
            "3.1.0",
            "flask-3.1.0-py3-none-any.whl",
            "internal",
            "download",
            403,
            "jfrog-curation",
            "download was blocked by JFrog Packages Curation service",
            details_url="https://jfrog.example.com/ui/catalog/flask",
            fallback="3.0.3",
            policies=[
                {
                    "policy": "no-critical-cves",
                    "condition": "CVE with CVSS >= 9",
                    "explanation": "Package has critical CVEs",
                    "remediation": "Upgrade to 3.1.1",
                }
            ],
        ),
    ]


def _report() -> Report:
    """Two targets: one passes around Nexus/Curation blocks, one fails on Xray/unknown."""
    ok = TargetReport("3.12", "linux_x86_64", "pass", resolution=_resolution(), blocked=_blocked())
    failing = TargetReport(
        "3.11",
        "win_amd64",
        "fail",
        blocked=[
            Blocked(
                "acme-core",
                "1.4.0",
                "acme_core-1.4.0-py3-none-any.whl",
                "internal",
                "download",
                403,
                "jfrog-xray",
                "Artifact download request rejected: acme-core was not downloaded",
                details_url="https://xray.example.com/policy/1",
            ),
            Blocked(
                "lxml",
                "5.3.0",
                "lxml-5.3.0-cp311-cp311-win_amd64.whl",
                "internal",
                "download",
                451,
                "unknown",
                "Blocked by policy",
            ),
        ],
        errors=[
            Problem(
                "blocked-pin",
                "acme-core==1.4.0 is blocked by JFrog Xray",
                package="acme-core",
                index="internal",
                status_code=403,
                file="requirements.txt",
                line=7,
            ),
            Problem(
                "auth-failure",
                "internal answered 401 for lxml",
                package="lxml",
                index="internal",
                status_code=401,
                file="requirements.txt",
                line=9,
            ),
        ],
        warnings=[Problem("yanked-pin", "six 1.16.0 is yanked", package="six", index="pypi")],
    )
    return Report(
        "check",
        [ok, failing],
        warnings=[Problem("skipped-index", "default index PyPI was not checked")],
    )


def _all_blocked(report: Report) -> list[Blocked]:
    return [b for t in report.targets for b in t.blocked]


def _table_row(markdown: str, cells_prefix: str) -> str:
    rows = [line for line in markdown.splitlines() if line.startswith(cells_prefix)]
    assert len(rows) == 1, f"expected one row starting {cells_prefix!r}, got {rows}"
    return rows[0]


# --- JSON -------------------------------------------------------------------------------


def test_json_has_exactly_the_contract_keys() -> None:
    text = to_json(_report())
    data = json.loads(text)

    assert text.endswith("}\n") and text.startswith('{\n  "schema"')
    assert list(data) == ["schema", "command", "status", "targets", "warnings"]
    assert (data["schema"], data["command"], data["status"]) == (
        "indexgate-report/1",
        "check",
        "fail",
    )
    for target in data["targets"]:
        assert list(target) == [
            "python",
            "platform",
            "status",
            "resolution",
            "blocked",
            "errors",
            "warnings",
        ]
        for blocked in target["blocked"]:
            # ``policies`` is the model's one addition (issue 3: keep Curation's policy groups).
            assert set(blocked) == CONTRACT_BLOCKED_KEYS | {"policies"}
    first = data["targets"][0]["blocked"][0]
    assert first["vendor"] == "nexus-firewall"
    assert first["details_url"] == NEXUS_URL
    assert first["fallback"] == "2.5.0"
    assert data["targets"][1]["errors"][0]["kind"] == "blocked-pin"


def test_to_dict_converts_like_asdict_and_copies_what_it_returns() -> None:
    report = _report()
    data = report.to_dict()

    ok, failing = report.targets
    assert data["targets"][0]["resolution"] == [asdict(r) for r in ok.resolution]
    assert data["targets"][1]["errors"][0] == {
        k: v for k, v in asdict(failing.errors[0]).items() if v is not None
    }
    # The lists and dicts are copies: a caller editing the dict leaves the report as it was.
    data["targets"][0]["resolution"][0]["requested_by"].append("edited")
    data["targets"][0]["blocked"][1]["policies"][0]["policy"] = "edited"
    assert report.to_dict() == _report().to_dict()


def test_write_json_creates_parents_atomically(tmp_path: Path) -> None:
    path = tmp_path / "out" / "deep" / "report.json"
    write_json(_report(), path)

    assert json.loads(path.read_text(encoding="utf-8")) == _report().to_dict()
    assert [p.name for p in path.parent.iterdir()] == ["report.json"]  # no temp file left


# --- Markdown ---------------------------------------------------------------------------


def test_markdown_status_line_comes_first_with_counts() -> None:
    first = render_markdown(_report()).splitlines()[0]

    assert first.startswith("## ❌ indexgate check: FAIL")
    assert "2 targets" in first and "3 packages" in first and "4 blocked" in first


def test_markdown_has_a_blocked_row_per_artifact_with_reason_and_link() -> None:
    report = _report()
    md = render_markdown(report)

    for b in _all_blocked(report):
        row = _table_row(md, f"| {b.name} | {b.version} | {b.file} | {b.index} |")
        assert b.reason.split(":")[0] in row
        if b.details_url:
            assert f"[details]({b.details_url})" in row
        assert row.count("|") == 9  # 8 columns: the 7 of the issue plus Targets
    assert "| Nexus Firewall |" in _table_row(md, "| urllib3 | 2.6.0 |")
    assert "| 2.5.0 |" in _table_row(md, "| urllib3 | 2.6.0 |")
    assert "| JFrog Xray |" in _table_row(md, "| acme-core | 1.4.0 |")
    assert "| none |" in _table_row(md, "| acme-core | 1.4.0 |")  # nothing chosen instead
    assert "| unknown firewall |" in _table_row(md, "| lxml | 5.3.0 |")
    curation = _table_row(md, "| flask | 3.1.0 |")
    assert "| JFrog Curation |" in curation
    assert "no-critical-cves: CVE with CVSS &gt;= 9" in curation
    assert "Upgrade to 3.1.1" in curation


def test_markdown_orders_errors_blocked_warnings_then_resolution() -> None:
    md = render_markdown(_report())
    positions = [
        md.index("### Errors"),
        md.index("### Blocked artifacts"),
        md.index("### Warnings"),
        md.index("<details>"),
    ]

    assert positions == sorted(positions)
    assert "| blocked-pin | acme-core | internal | 403 | requirements.txt:7 |" in md
    assert "| skipped-index |" in md and "| yanked-pin | six |" in md
    assert md.count("<details>") == 2 and md.count("</details>") == 2
    assert "| requests | 2.32.3 | pypi | requests-2.32.3-py3-none-any.whl | r.txt:3 |" in md


def test_markdown_merges_an_artifact_blocked_on_every_target() -> None:
    same = [
        TargetReport("3.12", "linux_x86_64", resolution=_resolution(), blocked=_blocked()),
        TargetReport("3.13", "linux_x86_64", resolution=_resolution(), blocked=_blocked()),
    ]
    md = render_markdown(Report("check", same))

    assert _table_row(md, "| urllib3 | 2.6.0 |").endswith("| all |")


@pytest.mark.parametrize(
    "hostile",
    [
        "a | b || c",
        "line one\nline two\r\n| x | y |",
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
        "`code` ``` [click](https://evil.example) \\| *bold*",
    ],
)
def test_markdown_user_text_cannot_break_the_table_or_inject_html(hostile: str) -> None:
    report = _report()
    report.targets[0].blocked[0].reason = hostile
    report.targets[0].blocked[0].details_url = "https://iq.example.com/a b|c)<d>`e"
    report.targets[1].errors[0].message = hostile
    md = render_markdown(report)

    rows = {"| urllib3 | 2.6.0 |": 9, "| blocked-pin |": 8}  # blocked: 8 columns, errors: 7
    for prefix, pipes in rows.items():
        row = _table_row(md, prefix)
        assert row.count("|") == pipes  # whatever the text held
        assert "<script" not in row and "<img" not in row and "`" not in row
        assert "](https://evil" not in row
    assert "<script" not in md and "<img" not in md
    assert "[details](https://iq.example.com/a%20b%7Cc%29%3Cd%3E%60e)" in md


def test_markdown_under_the_limit_is_not_truncated() -> None:
    md = render_markdown(_report(), report_path="out/report.json")

    assert "Summary truncated" not in md


def test_markdown_drops_resolution_details_before_blocked_rows() -> None:
    report = _report()
    big = [Resolved(f"pkg-{i}", "1.0", "pypi", f"pkg_{i}-1.0-py3-none-any.whl") for i in range(500)]
    report.targets[0].resolution = big
    full = render_markdown(report, max_bytes=10_000_000)
    limit = len(full.encode()) - 1000
    md = render_markdown(report, max_bytes=limit, report_path="out/report.json")

    assert len(md.encode("utf-8")) <= limit
    assert "Summary truncated to fit GitHub's 1 MiB limit" in md
    assert "`out/report.json`" in md
    assert "<details>" not in md and "not shown" in md
    for b in _all_blocked(report):  # every blocked artifact is still named
        _table_row(md, f"| {b.name} | {b.version} |")


@pytest.mark.parametrize("max_bytes", [4_000, 20_000, 200_000])
def test_markdown_truncation_fits_max_bytes_with_note_and_counts(max_bytes: int) -> None:
    report = _report()
    report.targets[0].resolution = [
        Resolved(f"pkg-{i}", "1.0", "pypi", f"pkg_{i}-1.0-py3-none-any.whl") for i in range(3000)
    ]
    report.targets[1].blocked = [
        Blocked(
            f"pkg-{i}", "2.0", f"pkg_{i}-2.0.whl", "internal", "download", 403, "unknown", "é" * 80
        )
        for i in range(3000)
    ]
    md = render_markdown(report, max_bytes=max_bytes)

    assert len(md.encode("utf-8")) <= max_bytes
    assert md.splitlines()[0].startswith("## ❌ indexgate check: FAIL (2 targets, 3000 packages")
    assert "3002 blocked" in md.splitlines()[0]
    assert md.rstrip().endswith(
        "Summary truncated to fit GitHub's 1 MiB limit; "
        "the full report is in the JSON report (`--report-json`)._"
    )
    assert "### Errors" in md and "| blocked-pin |" in md  # short tables keep their rows
    assert "rows not shown" in md


def test_markdown_cuts_a_runaway_cell_instead_of_dropping_other_rows() -> None:
    report = _report()
    report.targets[1].errors[0].message = "x" * 50_000
    md = render_markdown(report, max_bytes=8_000)

    assert len(md.encode("utf-8")) <= 8_000
    assert "x" * 1999 + "…" in _table_row(md, "| blocked-pin |")
    for b in _all_blocked(report):
        _table_row(md, f"| {b.name} | {b.version} |")


@pytest.mark.parametrize("max_bytes", [300, 1_000])
def test_markdown_tiny_limit_still_leads_with_counts_and_note(max_bytes: int) -> None:
    md = render_markdown(_report(), max_bytes=max_bytes, report_path="r.json")

    assert len(md.encode("utf-8")) <= max_bytes
    assert md.startswith("## ❌ indexgate check: FAIL (2 targets, 3 packages, 4 blocked")
    assert "Summary truncated to fit GitHub's 1 MiB limit; the full report is in `r.json`" in md


# --- text -------------------------------------------------------------------------------


def test_text_lists_errors_before_blocked_and_resolution() -> None:
    report = _report()
    report.targets[1].resolution = [Resolved("six", "1.16.0", "pypi", "six-1.16.0.whl")]
    text = render_text(report)
    section = text[text.index("Python 3.11 on win_amd64: FAIL") :]

    assert text.splitlines()[0] == (
        "indexgate check: FAIL (2 targets, 4 packages, 4 blocked, 2 errors)"
    )
    assert "Python 3.12 on linux_x86_64: PASS" in text
    positions = [
        section.index("Errors:"),
        section.index("Warnings:"),
        section.index("Blocked artifacts:"),
        section.index("Resolution:"),
    ]
    assert positions == sorted(positions)
    assert "requirements.txt:7" in section and "requirements.txt:9" in section
    assert "six==1.16.0" in section


def test_text_blocked_table_is_column_aligned_with_reason_and_link() -> None:
    text = render_text(_report())
    lines = text.splitlines()
    header = next(line for line in lines if "CHOSEN INSTEAD" in line)
    nexus = next(line for line in lines if line.lstrip().startswith("urllib3 "))
    curation = next(line for line in lines if line.lstrip().startswith("flask "))

    assert nexus[header.index("FIREWALL") :].startswith("Nexus Firewall")
    assert curation[header.index("FIREWALL") :].startswith("JFrog Curation")
    assert nexus[header.index("CHOSEN INSTEAD") :].startswith("2.5.0")
    assert "REQUESTED ITEM IS QUARANTINED" in nexus and f"details: {NEXUS_URL}" in nexus
    assert "no-critical-cves" in curation


def test_text_says_same_resolution_instead_of_repeating_it() -> None:
    targets = [
        TargetReport("3.12", "linux_x86_64", resolution=_resolution()),
        TargetReport("3.13", "linux_x86_64", resolution=_resolution()),
    ]
    text = render_text(Report("check", targets))

    assert text.count("requests==2.32.3") == 1
    assert "Resolution: same resolution as Python 3.12 on linux_x86_64" in text


def test_text_has_no_colour_or_control_characters() -> None:
    report = _report()
    report.targets[0].blocked[0].reason = "\x1b[31mred\x1b[0m\nsecond line\x07"
    text = render_text(report)

    assert "\x1b" not in text and "\x07" not in text
    assert all(line.isprintable() for line in text.splitlines())


def test_drift_hooks_are_empty_without_drift() -> None:
    report = _report()

    assert drift_markdown(report) == "" and drift_text(report) == ""


def test_the_drift_renderer_and_the_shared_helpers_do_not_import_render() -> None:
    """No import circle: render.py calls into report/drift.py, which imports only the model
    (model.py, and drift_model.py for a type) and the shared helpers (report/tables.py,
    which imports no indexgate module); the firewalls' vendor labels are the model's."""
    import ast
    import importlib

    def imported(module: str) -> set[str]:
        path = importlib.import_module(module).__file__
        assert path is not None
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        names |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        return {n for n in names if n.startswith("indexgate")}

    assert imported("indexgate.report.drift") == {
        "indexgate.model",
        "indexgate.drift_model",
        "indexgate.report.tables",
    }
    assert imported("indexgate.report.tables") == set()
    assert "indexgate.report.render" not in imported("indexgate.report.outcome")
