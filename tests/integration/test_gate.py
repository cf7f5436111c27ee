"""``indexgate.gate``: the one runner behind the CLI, the Action and the demo.

Every failure comes back as a report and an exit code (never an exception), and the CLI
and the Action write the summary through one writer that keeps GitHub's 1 MiB limit and
makes the files it creates readable by the runner's other users.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from check_support import CheckCli

import indexgate
from indexgate import gate
from indexgate.errors import IndexgateError, IndexUnreachable, InputError
from indexgate.report.summary import SUMMARY_LIMIT

PACKAGES = ["lib==1.0"]


def _raising(exc: BaseException) -> Callable[..., None]:
    """A stand-in for the resolver that raises ``exc`` (a bug, an interrupt)."""

    def stand_in(*args: object, **kwargs: object) -> None:
        raise exc

    return stand_in


# --- one mapping of failures -----------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "code", "status"),
    [
        (InputError("bad line", file="requirements.txt", line=3), "invalid-input", 2, "error"),
        (IndexUnreachable("index 'corp': connection refused"), "index-unreachable", 3, "error"),
        (IndexgateError("nothing fits"), "no-solution", 1, "fail"),
        (RuntimeError("injected bug"), "internal-error", 4, "error"),
        (KeyboardInterrupt(), "interrupted", 130, "error"),
    ],
)
def test_every_failure_is_a_report_and_an_exit_code(
    exc: BaseException, kind: str, code: int, status: str
) -> None:
    result = gate.failure("drift", exc)
    assert (result.exit_code, result.report.status, result.report.command) == (
        code,
        status,
        "drift",
    )
    assert result.problem is not None and result.problem.kind == kind
    assert result.report.targets[0].errors == [result.problem]
    assert result.error is exc and result.settings is None


def test_bad_input_keeps_its_file_and_line_and_hides_credentials() -> None:
    exc = InputError("cannot reach https://ci:s3cret-token@nexus.example/simple/", "r.txt", 7)
    result = gate.failure("check", exc)
    assert result.problem is not None
    assert (result.problem.file, result.problem.line) == ("r.txt", 7)
    assert "s3cret-token" not in result.problem.message
    assert result.problem.message.startswith("r.txt:7: cannot reach")


def test_an_unknown_command_is_reported_as_check() -> None:
    result = gate.failure("lint", InputError("input `command` must be one of check, drift"))
    assert result.report.command == "check" and result.exit_code == 2


def test_run_returns_bad_input_instead_of_raising(tmp_path: Path) -> None:
    result = gate.run(["check", "missing.txt"], cwd=tmp_path, env={})
    assert result.exit_code == 2
    assert result.problem is not None and result.problem.kind == "invalid-input"
    assert "missing.txt" in result.problem.message


def test_run_returns_a_bug_as_exit_4_naming_the_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, public_index
) -> None:
    index = public_index(PACKAGES)
    (tmp_path / "requirements.txt").write_text("lib\n")

    monkeypatch.setattr("indexgate.resolver.resolve.check", _raising(ValueError("injected bug")))
    argv = ["check", "--index", index.url, "--python-version", "3.12", "--no-cache"]
    result = gate.run(argv, cwd=tmp_path, env={"NETRC": str(tmp_path / "none")})
    assert result.exit_code == 4 and result.report.status == "error"
    assert result.problem is not None and result.problem.kind == "internal-error"
    assert [t.python for t in result.report.targets] == ["3.12"]
    assert isinstance(result.error, ValueError)


def test_run_passes_against_a_real_index(tmp_path: Path, public_index) -> None:
    index = public_index(PACKAGES)
    (tmp_path / "requirements.txt").write_text("lib\n")
    argv = ["check", "--index", index.url, "--fail-on", "yanked", "--no-cache"]
    result = gate.run(argv, cwd=tmp_path, env={"NETRC": str(tmp_path / "none")})
    assert (result.exit_code, result.problem, result.error) == (0, None, None)
    assert result.report.status == "pass" and result.settings is not None
    assert "yanked" in result.settings.fail_on
    assert [(r.name, r.version) for r in result.report.targets[0].resolution] == [("lib", "1.0")]


def test_an_interrupt_is_exit_130_on_the_cli(cli: CheckCli, public_index) -> None:
    index = public_index(PACKAGES)

    cli.monkeypatch.setattr("indexgate.resolver.resolve.check", _raising(KeyboardInterrupt()))
    run = cli.run("--index", index.url, requirements="lib\n")
    assert run.code == 130 and run.report is None and run.err == ""


# --- the layers: no front door imports another, the demo needs no CLI ---------------------

PROBE = """
import json, sys
import {module}
print(json.dumps(sorted(m for m in sys.modules if m.startswith("indexgate"))))
"""


@pytest.mark.parametrize(
    ("module", "absent"),
    [
        ("indexgate.gate", {"indexgate.cli", "indexgate.action", "indexgate.demo"}),
        ("indexgate.cli", {"indexgate.action", "indexgate.demo"}),
        ("indexgate.demo.run", {"indexgate.cli", "indexgate.action"}),
    ],
)
def test_imports_run_down_the_layers(module: str, absent: set[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(indexgate.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(module=module)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert module in loaded and not (loaded & absent)


# --- one summary writer ----------------------------------------------------------------


def test_the_cli_summary_is_readable_by_the_runner_user(
    cli: CheckCli, public_index, strict_umask: None
) -> None:
    index = public_index(PACKAGES)
    run = cli.run("--index", index.url, requirements="lib\n", summary=True)
    assert run.code == 0 and run.summary is not None and "indexgate check" in run.summary
    assert stat.S_IMODE((cli.root / "out" / "summary.md").stat().st_mode) == 0o644


def test_the_cli_keeps_the_step_summary_under_one_mebibyte(
    cli: CheckCli, public_index, strict_umask: None
) -> None:
    index = public_index(PACKAGES)
    summary = cli.root / "step-summary.md"
    earlier = "earlier step output\n" * ((SUMMARY_LIMIT - 200) // 20)
    summary.write_text(earlier)  # 200 bytes short of the limit: room for less than a summary
    summary.chmod(0o600)  # the runner's own file keeps its mode
    run = cli.run(
        "--index", index.url, env={"GITHUB_STEP_SUMMARY": str(summary)}, requirements="lib\n"
    )
    assert run.code == 0
    assert summary.stat().st_size <= SUMMARY_LIMIT
    assert stat.S_IMODE(summary.stat().st_mode) == 0o600
    text = summary.read_text(encoding="utf-8")
    assert text.startswith(earlier) and "Summary truncated" in text[len(earlier) :]


def test_the_cli_appends_to_the_step_summary_with_a_blank_line(cli: CheckCli, public_index) -> None:
    index = public_index(PACKAGES)
    summary = cli.root / "step-summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    cli.run("--index", index.url, env=env, requirements="lib\n")
    first = summary.read_text(encoding="utf-8")
    cli.run("--index", index.url, env=env, requirements="lib\n")
    both = summary.read_text(encoding="utf-8")
    assert first.endswith("\n\n") and both == first + first


# --- the Action's own words for a run that stopped early ---------------------------------


def _action_inputs(**values: str) -> dict[str, str]:
    from indexgate import action

    base = {name: action.DEFAULTS.get(name, "") for name in action.INPUTS}
    return {**base, **{k.replace("_", "-"): v for k, v in values.items()}}


def test_the_action_points_a_bad_merged_config_at_its_inputs(tmp_path: Path) -> None:
    from indexgate import action

    (tmp_path / "requirements.txt").write_text("lib\n")
    (tmp_path / ".github").mkdir()
    # valid alone; wrong only with the input's indexes, so in the merged (temporary) copy
    (tmp_path / ".github" / "indexgate.yml").write_text("sources:\n  acme: missing\n")
    inputs = _action_inputs(indexes="- {name: corp, url: 'http://127.0.0.1:9/simple/'}")
    result = action.execute(inputs, tmp_path, {"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 2 and result.report.status == "error"
    (problem,) = result.report.targets[0].errors
    assert problem.kind == "invalid-input" and (problem.file, problem.line) == (None, None)
    assert problem.message.startswith("inputs `indexes` + the config file: ")
    assert "'missing', which is not configured" in problem.message
    assert "indexgate-action-" not in problem.message
    assert result.summary is not None and "**invalid-input**: inputs `indexes`" in result.summary


def test_the_action_names_a_bad_requirement_line_relative_to_the_workspace(
    tmp_path: Path,
) -> None:
    from indexgate import action

    (tmp_path / "requirements.txt").write_text("lib\napp >= = 2\n")
    inputs = _action_inputs(sources="requirements.txt")
    result = action.execute(inputs, tmp_path, {"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 2
    (problem,) = result.report.targets[0].errors
    assert (problem.kind, problem.file, problem.line) == ("invalid-input", "requirements.txt", 2)
    assert result.summary is not None and "(`requirements.txt:2`)" in result.summary


def test_an_interrupted_action_run_is_exit_130(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, public_index
) -> None:
    from indexgate import action

    index = public_index(PACKAGES)
    (tmp_path / "requirements.txt").write_text("lib\n")

    monkeypatch.setattr("indexgate.resolver.resolve.check", _raising(KeyboardInterrupt()))
    inputs = _action_inputs(indexes=f"- name: corp\n  url: {index.url}\n  default: true\n")
    result = action.execute(inputs, tmp_path, {"PATH": "/usr/bin:/bin"})
    assert result.exit_code == gate.EXIT_INTERRUPTED
