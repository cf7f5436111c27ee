"""The Action's entrypoint, run exactly as the runner runs it.

A subprocess running the Dockerfile's ENTRYPOINT (``python -I -u -m indexgate.action``,
with this interpreter) and ``INPUT_*`` variables (hyphens kept, the
defaults of action.yml filled in as the runner does), temporary ``GITHUB_STEP_SUMMARY`` and
``GITHUB_OUTPUT`` files, the workspace as working directory, and the demo's two real local
indexes (a private one with basic auth and a firewall, a public one with a look-alike).
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.dockerfile import entrypoint_here

from indexgate.demo.run import USER, DemoIndexes, demo_indexes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = "acme-web>=2.0\nacme-core>=1.0\nsix>=1.16\n"
LINES = {"acme-web": 1, "acme-core": 2, "six": 3}
BLOCKED = {
    ("acme-web", "2.1.0", "acme_web-2.1.0-py3-none-any.whl", "JFrog Curation"),
    ("acme-core", "1.2.0", "acme_core-1.2.0-py3-none-any.whl", "Nexus Firewall"),
    ("urllib3", "2.6.0", "urllib3-2.6.0-py3-none-any.whl", "JFrog Xray"),
}
_COMMAND = re.compile(r"^::(?P<cmd>[a-z-]+)(?: (?P<props>[^:]*))?::(?P<msg>.*)$")


@pytest.fixture(scope="module")
def indexes() -> Iterator[DemoIndexes]:
    with (
        tempfile.TemporaryDirectory(prefix="indexgate-action-test-") as tmp,
        demo_indexes(Path(tmp)) as servers,
    ):
        yield servers


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    (ws / "requirements.txt").write_text(REQUIREMENTS)
    return ws


def config_yaml(indexes: DemoIndexes, password: str = "${ACME_INDEX_TOKEN}") -> str:
    return (
        "index-strategy: first-index\n"
        "indexes:\n"
        f"  - name: private\n    url: {indexes.private.url}\n"
        f"    username: {USER}\n    password: {password}\n"
        f"  - name: public\n    url: {indexes.public.url}\n    default: true\n"
    )


def _unescape(value: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(code, char)
    return value


@dataclass
class Annotation:
    level: str
    props: dict[str, str]
    message: str


@dataclass
class ActionRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    output_text: str
    summary: str
    workspace: Path

    def commands(self, name: str) -> list[Annotation]:
        found = []
        for line in self.stdout.splitlines():
            m = _COMMAND.match(line)
            if m and m["cmd"] == name:
                props = dict(p.split("=", 1) for p in (m["props"] or "").split(",") if p)
                props = {k: _unescape(v) for k, v in props.items()}
                found.append(Annotation(name, props, _unescape(m["msg"])))
        return found

    def report(self) -> dict[str, Any]:
        return json.loads((self.workspace / self.outputs["report"]).read_text())

    def everything_written(self) -> str:
        """Every byte the step produced, except the add-mask commands themselves."""
        lines = self.stdout.splitlines()
        log = "\n".join(x for x in lines if not x.startswith("::add-mask::"))
        report = self.workspace / self.outputs.get("report", "indexgate-report.json")
        parts = [log, self.stderr, self.summary, self.output_text]
        return "\n".join([*parts, report.read_text() if report.is_file() else ""])


def parse_github_output(text: str) -> dict[str, str]:
    """Strict ``name<<DELIMITER`` / value / ``DELIMITER`` blocks, nothing else."""
    lines, out, i = text.split("\n"), {}, 0
    while i < len(lines):
        if not lines[i]:
            i += 1
            continue
        name, sep, delimiter = lines[i].partition("<<")
        assert sep and delimiter, f"not the delimiter syntax: {lines[i]!r}"
        end = lines.index(delimiter, i + 1)
        out[name] = "\n".join(lines[i + 1 : end])
        i = end + 1
    return out


def action_defaults() -> dict[str, str]:
    spec = yaml.safe_load((ROOT / "action.yml").read_text())
    return {name: str(i.get("default", "")) for name, i in spec["inputs"].items()}


def run_action(
    workspace: Path,
    inputs: Mapping[str, str],
    env: Mapping[str, str] | None = None,
    *,
    umask: int = -1,
) -> ActionRun:
    """As the runner does: every declared input set (defaults filled in), hyphens kept."""
    summary = workspace.parent / "step_summary.md"
    output = workspace.parent / "github_output.txt"
    summary.write_text("")
    output.write_text("")
    environ = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workspace.parent),
        "NETRC": str(workspace.parent / "no-netrc"),
        "LANG": "C.UTF-8",
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
    }
    for name, value in {**action_defaults(), **inputs}.items():
        environ[f"INPUT_{name.upper()}"] = value
    environ.update(env or {})
    proc = subprocess.run(
        entrypoint_here(),
        cwd=workspace,
        umask=umask,
        env=environ,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=120,
    )
    output_text = output.read_text()
    return ActionRun(
        proc.returncode,
        proc.stdout,
        proc.stderr,
        parse_github_output(output_text),
        output_text,
        summary.read_text(encoding="utf-8"),
        workspace,
    )


def assert_no_secret(run: ActionRun, *secrets: str) -> None:
    masked = {a.message for a in run.commands("add-mask")}
    text = run.everything_written()
    for secret in secrets:
        assert secret in masked, f"{secret!r} was not masked"
        assert secret not in text


def blocked_rows(summary: str) -> list[str]:
    table = summary.split("### Blocked artifacts", 1)[1].split("###", 1)[0]
    return [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]


def test_pass_names_every_blocked_artifact(indexes: DemoIndexes, workspace: Path) -> None:
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))

    run = run_action(workspace, {}, {"ACME_INDEX_TOKEN": indexes.token})

    assert run.code == 0, run.stdout + run.stderr
    assert run.stdout.splitlines()[0].startswith("::add-mask::")  # before anything else
    assert run.outputs == {
        "status": "pass",
        "blocked-count": "3",
        "report": "indexgate-report.json",
    }
    report = run.report()
    assert report["status"] == "pass"
    (target,) = report["targets"]
    assert {(r["name"], r["version"], r["index"]) for r in target["resolution"]} >= {
        ("acme-core", "1.1.0", "private"),
        ("acme-web", "2.0.0", "private"),
    }
    # The job summary: a status line, then one row per blocked artifact.
    assert run.summary.startswith("## ✅ indexgate check: PASS")
    rows = blocked_rows(run.summary)
    for name, version, file, firewall in BLOCKED:
        label = "urllib3 via acme-web" if name == "urllib3" else name  # the transitive path
        (row,) = [r for r in rows if f"| {label} | {version} |" in r]
        assert file in row and firewall in row and "| private |" in row
    # The Curation policy is named once: by its reason, not again by the policy line.
    (curation,) = [r for r in rows if "JFrog Curation" in r]
    assert curation.count("block-new-releases") == 1
    assert "[details](https://iq.example.com/" in run.summary
    assert "<details>" in run.summary
    # A warning on the requirement line that brought in each blocked package.
    warnings = {a.props["title"]: a for a in run.commands("warning")}
    for name, version, _file, _firewall in BLOCKED:
        note = warnings[f"indexgate: {name} {version} blocked"]
        assert note.props["file"] == "requirements.txt"
        assert int(note.props["line"]) == LINES.get(name, LINES["acme-web"])  # urllib3 via web
    assert not run.commands("error")
    assert "::group::indexgate check: PASS" in run.stdout
    assert_no_secret(run, indexes.token)


def test_wrong_password_fails_closed(indexes: DemoIndexes, workspace: Path) -> None:
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))
    indexes.public.access_log.clear()
    wrong = "wrong-" + indexes.token

    run = run_action(workspace, {}, {"ACME_INDEX_TOKEN": wrong})

    assert run.code == 1, run.stdout + run.stderr
    assert run.outputs["status"] == "fail"
    assert run.report()["status"] == "fail"
    errors = run.commands("error")
    auth = [e for e in errors if e.props.get("title") == "indexgate: auth-failure"]
    assert auth, run.stdout
    # the auth check (issue 16) fails before any requirement is looked up: the annotation
    # points at the config that declares the index
    assert all(e.props["file"] == ".github/indexgate.yml" for e in auth)
    assert "private" in auth[0].message
    assert not [e.path for e in indexes.public.access_log.entries() if "/acme-" in e.path]
    assert "auth-failure" in run.summary
    assert_no_secret(run, wrong)


@pytest.mark.parametrize(
    ("requirements", "kind", "line"),
    [("six\nacme-core==1.2.0\n", "blocked-pin", 2), ("six\n\nacme-web>=9\n", "no-solution", 3)],
)
def test_gate_errors_are_annotated_on_the_requirement_line(
    indexes: DemoIndexes, workspace: Path, requirements: str, kind: str, line: int
) -> None:
    (workspace / "requirements.txt").write_text(requirements)
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))

    run = run_action(workspace, {}, {"ACME_INDEX_TOKEN": indexes.token})

    assert run.code == 1, run.stdout + run.stderr
    (error,) = run.commands("error")
    assert error.props == {
        "file": "requirements.txt",
        "line": str(line),
        "title": f"indexgate: {kind}",
    }
    assert not run.commands("warning")  # the blocked pin is told once, as the error
    assert run.outputs["status"] == "fail"
    assert kind in run.summary


def test_drift_command_reports_pins_blocked_since(indexes: DemoIndexes, workspace: Path) -> None:
    pins = "acme-web==2.1.0\nacme-core==1.1.0\nurllib3==2.5.0\nsix==1.17.0\n"
    (workspace / "requirements.txt").write_text(pins)
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))

    run = run_action(
        workspace,
        {"command": "drift", "report-path": "indexgate-drift.json"},
        {"ACME_INDEX_TOKEN": indexes.token},
    )

    assert run.code == 1, run.stdout + run.stderr  # a pinned artifact is blocked now
    assert run.outputs == {"status": "fail", "blocked-count": "3", "report": "indexgate-drift.json"}
    assert run.report()["command"] == "drift"
    (error,) = run.commands("error")
    assert (error.props["file"], error.props["line"]) == ("requirements.txt", "1")
    assert error.props["title"] == "indexgate: blocked-pin"
    warnings = {(w.props["title"], w.props["line"]) for w in run.commands("warning")}
    assert ("indexgate: acme-core 1.2.0 blocked", "2") in warnings
    assert ("indexgate: shadowed-name", "2") in warnings  # acme-core 99.0.0 on public
    assert run.summary.startswith("## ❌ indexgate drift: FAIL")
    assert_no_secret(run, indexes.token)


def test_runner_debug_logs_leak_nothing(indexes: DemoIndexes, workspace: Path) -> None:
    """With RUNNER_DEBUG=1 every log line is shown: still no credential in any of it."""
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))
    for token in (indexes.token, "wrong-" + indexes.token):
        env = {"ACME_INDEX_TOKEN": token, "RUNNER_DEBUG": "1"}
        run = run_action(workspace, {}, env)
        assert run.code == (0 if token == indexes.token else 1), run.stdout + run.stderr
        # one line per request (a wrong token ends at the auth check's HEAD, issue 16)
        assert re.search(r"indexgate\.http: DEBUG: (GET|HEAD) http://", run.stdout)
        assert_no_secret(run, token)


def test_indexes_input_targets_fail_on_and_report_path(
    indexes: DemoIndexes, workspace: Path
) -> None:
    """Indexes given inline (a literal password), two targets, fail-on, a nested source."""
    (workspace / "requirements").mkdir()
    (workspace / "requirements" / "prod.txt").write_text(REQUIREMENTS)
    inline = (
        f"- name: private\n  url: {indexes.private.url}\n"
        f"  username: {USER}\n  password: '{indexes.token}'\n"
        f"- name: public\n  url: {indexes.public.url}\n  default: true\n"
    )
    inputs = {
        "sources": "requirements/prod.txt\n",
        "indexes": inline,
        "python-versions": "3.11\n3.12",
        "platforms": "linux_x86_64",
        "fail-on": "blocked",
        "report-path": "reports/gate.json",
    }

    run = run_action(workspace, inputs)

    assert run.code == 1, run.stdout + run.stderr
    assert run.outputs == {"status": "fail", "blocked-count": "3", "report": "reports/gate.json"}
    report = run.report()
    assert [t["python"] for t in report["targets"]] == ["3.11", "3.12"]
    # fail-on: blocked makes each blocked artifact an error, on the nested file's lines.
    errors = {a.props["title"]: a for a in run.commands("error")}
    note = errors["indexgate: acme-core 1.2.0 blocked (fail-on: blocked)"]
    assert (note.props["file"], note.props["line"]) == ("requirements/prod.txt", "2")
    assert "This fails the gate: `fail-on: blocked`" in note.message
    urllib3 = errors["indexgate: urllib3 2.6.0 blocked (fail-on: blocked)"]
    assert "urllib3 2.6.0 (via acme-web)" in urllib3.message
    # The summary names the rule and the artifacts it failed on.
    failed_by = run.summary.split("### Failed by `fail-on`", 1)[1].split("###", 1)[0]
    assert "`fail-on: blocked` (3 findings)" in failed_by
    assert "urllib3 via acme-web 2.6.0" in failed_by and "acme-core 1.2.0" in failed_by
    assert not run.commands("warning")
    assert_no_secret(run, indexes.token)


def test_indexes_input_replaces_same_named_config_index(
    indexes: DemoIndexes, workspace: Path
) -> None:
    """The config file has a stale password; the input's `private` index wins."""
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes, "stale-password"))
    inline = (
        f"- name: private\n  url: {indexes.private.url}\n"
        f"  username: {USER}\n  password: ${{PRIVATE_TOKEN}}\n"
    )

    run = run_action(workspace, {"indexes": inline}, {"PRIVATE_TOKEN": indexes.token})

    assert run.code == 0, run.stdout + run.stderr
    assert run.outputs["status"] == "pass"
    versions = {r["name"]: r["version"] for r in run.report()["targets"][0]["resolution"]}
    assert versions["six"] == "1.17.0"  # the config file's public index is still there
    assert_no_secret(run, indexes.token, "stale-password")


