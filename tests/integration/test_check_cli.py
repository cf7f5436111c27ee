"""``indexgate check`` end to end: the README example project, exit codes, outputs, pip and
uv index spellings, retries, and backtracking (issue 2)."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from support.packages import wheel
from support.pypi_process import start_pypiserver

from indexgate.demo import ServerConfig

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "project"
PACKAGES = [
    wheel("app", "2.0", "ghost>=1"),  # its dependency exists on no index
    wheel("app", "1.9", "lib>=1"),
    "lib==1.0",
    "lib==2.0",
    wheel("left", "1.0", "lib<2"),
    wheel("right", "1.0", "lib>=2"),
]


@pytest.fixture
def index(public_index):
    return public_index(PACKAGES)


@pytest.fixture
def fast_retries(monkeypatch):
    """Keep the retry backoff (real sleeps) short: the tests count attempts, not seconds."""
    from indexgate.index.http import HttpClient

    monkeypatch.setitem(HttpClient.__init__.__kwdefaults__, "backoff", 0.01)


# --- the README example project -----------------------------------------------------------


def test_example_project_resolves_offline_and_writes_the_report(cli, tmp_path) -> None:
    cli.monkeypatch.chdir(EXAMPLE)
    report_path = tmp_path / "report.json"
    from indexgate.cli import main

    code = main(["check", "--report-json", str(report_path)])
    out = cli.capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("indexgate check: PASS")
    assert "acme-core==1.1.0" in out and "requests==2.32.3" in out
    report = json.loads(report_path.read_text())
    assert list(report) == ["schema", "command", "status", "targets"]
    assert (report["schema"], report["command"], report["status"]) == (
        "indexgate-report/1",
        "check",
        "pass",
    )
    by_python = {}
    for target in report["targets"]:
        assert list(target) == [
            "python",
            "platform",
            "status",
            "resolution",
            "blocked",
            "errors",
            "warnings",
        ]
        assert (target["platform"], target["status"]) == ("linux_x86_64", "pass")
        assert (target["blocked"], target["errors"], target["warnings"]) == ([], [], [])
        for entry in target["resolution"]:
            assert list(entry) == ["name", "version", "index", "file", "requested_by"]
        by_python[target["python"]] = {r["name"]: r for r in target["resolution"]}
    assert set(by_python) == {"3.10", "3.12"}
    core = by_python["3.12"]["acme-core"]
    assert core == {
        "name": "acme-core",
        "version": "1.1.0",  # never the public look-alike 99.0.0
        "index": "internal",
        "file": "acme_core-1.1.0-py3-none-any.whl",
        "requested_by": ["requirements.txt:2"],
    }
    assert by_python["3.12"]["requests"]["index"] == "public"
    assert "tomli" in by_python["3.10"] and "tomli" not in by_python["3.12"]  # a marker


def test_example_project_wheels_are_what_its_build_script_makes(tmp_path) -> None:
    spec = importlib.util.spec_from_file_location("build_indexes", EXAMPLE / "build_indexes.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from indexgate.demo import build_wheel

    for folder, dists in module.INDEXES.items():
        committed = sorted(p.name for p in (EXAMPLE / "indexes" / folder).iterdir())
        built = []
        for name, version, requires, requires_python in dists:
            path = build_wheel(
                tmp_path / folder,
                name,
                version,
                requires_dist=requires,
                requires_python=requires_python,
            )
            assert path.read_bytes() == (EXAMPLE / "indexes" / folder / path.name).read_bytes()
            built.append(path.name)
        assert sorted(built) == committed


@pytest.fixture(scope="module")
def example_private_server(tmp_path_factory, private_credentials):
    """The example's internal folder, served by an authenticated pypiserver."""
    work = tmp_path_factory.mktemp("example-private")
    server = start_pypiserver(
        EXAMPLE / "indexes" / "internal", htpasswd=private_credentials, work_dir=work
    )
    yield server
    server.stop()


