"""Targets, markers, extras, dependency groups, Requires-Python, yanked files, pre-releases
and wheel tags, resolved against real servers (issue 2)."""

from __future__ import annotations

import pytest
from support.packages import sdist, wheel

from indexgate.demo import ServerConfig

NATIVE_TAG = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
PACKAGES = [
    wheel(
        "app",
        "1.0",
        "lib>=1",
        'backport>=1; python_version < "3.11"',
        'rich>=1; extra == "cli"',
        provides_extra=["cli"],
    ),
    "lib==1.0",
    "lib==2.0",
    "backport==1.0",
    "rich==1.0",
    "winonly==1.0",
    wheel("modern", "1.0", requires_python=">=3.8"),
    wheel("modern", "2.0", requires_python=">=3.12"),
    "pre==1.0",
    "pre==2.0b1",
    "onlypre==1.0a1",
    wheel("needspre", "1.0", "onlypre"),
    wheel("native", "1.0", tag=NATIVE_TAG),
    "native==0.9",
    "pytest==8.0",
    "ruff==0.5",
    "coverage==7.0",
]


@pytest.fixture
def index(public_index):
    return public_index(PACKAGES)


def _targets(run) -> dict[str, dict[str, str]]:
    return {f"{t['python']}/{t['platform']}": run.versions(t) for t in run.report["targets"]}


def test_markers_select_requirements_per_target(cli, index) -> None:
    requirements = 'app\nwinonly; sys_platform == "win32"\nrich; python_full_version >= "3.12.0"\n'
    run = cli.run(
        "--index",
        index.url,
        "--python-version",
        "3.9",
        "--python-version",
        "3.12",
        "--platform",
        "linux_x86_64",
        "--platform",
        "win_amd64",
        requirements=requirements,
    )
    assert run.code == 0, run.out + run.err
    assert _targets(run) == {
        # app's own marker: backport only below 3.11
        "3.9/linux_x86_64": {"app": "1.0", "lib": "2.0", "backport": "1.0"},
        "3.9/win_amd64": {"app": "1.0", "lib": "2.0", "backport": "1.0", "winonly": "1.0"},
        "3.12/linux_x86_64": {"app": "1.0", "lib": "2.0", "rich": "1.0"},
        "3.12/win_amd64": {"app": "1.0", "lib": "2.0", "rich": "1.0", "winonly": "1.0"},
    }


def test_extras_on_a_requirement_bring_the_extra_dependencies(cli, index) -> None:
    run = cli.run("--index", index.url, "--python-version", "3.12", requirements="app[cli]\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app": "1.0", "lib": "2.0", "rich": "1.0"}
    assert run.resolved("rich")["requested_by"] == ["app 1.0"]
    run = cli.run("--index", index.url, "--python-version", "3.12", requirements="app\n")
    assert "rich" not in run.versions()


PYPROJECT = """\
[project]
name = "demo"
version = "0"
requires-python = ">=3.10"
dependencies = ["lib<2"]

[project.optional-dependencies]
cli = ["app[cli]"]
native = ["native"]

[dependency-groups]
lint = ["ruff"]
test = ["pytest", {include-group = "lint"}]
cov = ["coverage", {include-group = "test"}]
"""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {"lib"}),
        (["--extra", "cli"], {"lib", "app", "rich", "backport"}),
        (["--all-extras"], {"lib", "app", "rich", "backport", "native"}),
        (["--group", "test"], {"lib", "pytest", "ruff"}),
        (["--group", "cov", "--extra", "native"], {"lib", "coverage", "pytest", "ruff", "native"}),
    ],
    ids=["plain", "extra", "all-extras", "group-with-include", "group-and-extra"],
)
def test_pyproject_extras_and_dependency_groups(cli, index, args, expected) -> None:
    run = cli.run("--index", index.url, *args, pyproject=PYPROJECT)
    assert run.code == 0, run.out + run.err
    # no --python-version: the project's requires-python floor is the target
    assert (run.target["python"], run.target["platform"]) == ("3.10", "linux_x86_64")
    assert set(run.versions()) == expected
    assert run.versions()["lib"] == "1.0"
    if "app" in expected:
        assert run.resolved("app")["requested_by"] == ["pyproject.toml:8"]


def test_unknown_group_is_bad_input(cli, index) -> None:
    run = cli.run("--index", index.url, "--group", "docs", pyproject=PYPROJECT)
    assert run.code == 2
    assert "pyproject.toml" in run.err and "docs" in run.err
    assert "Traceback" not in run.err


def test_requires_python_from_core_metadata(cli, index) -> None:
    """pypiserver sends no data-requires-python: the wheel's own metadata decides."""
    args = ["--index", index.url, "--python-version", "3.11", "--python-version", "3.12"]
    run = cli.run(*args, requirements="modern\n")
    assert run.code == 0, run.out + run.err
    assert _targets(run) == {
        "3.11/linux_x86_64": {"modern": "1.0"},
        "3.12/linux_x86_64": {"modern": "2.0"},
    }


