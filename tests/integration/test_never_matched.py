"""``index-never-matched``: an index that answered 404 for every project of the run is named
in the report and the summary (issue 11), so a misconfigured private index never goes
unnoticed; an index that had nothing to match is not."""

from __future__ import annotations

from check_support import CheckCli
from support.packages import wheel

PACKAGES = [wheel("app", "1.0", "lib>=1"), "lib==1.0"]


def test_an_index_with_a_wrong_path_is_named_in_report_text_and_summary(
    cli: CheckCli, public_index
) -> None:
    index = public_index(PACKAGES)
    wrong = f"{index.base_url}/repository/pypi-typo/simple/"
    run = cli.run(
        "--index", f"internal={wrong}", "--index-url", index.url, requirements="app\n", summary=True
    )
    assert run.code == 0, run.out + run.err  # a warning, not a failure
    assert run.versions() == {"app": "1.0", "lib": "1.0"}
    (warning,) = run.report["warnings"]
    assert warning["kind"] == "index-never-matched"
    assert warning["index"] == "internal" and warning["status_code"] == 404
    assert "app, lib" in warning["message"]
    assert "/repository/pypi-typo/simple/" in warning["message"]
    assert "index-never-matched" in run.out and "internal" in run.out
    assert run.summary is not None and "index-never-matched" in run.summary
    # the index that served the packages is not named
    assert all(w["index"] != "127.0.0.1" for w in run.report["warnings"])


def test_no_warning_for_an_index_that_matched_or_had_nothing_to_match(
    cli: CheckCli, public_index
) -> None:
    """The first index has lib only (app comes from the second): it matched once, which is
    enough. The explicit index is asked for nothing, so it had nothing to match."""
    first = public_index(["lib==1.0"])
    second = public_index(PACKAGES)
    config = (
        "indexes:\n"
        f"  - name: first\n    url: {first.url}\n"
        f"  - name: vendor\n    url: {first.base_url}/nothing-here/simple/\n    explicit: true\n"
        f"  - name: second\n    url: {second.url}\n    default: true\n"
    )
    run = cli.run(config=config, requirements="app\n")
    assert run.code == 0, run.out + run.err
    assert run.resolved("lib")["index"] == "first" and run.resolved("app")["index"] == "second"
    assert "warnings" not in run.report
    assert "index-never-matched" not in run.out


def test_a_failing_run_still_names_the_index(cli: CheckCli, public_index) -> None:
    index = public_index(PACKAGES)
    run = cli.run("--index", f"only={index.base_url}/simpel/", requirements="app\n")
    assert run.code == 1
    assert [w["kind"] for w in run.report["warnings"]] == ["index-never-matched"]
    assert run.errors("no-solution")


def test_fail_on_warnings_makes_a_run_wide_warning_fatal(cli: CheckCli, public_index) -> None:
    """The README's rule: `--fail-on warnings` fails the gate on any warning, per target
    and run-wide; the report records the rule on the warning it made fatal."""
    index = public_index(PACKAGES)
    wrong = f"{index.base_url}/repository/pypi-typo/simple/"
    args = ("--index", f"internal={wrong}", "--index-url", index.url)
    run = cli.run(*args, "--fail-on", "warnings", requirements="app\n")
    assert run.code == 1, run.out + run.err
    assert run.report["status"] == "fail"
    (warning,) = run.report["warnings"]
    assert (warning["kind"], warning["fatal"], warning["fail_on"]) == (
        "index-never-matched",
        True,
        ["warnings"],
    )
    # Other rules do not name this kind: the warning stays a warning.
    run = cli.run(*args, "--fail-on", "yanked", requirements="app\n")
    assert run.code == 0 and "fatal" not in run.report["warnings"][0]