@pytest.mark.parametrize("right", [True, False], ids=["right-password", "wrong-password"])
def test_example_project_behind_an_authenticated_private_index(
    cli, tmp_path, example_private_server, right
) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project)
    config = (project / ".github" / "indexgate.yml").read_text()
    config = config.replace(
        "    url: indexes/internal\n    format: flat\n",
        f"    url: {example_private_server.url}\n    username: ci\n    password: ${{ACME_TOKEN}}\n",
    )
    assert example_private_server.url in config
    (project / ".github" / "indexgate.yml").write_text(config)
    cli.root = project
    cli.monkeypatch.chdir(project)
    password = example_private_server.credentials[1] if right else "not-the-token"
    run = cli.run(env={"ACME_TOKEN": password}, summary=True)
    if right:
        assert run.code == 0, run.out + run.err
        assert run.resolved("acme-core", run.report["targets"][0])["index"] == "internal"
        return
    assert run.code == 1
    assert run.report["status"] == "fail"
    errors = run.errors()
    # the auth check (issue 16) fails before any project page is asked for
    assert {(e["kind"], e.get("package"), e["index"], e["status_code"]) for e in errors} == {
        ("auth-failure", None, "internal", 403)
    }
    assert all(t["resolution"] == [] for t in run.report["targets"])
    assert "auth-failure" in run.out and "auth-failure" in (run.summary or "")
    assert password not in run.everything()


# --- exit codes -----------------------------------------------------------------------------


def test_malformed_requirement_line_is_exit_2_with_file_and_line(cli, index) -> None:
    run = cli.run("--index", index.url, requirements="lib\n# ok\napp >= = 2\n")
    assert run.code == 2
    assert "requirements.txt:3:" in run.err
    assert "Traceback" not in run.err
    assert run.out == ""


def test_malformed_included_file_names_the_included_file(cli, index) -> None:
    cli.write("reqs/base.txt", "lib\nnot a requirement!\n")
    run = cli.run("--index", index.url, requirements="-r reqs/base.txt\n")
    assert run.code == 2
    assert "base.txt:2:" in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize(
    ("config", "where"),
    [
        ("indexes:\n  - name: a\n    url: [unclosed\n", ".github/indexgate.yml:"),
        ("index-strategy: first-index\nindexs: []\n", ".github/indexgate.yml:2:"),
        ("index-strategy: fastest\n", ".github/indexgate.yml"),
        ("indexes:\n  - name: a\n    url: http://x/simple/\n    quarantine-codes: [42]\n", "42"),
        ("indexes:\n  - url: http://x/simple/\nsources:\n  lib: nowhere\n", "nowhere"),
    ],
    ids=["yaml", "unknown-key", "strategy", "bad-code", "unknown-source-index"],
)
def test_bad_config_is_exit_2_naming_the_problem(cli, config, where) -> None:
    run = cli.run(requirements="lib\n", config=config)
    assert run.code == 2
    assert where in run.err
    assert "Traceback" not in run.err


def test_a_bad_target_on_the_command_line_is_not_blamed_on_the_config(cli, index) -> None:
    config = f"platforms: [win_amd64]\nindexes:\n  - url: {index.url}\n"
    run = cli.run("--platform", "linux", requirements="lib\n", config=config)
    assert run.code == 2
    assert "unknown platform 'linux'" in run.err
    assert "indexgate.yml" not in run.err
    config = f"platforms: [bsd]\nindexes:\n  - url: {index.url}\n"
    run = cli.run("--python-version", "3.12", requirements="lib\n", config=config)
    assert run.code == 2
    assert ".github/indexgate.yml:1: unknown platform 'bsd'" in run.err


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_a_bad_concurrency_is_exit_2(capsys, value) -> None:
    from indexgate.cli import main

    with pytest.raises(SystemExit) as info:  # argparse's usage error
        main(["check", "--index", "http://127.0.0.1:9/simple/", "--concurrency", value])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --concurrency:" in err and "Traceback" not in err