def test_requires_python_from_the_project_page(cli, dev_index) -> None:
    server = dev_index(
        [
            wheel("modern", "1.0", requires_python=">=3.8"),
            wheel("modern", "2.0", requires_python=">=3.12"),
        ]
    )
    run = cli.run("--index", server.url, "--python-version", "3.11", requirements="modern\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"modern": "1.0"}
    # data-requires-python ruled 2.0 out before any of its bytes were fetched
    assert server.requests_for("/files/modern-2.0") == []


def test_requires_python_with_no_fitting_version_explains_why(cli, index) -> None:
    run = cli.run("--index", index.url, "--python-version", "3.11", requirements="modern>=2\n")
    assert run.code == 1
    (error,) = run.errors()
    assert error["kind"] == "no-solution"
    assert "modern" in error["message"]
    assert "Python" in error["message"] and ">=3.12" in error["message"]


@pytest.fixture
def yanked_index(dev_index):
    return dev_index(
        ["lib==1.0", "lib==2.0"],
        yanked={"lib-2.0-py3-none-any.whl": "broken build"},
    )


def test_yanked_versions_are_skipped(cli, yanked_index) -> None:
    run = cli.run("--index", yanked_index.url, requirements="lib\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "1.0"}
    assert run.warnings() == []


def test_a_pin_on_a_yanked_version_resolves_with_a_warning(cli, yanked_index) -> None:
    run = cli.run("--index", yanked_index.url, requirements="# pinned\nlib==2.0\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "2.0"}
    (warning,) = run.warnings()
    assert warning["kind"] == "yanked-pin"
    assert warning["package"] == "lib"
    assert (warning["file"], warning["line"]) == ("requirements.txt", 2)
    assert "broken build" in warning["message"]
    assert "yanked-pin" in run.out
    failing = cli.run("--index", yanked_index.url, "--fail-on", "yanked", requirements="lib==2.0\n")
    assert failing.code == 1


def test_pre_releases_only_when_asked_or_nothing_else_fits(cli, index) -> None:
    args = ["--index", index.url]
    assert cli.run(*args, requirements="pre\n").versions() == {"pre": "1.0"}
    assert cli.run(*args, "--pre", requirements="pre\n").versions() == {"pre": "2.0b1"}
    # asked for by name in the specifier
    assert cli.run(*args, requirements="pre>=2.0b1\n").versions() == {"pre": "2.0b1"}
    # only pre-releases exist: take one, as uv and pip do
    run = cli.run(*args, requirements="onlypre\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"onlypre": "1.0a1"}
    run = cli.run(*args, requirements="needspre\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"needspre": "1.0", "onlypre": "1.0a1"}


def test_platform_specific_wheels_follow_the_target(cli, index) -> None:
    args = ["--index", index.url, "--python-version", "3.12", "--python-version", "3.11"]
    args += ["--platform", "linux_x86_64", "--platform", "macosx_14_0_arm64"]
    run = cli.run(*args, requirements="native\n")
    assert run.code == 0, run.out + run.err
    assert _targets(run) == {
        "3.12/linux_x86_64": {"native": "1.0"},
        "3.12/macosx_14_0_arm64": {"native": "0.9"},
        "3.11/linux_x86_64": {"native": "0.9"},
        "3.11/macosx_14_0_arm64": {"native": "0.9"},
    }
    linux = run.report["targets"][0]
    assert run.resolved("native", linux)["file"] == f"native-1.0-{NATIVE_TAG}.whl"


def test_only_binary_and_no_binary(cli, dev_index) -> None:
    server = dev_index(["lib==1.0", sdist("lib", "2.0")])
    run = cli.run("--index", server.url, requirements="lib\n")
    assert run.code == 0, run.out + run.err
    assert run.resolved("lib")["file"] == "lib-2.0.tar.gz"  # static PKG-INFO, no build
    run = cli.run("--index", server.url, "--only-binary", ":all:", requirements="lib\n")
    assert run.resolved("lib")["file"] == "lib-1.0-py3-none-any.whl"
    run = cli.run("--index", server.url, "--no-binary", "lib", requirements="lib<2\n")
    assert run.code == 1
    assert run.errors()[0]["kind"] == "no-solution"


def test_sdist_with_dynamic_dependencies_is_unusable_without_a_build(cli, dev_index) -> None:
    server = dev_index(["lib==1.0", sdist("lib", "2.0", dynamic=["Requires-Dist"])])
    run = cli.run("--index", server.url, requirements="lib\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib": "1.0"}


def test_pep691_json_and_html_only_indexes_resolve_alike(cli, dev_index) -> None:
    packages = [wheel("app", "1.0", "lib>=1"), "lib==1.0", "lib==2.0"]
    json_index = dev_index(packages)
    html_index = dev_index(packages, ServerConfig(json=False, pep658=False))
    results = []
    for server in (json_index, html_index):
        run = cli.run("--index", server.url, requirements="app\n")
        assert run.code == 0, run.out + run.err
        results.append(run.versions())
    assert results[0] == results[1] == {"app": "1.0", "lib": "2.0"}
    assert any(
        e.headers.get("accept", "").startswith("application/vnd.pypi.simple.v1+json")
        for e in json_index.requests_for("/simple/app/")
    )
    assert json_index.requests_for("/files/app-1.0-py3-none-any.whl.metadata")
    assert html_index.requests_for("/files/app-1.0-py3-none-any.whl")  # range reads


def test_python_full_version_of_a_minor_target_is_its_dot_zero(cli, index) -> None:
    requirements = 'rich; python_full_version >= "3.11.1"\nlib\n'
    run = cli.run("--index", index.url, "--python-version", "3.11", requirements=requirements)
    assert run.versions() == {"lib": "2.0"}
    run = cli.run("--index", index.url, "--python-version", "3.11.4", requirements=requirements)
    assert run.versions() == {"lib": "2.0", "rich": "1.0"}
    assert run.target["python"] == "3.11.4"


def test_fail_on_warnings(cli, yanked_index) -> None:
    args = ["--index", yanked_index.url, "--fail-on", "warnings"]
    assert cli.run(*args, requirements="lib\n").code == 0
    run = cli.run(*args, requirements="lib==2.0\n")
    assert run.code == 1
    assert run.report["status"] == "fail"
