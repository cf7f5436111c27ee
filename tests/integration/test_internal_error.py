"""Internal errors are reported, not thrown (issue 11): exit 4, one line with a "please
report" hint and what was being processed, no traceback (unless -vv), and a JSON report with
``status: error`` written even then. Bugs are injected into real code paths in-process."""

from __future__ import annotations

from check_support import CheckCli
from support.packages import wheel

PACKAGES = [wheel("app", "1.0", "lib>=1"), "lib==1.0"]


def _boom(*_args: object, **_kwargs: object) -> None:
    raise ValueError("injected bug")


def test_a_bug_reading_metadata_names_package_index_and_file(cli: CheckCli, public_index) -> None:
    index = public_index(PACKAGES)
    cli.monkeypatch.setattr("indexgate.dists.metadata.parse_core_metadata", _boom)
    run = cli.run(
        "--index",
        f"corp={index.url}",
        "--python-version",
        "3.12",
        "--python-version",
        "3.13",
        requirements="app\n",
    )
    assert run.code == 4
    assert run.report is not None and run.report["status"] == "error"
    assert [(t["python"], t["status"]) for t in run.report["targets"]] == [
        ("3.12", "error"),
        ("3.13", "error"),
    ]
    (problem,) = run.report["targets"][0]["errors"]
    assert problem["kind"] == "internal-error"
    assert (problem["package"], problem["index"]) == ("app", "corp")
    assert "app-1.0-py3-none-any.whl" in problem["message"]
    assert "ValueError: injected bug" in problem["message"]
    err = run.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("indexgate: internal error: ValueError")
    assert "please report" in err[0] and "Traceback" not in run.err
    assert "index 'corp'" in err[0] and "package app" in err[0]


def test_a_bug_in_the_resolver_names_what_it_was_filtering(cli: CheckCli, public_index) -> None:
    """No note on the exception: the frames it passed through tell the package and file."""
    index = public_index(PACKAGES)
    # The index client filters pages by tag too: file selection's own filename reader is
    # only called while it filters the files of a version.
    cli.monkeypatch.setattr("indexgate.resolver.files.parse_filename", _boom)
    run = cli.run("--index", f"corp={index.url}", requirements="app\n")
    assert run.code == 4 and run.report["status"] == "error"
    (problem,) = run.target["errors"]
    assert (problem["kind"], problem["package"], problem["index"]) == (
        "internal-error",
        "app",
        "corp",
    )
    assert "file app-1.0-py3-none-any.whl" in problem["message"]


def test_a_bug_reading_a_source_names_it_and_still_writes_the_report(cli: CheckCli) -> None:
    cli.monkeypatch.setattr("indexgate.sources.requirements_txt._requirement", _boom)
    run = cli.run(requirements="app\n", summary=True)
    assert run.code == 4
    assert run.report["status"] == "error"
    (problem,) = run.target["errors"]
    assert problem["kind"] == "internal-error" and problem["file"] == "requirements.txt"
    assert "reading requirements.txt" in run.err
    assert run.summary is not None and "internal-error" in run.summary


def test_traceback_only_at_double_verbose(cli: CheckCli) -> None:
    cli.monkeypatch.setattr("indexgate.sources.requirements_txt._requirement", _boom)
    assert "Traceback" not in cli.run("-v", requirements="app\n").err
    run = cli.run("-vv", requirements="app\n")
    assert run.code == 4 and "Traceback (most recent call last)" in run.err
    assert "_boom" in run.err


def test_a_bug_in_a_renderer_is_still_exit_4_with_a_json_report(
    cli: CheckCli, public_index
) -> None:
    index = public_index(PACKAGES)
    cli.monkeypatch.setattr("indexgate.report.render.render_text", _boom)
    run = cli.run("--index", index.url, requirements="app\n")
    assert run.code == 4
    assert run.report is not None and run.report["status"] == "error"
    assert "internal error: ValueError: injected bug" in run.err


def test_the_message_never_carries_credentials() -> None:
    from indexgate.errors import note_context
    from indexgate.internal import internal_problem

    exc = RuntimeError("fetching https://ci:hunter2-token@nexus.example/simple/x/ failed")
    note_context(exc, package="x", index="corp", file="x-1.0-py3-none-any.whl")
    note_context(exc, package="outer")  # the innermost note wins
    problem = internal_problem(exc)
    assert "hunter2-token" not in problem.message and "ci:" not in problem.message
    assert (problem.package, problem.index) == ("x", "corp")
    assert "file x-1.0-py3-none-any.whl" in problem.message


def test_the_action_maps_a_bug_to_exit_4_with_what_was_processed(
    tmp_path, monkeypatch, public_index
) -> None:
    """The Action's front door keeps the same rule as the CLI's: exit 4, status error,
    the package and index named, a summary that says so."""
    from indexgate import action

    index = public_index(PACKAGES)
    (tmp_path / "requirements.txt").write_text("app\n")
    monkeypatch.setattr("indexgate.dists.metadata.parse_core_metadata", _boom)
    inputs = {name: action.DEFAULTS.get(name, "") for name in action.INPUTS}
    inputs["indexes"] = f"- name: corp\n  url: {index.url}\n  default: true\n"
    result = action.execute(inputs, tmp_path, {"PATH": "/usr/bin:/bin"})
    assert result.exit_code == 4
    assert result.report.status == "error"
    (problem,) = result.report.targets[0].errors
    assert (problem.kind, problem.package, problem.index) == ("internal-error", "app", "corp")
    assert result.summary is not None and "internal-error" in result.summary