@pytest.mark.parametrize(
    ("inputs", "files", "where", "text"),
    [
        ({"index-strategy": "fastest"}, {}, None, "input `index-strategy` must be one of"),
        ({"command": "deploy"}, {}, None, "input `command` must be one of"),
        ({"command": "demo"}, {}, None, "input `command` must be one of check, drift, not"),
        ({"indexes": "name: private"}, {}, None, "must be a YAML list of indexes"),
        (
            {},
            {".github/indexgate.yml": "indexes:\n  - name: a\n    url: [unclosed\n"},
            (".github/indexgate.yml", "4"),
            "invalid YAML",
        ),
        (
            {"config": "ci/gate.yml"},
            {"ci/gate.yml": "indexes: []\nstrategy: first-index\n"},
            ("ci/gate.yml", "2"),
            "unknown key 'strategy'",
        ),
        (
            {"index-strategy": "first-index"},
            {
                "requirements.txt": "six\nacme-web >= = 2\n",
                ".github/indexgate.yml": "indexes:\n  - url: http://127.0.0.1:9/simple/\n",
            },
            ("requirements.txt", "2"),
            "",
        ),
    ],
    ids=[
        "strategy",
        "command",
        "command-demo",
        "indexes-not-a-list",
        "config-yaml",
        "config-key",
        "requirement",
    ],
)
def test_bad_input_is_exit_2_with_an_error_annotation(
    workspace: Path,
    inputs: dict[str, str],
    files: dict[str, str],
    where: tuple[str, str] | None,
    text: str,
) -> None:
    for rel, content in files.items():
        (workspace / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace / rel).write_text(content)

    run = run_action(workspace, inputs)

    assert run.code == 2, run.stdout + run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    (error,) = run.commands("error")
    assert error.props["title"] == "indexgate: invalid-input"
    assert text in error.message
    if where:
        assert (error.props.get("file"), error.props.get("line")) == where
    else:
        assert "file" not in error.props
    assert run.outputs["status"] == "error"
    assert run.outputs["blocked-count"] == "0"
    assert run.report()["targets"][0]["errors"][0]["kind"] == "invalid-input"
    assert "invalid-input" in run.summary