@pytest.mark.parametrize("option", ["--report-json", "--summary"])
def test_an_unwritable_output_path_is_exit_2_without_a_traceback(cli, index, option) -> None:
    from indexgate.cli import main

    cli.write("requirements.txt", "lib\n")
    blocker = cli.write("not-a-dir", "a file where a folder should be")
    code = main(["check", "--index", index.url, option, str(blocker / "out.json"), "-q"])
    err = cli.capsys.readouterr().err
    assert code == 2
    assert str(blocker) in err and "cannot write" in err


def test_no_index_at_all_is_exit_2(cli) -> None:
    run = cli.run(requirements="lib\n")
    assert run.code == 2
    assert "no index configured" in run.err
    run = cli.run("--index", "", requirements="lib\n")
    assert run.code == 2
    assert "--index" in run.err


def test_unreachable_index_is_exit_3(cli, fast_retries) -> None:
    from support.pypi_process import free_port

    port = free_port()  # nothing listens there
    run = cli.run("--index", f"closed=http://127.0.0.1:{port}/simple/", requirements="lib\n")
    assert run.code == 3
    assert run.report["status"] == "error"
    (error,) = run.errors()
    assert error["kind"] == "index-unreachable"
    assert str(port) in error["message"]
    assert "Traceback" not in run.err


def test_flaky_503_answers_are_retried(cli, dev_index, fast_retries) -> None:
    server = dev_index(
        [wheel("app", "1.9", "lib>=1"), "lib==1.0"],
        flaky={"/simple/app/": 2, "/files/lib-1.0-py3-none-any.whl.metadata": 1},
    )
    run = cli.run("--index", server.url, requirements="app\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app": "1.9", "lib": "1.0"}
    assert [e.status for e in server.requests_for("/simple/app/")] == [503, 503, 200]
    assert [e.status for e in server.requests_for("/files/lib-1.0-py3-none-any.whl.metadata")] == [
        503,
        200,
    ]


def test_an_index_that_keeps_failing_is_exit_3(cli, dev_index, fast_retries) -> None:
    server = dev_index(["lib==1.0"], flaky={"/simple/lib/": 50})
    run = cli.run("--index", server.url, requirements="lib\n")
    assert run.code == 3
    assert run.errors()[0]["kind"] == "index-unreachable"
    assert 1 < len(server.requests_for("/simple/lib/")) <= 5  # bounded retries


def test_4xx_answers_are_not_retried(cli, dev_index) -> None:
    server = dev_index(["lib==1.0"], page_status={"lib": 410})
    run = cli.run("--index", server.url, requirements="lib\n")
    assert run.code != 0
    assert len(server.requests_for("/simple/lib/")) == 1


# --- resolution ---------------------------------------------------------------------------


def test_backtracks_when_the_newest_version_needs_a_package_that_does_not_exist(cli, index) -> None:
    run = cli.run("--index", index.url, requirements="app\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app": "1.9", "lib": "2.0"}
    assert index.requests_for("/simple/ghost/")  # it looked, found nothing, moved on


def test_no_solution_names_the_conflicting_requirements(cli, index) -> None:
    run = cli.run("--index", index.url, requirements="left\nright\n")
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("no-solution", "lib")
    assert "lib<2" in error["message"] and "lib>=2" in error["message"]
    assert "left 1.0" in error["message"] and "right 1.0" in error["message"]
    assert "resolvelib" not in error["message"].lower()


def test_missing_package_names_the_indexes_searched(cli, index) -> None:
    run = cli.run("--index", f"only={index.url}", requirements="lib\nghost>=1\n")
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("no-solution", "ghost")
    assert "not found" in error["message"] and "only" in error["message"]
    assert (error["file"], error["line"]) == ("requirements.txt", 2)


# --- outputs ----------------------------------------------------------------------------------


