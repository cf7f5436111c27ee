"""The Action's pieces in-process: argv, masking, annotations, summary budget, outputs."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from indexgate import action, workflow
from indexgate.errors import InputError
from indexgate.model import Blocked, Problem, Report, Resolved, TargetReport
from indexgate.report.json_report import write_json
from indexgate.report.outcome import decide_target
from indexgate.report.summary import SUMMARY_LIMIT, summary_budget, write_summary


def _inputs(**values: str) -> dict[str, str]:
    base = {name: action.DEFAULTS.get(name, "") for name in action.INPUTS}
    return {**base, **{k.replace("_", "-"): v for k, v in values.items()}}


def _blocked(name: str, version: str, line: int, fallback: str | None = "1.0") -> Blocked:
    return Blocked(
        name,
        version,
        f"{name}-{version}-py3-none-any.whl",
        "private",
        "download",
        403,
        "nexus-firewall",
        "REQUESTED ITEM IS QUARANTINED",
        details_url="https://iq.example/x",
        fallback=fallback,
        file_path="requirements.txt",
        line=line,
    )


def test_previous_report_is_passed_to_drift_when_it_exists(tmp_path: Path) -> None:
    (tmp_path / "previous").mkdir()
    (tmp_path / "previous" / "r.json").write_text("{}")
    inputs = _inputs(command="drift", previous_report="previous/r.json")
    argv = action.build_argv(inputs, tmp_path / "r.json", None, tmp_path)
    assert argv[argv.index("--previous-report") + 1] == "previous/r.json"


def test_missing_previous_report_is_a_first_run_not_an_error(tmp_path: Path) -> None:
    inputs = _inputs(command="drift", previous_report="previous/r.json")
    argv = action.build_argv(inputs, tmp_path / "r.json", None, tmp_path)
    assert "--previous-report" not in argv


def test_previous_report_with_check_is_bad_input(tmp_path: Path) -> None:
    inputs = _inputs(command="check", previous_report="previous/r.json")
    with pytest.raises(InputError, match="previous-report"):
        action.build_argv(inputs, tmp_path / "r.json", None, tmp_path)


def test_argv_splits_lists_and_keeps_sources_positional(tmp_path: Path) -> None:
    inputs = _inputs(
        command="drift",
        sources="requirements.txt\n-odd-name.txt\n\n",
        index_strategy="unsafe-best-match",
        python_versions="3.11, 3.12\n3.13",
        platforms="linux_x86_64,win_amd64",
        fail_on="blocked\nyanked",
    )
    argv = action.build_argv(inputs, tmp_path / "r.json", "cfg.yml", tmp_path)
    assert argv == [
        "drift",
        "--format",
        "text",
        "--report-json",
        str(tmp_path / "r.json"),
        "--config",
        "cfg.yml",
        "--index-strategy",
        "unsafe-best-match",
        "--python-version",
        "3.11",
        "--python-version",
        "3.12",
        "--python-version",
        "3.13",
        "--platform",
        "linux_x86_64",
        "--platform",
        "win_amd64",
        "--fail-on",
        "blocked",
        "--fail-on",
        "yanked",
        "--",
        "requirements.txt",
        "-odd-name.txt",
    ]
    from indexgate.gate import build_parser

    args = build_parser().parse_args(argv)
    assert args.sources == ["requirements.txt", "-odd-name.txt"]


def test_merged_config_puts_input_indexes_first_and_keeps_other_keys(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "indexgate.yml").write_text(
        "index-strategy: unsafe-best-match\nsources: {acme: a}\nindexes:\n"
        "  - {name: a, url: 'http://old/'}\n  - {name: b, url: 'http://b/'}\n"
    )
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    path = action.merged_config(_inputs(indexes="- {name: a, url: 'http://new/'}"), tmp_path, tmp)
    import yaml

    assert path is not None
    data = yaml.safe_load(Path(path).read_text())
    assert data["index-strategy"] == "unsafe-best-match" and data["sources"] == {"acme": "a"}
    assert data["indexes"] == [
        {"name": "a", "url": "http://new/"},
        {"name": "b", "url": "http://b/"},
    ]
    assert action.merged_config(_inputs(config="x.yml"), tmp_path, tmp) == "x.yml"


def test_collect_secrets_reads_env_urls_inputs_and_config(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "indexgate.yml").write_text(
        "indexes:\n  - name: a\n    url: https://u:from-config-url@h/simple/\n"
        "    password: ${CFG_TOKEN}   # from the environment\n"
    )
    env = {
        "INDEXGATE_INDEX_A_PASSWORD": "p-indexgate",
        "UV_INDEX_B_PASSWORD": "p-uv",
        "INDEXGATE_INDEX_A_USERNAME": "not-a-secret",
        "PIP_INDEX_URL": "https://user:p%40pip@h/simple/",
        "UV_INDEX": "name=https://tokenonly@h2/simple/",
        "CFG_TOKEN": "p-config-var",
    }
    broken = "- name: x\n  password: 'p-inline'\n url: [\n"
    found = workflow.collect_secrets(_inputs(indexes=broken), env, tmp_path)
    assert {
        "p-indexgate",
        "p-uv",
        "p@pip",
        "tokenonly",
        "from-config-url",
        "p-config-var",
        "p-inline",
    } <= found
    assert "not-a-secret" not in found
    assert not [s for s in found if "#" in s]  # YAML comments are not part of a password


def test_masker_masks_each_form_once(capsys: pytest.CaptureFixture[str]) -> None:
    masker = workflow.Masker()
    masker.mask(["a b/c", "line1\nline2"])
    masker.mask(["a b/c"])
    lines = capsys.readouterr().out.splitlines()
    # The runner unescapes %25, %0A: each value, its URL-quoted form, and each of its lines.
    assert sorted(lines) == sorted(
        [
            "::add-mask::a b/c",
            "::add-mask::a%2520b%252Fc",  # a%20b%2Fc
            "::add-mask::line1%0Aline2",  # line1\nline2
            "::add-mask::line1%250Aline2",  # line1%0Aline2
            "::add-mask::line1",
            "::add-mask::line2",
        ]
    )


def test_annotation_escapes_message_and_properties(capsys: pytest.CaptureFixture[str]) -> None:
    workflow.annotate(
        "error", "100% sure\r\nnext: a,b", file="dir,x/a:b.txt", line=7, title="t: x,y"
    )
    assert capsys.readouterr().out == (
        "::error file=dir%2Cx/a%3Ab.txt,line=7,title=t%3A x%2Cy::100%25 sure%0D%0Anext: a,b\n"
    )


def test_annotation_without_file_has_no_empty_properties(
    capsys: pytest.CaptureFixture[str],
) -> None:
    workflow.annotate("warning", "m", file=None, line=3, title="indexgate")
    assert capsys.readouterr().out == "::warning title=indexgate::m\n"


def test_at_most_ten_annotations_of_each_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "requirements.txt").write_text("x\n" * 20)
    blocked = [_blocked(f"pkg{i}", "2.0", i + 1) for i in range(15)]
    errors = [Problem("no-solution", f"e{i}", package=f"q{i}") for i in range(12)]
    target = TargetReport("3.12", "linux_x86_64", "fail", blocked=blocked, errors=errors)
    errs, warns = workflow.collect_notes(Report("check", [target]), tmp_path)
    workflow.emit_annotations("error", errs, "r.json")
    workflow.emit_annotations("warning", warns, "r.json")
    lines = capsys.readouterr().out.splitlines()
    error_lines = [line for line in lines if line.startswith("::error")]
    warning_lines = [line for line in lines if line.startswith("::warning")]
    assert len(error_lines) == len(warning_lines) == 10
    assert "3 more errors not annotated" in error_lines[-1]
    assert "6 more warnings not annotated" in warning_lines[-1]
    assert warning_lines[0].startswith("::warning file=requirements.txt,line=1,")


def test_fail_on_blocked_turns_blocked_artifacts_into_errors(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("a\n")
    target = TargetReport("3.12", "linux_x86_64", blocked=[_blocked("a", "2", 1)])
    assert decide_target(target, frozenset({"blocked"})) == "fail"  # records the rule
    errs, warns = workflow.collect_notes(Report("check", [target]), tmp_path)
    assert [n.title for n in errs] == ["indexgate: a 2 blocked (fail-on: blocked)"] and not warns
    # The rule is named, and what the resolution did is not worded like a success.
    assert "This fails the gate: `fail-on: blocked`" in errs[0].message
    assert "chose" not in errs[0].message


def test_blocked_without_fallback_of_a_failed_package_is_left_to_the_error(
    tmp_path: Path,
) -> None:
    target = TargetReport(
        "3.12",
        "linux_x86_64",
        "fail",
        blocked=[_blocked("a", "2", 1, fallback=None)],
        errors=[Problem("no-solution", "a: every version is blocked", package="a")],
    )
    errs, warns = workflow.collect_notes(Report("check", [target]), tmp_path)
    assert len(errs) == 1 and not warns


def test_paths_outside_the_workspace_are_not_annotated(tmp_path: Path) -> None:
    (tmp_path / "ws").mkdir()
    (tmp_path / "outside.txt").write_text("x")
    (tmp_path / "ws" / "r.txt").write_text("x")
    ws = tmp_path / "ws"
    assert workflow.workspace_relative(str(tmp_path / "outside.txt"), ws) is None
    assert workflow.workspace_relative(str(ws / "r.txt"), ws) == "r.txt"
    assert workflow.workspace_relative("r.txt", ws) == "r.txt"
    assert workflow.workspace_relative("missing.txt", ws) is None


def test_summary_stays_under_one_mebibyte(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step output\n" * 20_000)  # ~400 kB already there
    resolution = [
        Resolved(f"pkg-{i}", "1.0", "private", f"pkg_{i}-1.0-py3-none-any.whl", ["r.txt:1"])
        for i in range(4000)
    ]
    blocked = [_blocked(f"pkg-{i}", "2.0", 1) for i in range(3000)]
    targets = [
        TargetReport(py, "linux_x86_64", "pass", resolution=resolution, blocked=blocked)
        for py in ("3.11", "3.12", "3.13")
    ]
    report = Report("check", targets)
    text = action.render_markdown(report, max_bytes=summary_budget(summary), report_path="r.json")
    write_summary(summary, text)
    assert summary.stat().st_size <= SUMMARY_LIMIT
    written = summary.read_text(encoding="utf-8")
    assert written.startswith("earlier step output")
    assert "truncated" in written and "`r.json`" in written


def test_outputs_use_the_delimiter_syntax(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "output"
    out.write_text("")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    workflow.set_outputs({"status": "pass", "report": "a\nb"}, {"GITHUB_OUTPUT": str(out)})
    lines = out.read_text().split("\n")
    assert lines[0].startswith("status<<ghadelimiter_") and lines[1] == "pass"
    assert lines[2] == lines[0].split("<<", 1)[1]
    assert lines[3].startswith("report<<") and lines[4:6] == ["a", "b"]
    assert lines[6] == lines[3].split("<<", 1)[1]


def test_print_log_switches_workflow_commands_off(capsys: pytest.CaptureFixture[str]) -> None:
    workflow.print_log("title", "::add-path::/evil\n")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "::group::title"
    assert lines[1].startswith("::stop-commands::")
    token = lines[1].split("::")[2]
    assert lines[2] == "::add-path::/evil"
    assert lines[3] == f"::{token}::" and lines[4] == "::endgroup::"


# --- files the runner's other steps read ---------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_report_summary_and_outputs_are_readable_by_the_runner_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strict_umask: None
) -> None:
    """The steps after a Docker action run as another user than the container's root: the
    report (upload-artifact, the drift workflow's cp), the summary and the outputs it
    created must be 0644, and a folder made for the report 0755."""
    report = tmp_path / "workspace" / "reports" / "nested" / "gate.json"
    write_json(Report("check", [TargetReport("3.12", "linux_x86_64")]), report)
    assert _mode(report) == 0o644
    assert _mode(report.parent) == _mode(report.parent.parent) == 0o755
    assert json.loads(report.read_text())["status"] == "pass"
    write_json(Report("check", []), report)  # replaced atomically, still readable
    assert _mode(report) == 0o644

    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output)}
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    write_summary(summary, "## indexgate")
    workflow.set_outputs({"status": "pass"}, env)
    assert _mode(summary) == _mode(output) == 0o644
    assert "status<<" in output.read_text() and summary.read_text() == "## indexgate\n"


def test_a_failed_report_write_leaves_no_temporary_file_and_keeps_the_old_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report goes through a private temporary file beside it: a failed write removes
    that file and keeps the old report whole."""
    report = tmp_path / "gate.json"
    write_json(Report("check", []), report)
    assert json.loads(report.read_text())["status"] == "fail"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.json"]

    def refuse(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("os.replace", refuse)
    with pytest.raises(OSError, match="disk full"):
        write_json(Report("check", [TargetReport("3.12", "linux_x86_64")]), report)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate.json"]
    assert json.loads(report.read_text())["status"] == "fail"


def test_the_runners_own_files_keep_their_mode(tmp_path: Path, strict_umask: None) -> None:
    """The runner creates GITHUB_STEP_SUMMARY for the step; appending does not chmod it."""
    summary = tmp_path / "summary.md"
    summary.write_text("before\n")
    summary.chmod(0o600)
    write_summary(summary, "after")
    assert _mode(summary) == 0o600 and summary.read_text() == "before\nafter\n"


def test_a_pending_scan_is_not_annotated_as_a_policy_block(tmp_path: Path) -> None:
    """A scan in progress (Curation on-demand, Xray unavailable, Nexus unknown component)
    is held back, not blocked by policy: the annotation says so and what to do."""
    (tmp_path / "requirements.txt").write_text("a\n")
    pending = _blocked("a", "2", 1)
    pending.state = "pending"
    target = TargetReport("3.12", "linux_x86_64", blocked=[pending, _blocked("b", "3", 1)])
    decide_target(target, frozenset())
    _, warns = workflow.collect_notes(Report("check", [target]), tmp_path)
    titles = {n.title: n.message for n in warns}
    assert "indexgate: a 2 pending a scan" in titles
    assert "is held back (a scan in progress)" in titles["indexgate: a 2 pending a scan"]
    assert "scan in progress, try again later" in titles["indexgate: a 2 pending a scan"]
    assert "ask your security team" in titles["indexgate: b 3 blocked"]