def test_password_in_a_broken_indexes_input_is_still_masked(workspace: Path) -> None:
    secret = "s3cr3t-in-broken-yaml"
    run = run_action(workspace, {"indexes": f"- name: x\n  password: {secret}\n url: [\n"})
    assert run.code == 2
    assert_no_secret(run, secret)


def test_env_credentials_and_url_userinfo_are_masked(workspace: Path) -> None:
    """Masked even when the run stops early (here: no index answers on port 9)."""
    env = {
        "INDEXGATE_INDEX_CORP_PASSWORD": "env-password-1",
        "UV_INDEX_OTHER_PASSWORD": "env-password-2",
        "PIP_EXTRA_INDEX_URL": "http://user:url-password-3@127.0.0.1:9/simple/",
    }
    run = run_action(workspace, {"index-strategy": "first-index"}, env)
    assert run.code in (2, 3), run.stdout + run.stderr
    assert_no_secret(run, "env-password-1", "env-password-2", "url-password-3")


def test_demo_runs_both_outcomes_and_leaves_nothing_behind(tmp_path: Path) -> None:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**os.environ, "TMPDIR": str(tmpdir)}
    proc = subprocess.run(
        [sys.executable, "-m", "indexgate", "demo"],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "Run 1: right credentials" in out and "indexgate check: PASS" in out
    assert "Run 2: wrong password" in out and "indexgate check: FAIL" in out
    assert "auth-failure" in out and "## ❌ indexgate check: FAIL" in out
    for firewall in ("Nexus Firewall", "JFrog Curation", "JFrog Xray"):
        assert firewall in out
    assert "As expected" in out
    assert list(tmpdir.iterdir()) == []  # temporary folders removed


def test_files_the_action_writes_are_readable_by_the_runner_user(
    indexes: DemoIndexes, workspace: Path
) -> None:
    """Under a restrictive umask too: the report and its folder, and a summary file the
    step had to create, are readable by the steps after it (another user than root)."""
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(config_yaml(indexes))
    created = workspace.parent / "new-summary.md"
    env = {"ACME_INDEX_TOKEN": indexes.token, "GITHUB_STEP_SUMMARY": str(created)}

    run = run_action(workspace, {"report-path": "out/reports/gate.json"}, env, umask=0o077)

    assert run.code == 0, run.stdout + run.stderr
    report = workspace / "out" / "reports" / "gate.json"
    assert stat.S_IMODE(report.stat().st_mode) == 0o644
    assert stat.S_IMODE(report.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(report.parent.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(created.stat().st_mode) == 0o644
    assert "indexgate check: PASS" in created.read_text()
    assert [p.name for p in report.parent.iterdir()] == ["gate.json"]  # no temp file left