def test_json_and_markdown_on_stdout_and_the_step_summary(cli, index, tmp_path) -> None:
    run = cli.run("--index", index.url, "--format", "json", requirements="app\n")
    assert run.code == 0
    assert json.loads(run.out) == run.report
    run = cli.run("--index", index.url, "--format", "markdown", requirements="app\n")
    assert run.out.startswith("## ✅ indexgate check: PASS")
    assert "| app | 1.9 |" in run.out
    step_summary = tmp_path / "step-summary.md"
    step_summary.write_text("earlier step\n")
    run = cli.run(
        "--index", index.url, requirements="app\n", env={"GITHUB_STEP_SUMMARY": str(step_summary)}
    )
    text = step_summary.read_text()
    assert text.startswith("earlier step\n")  # appended, as GitHub expects
    assert "indexgate check: PASS" in text


def test_failing_summary_puts_errors_first(cli, index) -> None:
    run = cli.run("--index", index.url, requirements="left\nright\n", summary=True)
    assert run.code == 1
    assert run.summary.startswith("## ❌ indexgate check: FAIL")
    assert "### Errors" in run.summary
    assert "no-solution" in run.summary


# --- pip and uv index spellings ---------------------------------------------------------------


def test_requirements_file_index_options(cli, index, dev_index) -> None:
    extra = dev_index(["lib==1.0"])
    requirements = f"--index-url {index.url}\n--extra-index-url {extra.url}\nlib\napp\n"
    run = cli.run(requirements=requirements)
    assert run.code == 0, run.out + run.err
    # --extra-index-url ranks above --index-url, which is the default (last) index
    assert run.versions() == {"lib": "1.0", "app": "1.9"}
    assert run.resolved("lib")["index"] != run.resolved("app")["index"]
    assert index.requests_for("/simple/lib/") == []


def test_extra_index_url_alone_says_the_implicit_default_was_not_checked(cli, index) -> None:
    run = cli.run(requirements=f"--extra-index-url {index.url}\nlib\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "2.0"}
    (warning,) = run.report["warnings"]
    assert warning["kind"] == "unchecked-default-index"
    assert "pypi.org" in warning["message"]


def test_pip_environment_variables(cli, index, dev_index) -> None:
    extra = dev_index(["lib==1.0"])
    run = cli.run(
        requirements="lib\napp\n",
        env={"PIP_INDEX_URL": index.url, "PIP_EXTRA_INDEX_URL": extra.url},
    )
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "1.0", "app": "1.9"}


def test_uv_index_configuration_in_pyproject(cli, index, dev_index) -> None:
    first = dev_index(["lib==1.0"], ServerConfig(page_status={"app": 403}))
    pyproject = f"""\
[project]
name = "demo"
version = "0"
dependencies = ["lib", "app"]

[[tool.uv.index]]
name = "first"
url = "{first.url}"
ignore-error-codes = [403]

[[tool.uv.index]]
name = "main"
url = "{index.url}"
default = true
"""
    run = cli.run("--python-version", "3.12", pyproject=pyproject)
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "1.0", "app": "1.9"}
    assert run.resolved("lib")["index"] == "first"
    assert run.resolved("app")["index"] == "main"  # its 403 is ignored, as uv would


# --- pins, hashes, constraints -----------------------------------------------------------------


def test_hash_pins(cli, index, wheelhouse) -> None:
    import hashlib

    digest = hashlib.sha256(wheelhouse.build("lib==1.0").read_bytes()).hexdigest()
    run = cli.run("--index", index.url, requirements=f"lib==1.0 --hash=sha256:{digest}\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "1.0"}
    run = cli.run("--index", index.url, requirements=f"lib==1.0 --hash=sha256:{'0' * 64}\n")
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["line"]) == ("hash-mismatch", "lib", 1)


def test_constraints_file_limits_versions_without_adding_packages(cli, index) -> None:
    cli.write("constraints.txt", "lib<2\nleft==1.0\n")
    run = cli.run("--index", index.url, requirements="-c constraints.txt\napp\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app": "1.9", "lib": "1.0"}
