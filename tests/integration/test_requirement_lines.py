"""Everyday requirement lines (issue 11): ``-e .``, ``-e ./lib``, local paths, direct URLs,
VCS references and local archives, resolved against real local indexes.

Local projects: their static PEP 621 metadata is read and their dependencies gated; dynamic
ones need --allow-build. Direct references are not from an index: a ``not-from-index``
warning with file:line each, the rest resolved; ``--fail-on not-from-index`` makes them fatal.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from check_support import CheckCli
from support.packages import Wheelhouse, wheel

PACKAGES = [
    "app-dep==1.0",
    "app-dep==2.0",
    "extra-dep==1.0",
    "lib-dep==1.0",
    "helper==1.0",
    "helper==2.0",
]

APP = """\
[project]
name = "app"
version = "0.1"
requires-python = ">=3.10"
dependencies = [
    "app-dep>=1",
    "lib>=1",
]

[project.optional-dependencies]
test = ["extra-dep"]
"""

LIB = """\
[project]
name = "lib"
version = "1.0"
dependencies = ["lib-dep"]
"""

BACKEND = """
import os
def prepare_metadata_for_build_wheel(out, config_settings=None):
    d = os.path.join(out, "dyn-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write(
            "Metadata-Version: 2.1\\nName: dyn\\nVersion: 1.0\\nProvides-Extra: test\\n"
            "Requires-Dist: helper>=2\\nRequires-Dist: extra-dep; extra == 'test'\\n"
        )
    return "dyn-1.0.dist-info"
"""

DYNAMIC = """\
[build-system]
requires = []
build-backend = "backend"
backend-path = ["."]

[project]
name = "dyn"
version = "1.0"
dynamic = ["dependencies", "optional-dependencies"]
"""


@pytest.fixture
def index(public_index):
    return public_index(PACKAGES)


def test_editable_dot_and_lib_read_static_metadata(cli: CheckCli, index) -> None:
    """``-e .[test]`` gates app's dependencies and its test extra; ``-e ./lib`` gates lib's;
    app's own requirement on lib is met by the folder, not looked up on the index."""
    cli.write("pyproject.toml", APP)
    cli.write("lib/pyproject.toml", LIB)
    run = cli.run(
        "-r", "requirements.txt", "--index", index.url, requirements="-e .[test]\n-e ./lib\n"
    )
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app-dep": "2.0", "extra-dep": "1.0", "lib-dep": "1.0"}
    assert run.resolved("app-dep")["requested_by"] == ["pyproject.toml:6"]
    assert run.resolved("lib-dep")["requested_by"] == ["lib/pyproject.toml:4"]
    assert run.target["python"] == "3.10"  # the project's requires-python floor
    assert run.target["warnings"] == []
    assert index.requests_for("/simple/lib/") == [] and index.requests_for("/simple/app/") == []


def test_local_path_lines_without_e(cli: CheckCli, index, tmp_path: Path) -> None:
    cli.write("lib/pyproject.toml", LIB)
    uri = (tmp_path / "lib").as_uri()
    for line in ("./lib", "lib/", uri, f"lib @ {uri}"):
        run = cli.run("--index", index.url, requirements=f"{line}\n")
        assert run.code == 0, (line, run.out + run.err)
        assert run.versions() == {"lib-dep": "1.0"}, line


def _dynamic_project(cli: CheckCli) -> Path:
    cli.write("dyn/pyproject.toml", DYNAMIC)
    cli.write("dyn/backend.py", BACKEND)
    return cli.root / "dyn"


def test_dynamic_dependencies_need_allow_build(cli: CheckCli, index) -> None:
    _dynamic_project(cli)
    run = cli.run("--index", index.url, requirements="app-dep\n-e ./dyn\n")
    assert run.code == 2
    assert run.err.startswith("indexgate: error: requirements.txt:2: ")
    assert "--allow-build" in run.err and "static" in run.err
    assert "Traceback" not in run.err


def test_dynamic_dependencies_with_allow_build(cli: CheckCli, index) -> None:
    folder = _dynamic_project(cli)
    before = sorted(p.name for p in folder.iterdir())
    run = cli.run("--allow-build", "--index", index.url, requirements="-e ./dyn[test]\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"helper": "2.0", "extra-dep": "1.0"}
    assert run.resolved("helper")["requested_by"] == ["requirements.txt:1"]
    assert sorted(p.name for p in folder.iterdir()) == before  # built on a copy
    # without the extra, its dependency is left out
    run = cli.run("--allow-build", "--index", index.url, requirements="-e ./dyn\n")
    assert run.versions() == {"helper": "2.0"}


def test_setup_py_project_needs_allow_build(cli: CheckCli, index) -> None:
    cli.write("legacy/setup.py", "raise SystemExit('never run without --allow-build')\n")
    run = cli.run("--index", index.url, requirements="-e ./legacy\n")
    assert run.code == 2 and "requirements.txt:1" in run.err and "--allow-build" in run.err


DIRECT = """\
app-dep<2
urlpkg @ https://files.example.com/urlpkg-1.0-py3-none-any.whl
git+https://git.example.com/team/tool.git@v1.2#egg=tool
other @ git+https://token123@git.example.com/team/other.git
"""


def test_direct_url_and_vcs_lines_warn_with_file_line_and_the_rest_resolves(
    cli: CheckCli, index
) -> None:
    run = cli.run("--index", index.url, requirements=DIRECT, summary=True)
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app-dep": "1.0"}
    warnings = run.warnings("not-from-index")
    assert [(w["package"], w["file"], w["line"]) for w in warnings] == [
        ("urlpkg", "requirements.txt", 2),
        ("tool", "requirements.txt", 3),
        ("other", "requirements.txt", 4),
    ]
    assert "direct URL" in warnings[0]["message"] and "VCS" in warnings[1]["message"]
    assert "token123" not in run.everything()
    assert "not-from-index" in run.out and "not-from-index" in (run.summary or "")
    assert index.requests_for("/simple/urlpkg/") == [] and index.requests_for("/simple/tool/") == []


def test_fail_on_not_from_index_makes_them_fatal(cli: CheckCli, index) -> None:
    run = cli.run("--fail-on", "not-from-index", "--index", index.url, requirements=DIRECT)
    assert run.code == 1
    assert run.report["status"] == "fail" and run.errors() == []
    assert len(run.warnings("not-from-index")) == 3


def test_a_marker_limits_the_warning_to_its_targets(cli: CheckCli, index) -> None:
    text = "app-dep\ntool @ git+https://git.example.com/tool.git ; python_version < '3.12'\n"
    run = cli.run(
        "--index",
        index.url,
        "--python-version",
        "3.11",
        "--python-version",
        "3.12",
        requirements=text,
    )
    assert run.code == 0
    by_python = {t["python"]: [w["kind"] for w in t["warnings"]] for t in run.report["targets"]}
    assert by_python == {"3.11": ["not-from-index"], "3.12": []}


def test_a_local_wheel_is_reported_and_its_dependencies_gated(
    cli: CheckCli, index, wheelhouse: Wheelhouse
) -> None:
    built = wheelhouse.build(wheel("localwhl", "1.0", "app-dep<2", "lib-dep"))
    (cli.root / "dist").mkdir()
    shutil.copyfile(built, cli.root / "dist" / built.name)
    run = cli.run("--index", index.url, requirements=f"./dist/{built.name}\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app-dep": "1.0", "lib-dep": "1.0"}
    (warning,) = run.warnings("not-from-index")
    assert warning["package"] == "localwhl" and warning["line"] == 1
    assert "dependencies were gated" in warning["message"]


WORKSPACE = """\
[project]
name = "app"
version = "0.1"
dependencies = [
    "app-dep<2",
    "core",
    "tool",
    "urlpkg @ https://files.example.com/urlpkg-1.0-py3-none-any.whl",
]

[tool.uv.sources]
core = { workspace = true }
tool = { git = "https://git.example.com/tool", rev = "abc123" }

[tool.uv.workspace]
members = ["packages/*"]
"""


def test_pyproject_workspace_member_and_direct_references(cli: CheckCli, index) -> None:
    """A uv workspace: the member named by ``workspace = true`` is read (never looked up on
    an index); git and URL dependencies are not-from-index, pointing at their lines."""
    cli.write(
        "packages/core/pyproject.toml", '[project]\nname = "core"\ndependencies = ["lib-dep"]\n'
    )
    run = cli.run("--index", index.url, pyproject=WORKSPACE)
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app-dep": "1.0", "lib-dep": "1.0"}
    expected = os.path.join("packages", "core", "pyproject.toml") + ":3"
    assert run.resolved("lib-dep")["requested_by"] == [expected]
    warnings = run.warnings("not-from-index")
    assert [(w["package"], w["file"], w["line"]) for w in warnings] == [
        ("tool", "pyproject.toml", 7),
        ("urlpkg", "pyproject.toml", 8),
    ]
    assert index.requests_for("/simple/core/") == [] and index.requests_for("/simple/tool/") == []


def test_a_direct_wheel_url_on_an_index_host_has_its_dependencies_gated(
    cli: CheckCli, public_index
) -> None:
    """The wheel is on the configured index's own host: its METADATA is read (range
    requests), so lib-dep is resolved; the wheel itself is still not-from-index."""
    server = public_index([*PACKAGES, wheel("urlpkg", "1.0", "lib-dep", "extra-dep; extra == 'x'")])
    url = server.file_url("urlpkg-1.0-py3-none-any.whl")
    run = cli.run("--index", server.url, requirements=f"app-dep<2\nurlpkg[x] @ {url}\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"app-dep": "1.0", "lib-dep": "1.0", "extra-dep": "1.0"}
    assert run.resolved("lib-dep")["requested_by"] == ["requirements.txt:2"]
    (warning,) = run.warnings("not-from-index")
    assert warning["package"] == "urlpkg" and "dependencies were gated" in warning["message"]
    assert server.requests_for("/packages/urlpkg-1.0-py3-none-any.whl")  # read from there
    assert server.requests_for("/simple/urlpkg/") == []  # never looked up by name


def test_a_continuation_at_end_of_file_is_exit_2_naming_where_it_began(cli: CheckCli) -> None:
    """Issue 13: pip refuses ``pkg>=1 \\`` on the last line; so does the gate."""
    run = cli.run(requirements="app-dep\nlib-dep>=1 \\\n  --hash=sha256:" + "a" * 64 + " \\\n")
    assert run.code == 2 and run.report is None
    assert run.err.startswith("indexgate: error: requirements.txt:2: the file ends inside")
    assert "Traceback" not in run.err


def test_a_direct_static_sdist_url_on_an_index_host_has_its_dependencies_gated(
    cli: CheckCli, public_index
) -> None:
    from support.packages import sdist

    server = public_index([*PACKAGES, sdist("sdpkg", "1.0", "lib-dep")])
    url = server.file_url("sdpkg-1.0.tar.gz")
    run = cli.run("--index", server.url, requirements=f"sdpkg @ {url}\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"lib-dep": "1.0"}
    (warning,) = run.warnings("not-from-index")
    assert "dependencies were gated" in warning["message"]


def test_a_local_project_whose_requires_python_excludes_a_target(cli: CheckCli, index) -> None:
    cli.write("lib/pyproject.toml", LIB.replace('version = "1.0"', 'requires-python = ">=3.12"'))
    run = cli.run("--index", index.url, "--python-version", "3.11", requirements="./lib\n")
    assert run.code == 2
    assert run.err.startswith("indexgate: error: requirements.txt:1: the project in 'lib'")
    assert ">=3.12" in run.err and "Python 3.11" in run.err
    run = cli.run("--index", index.url, "--python-version", "3.12", requirements="./lib\n")
    assert run.code == 0 and run.versions() == {"lib-dep": "1.0"}
    # a marker that keeps the line off that target: fine
    text = "./lib ; python_version >= '3.12'\n"
    run = cli.run("--index", index.url, "--python-version", "3.11", requirements=text)
    assert run.code == 0 and run.versions() == {}


def test_an_index_package_depending_on_a_local_project_fails_closed(
    cli: CheckCli, public_index
) -> None:
    """``-e ./lib`` supplies lib; an index package that depends on lib must not quietly get
    the index's lib (an attacker's, say): the gate fails and says why."""
    server = public_index([*PACKAGES, wheel("uses-lib", "1.0", "lib>=1"), "lib==9.9"])
    cli.write("lib/pyproject.toml", LIB)
    run = cli.run("--index", server.url, requirements="-e ./lib\nuses-lib\n")
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("no-solution", "lib")
    assert "uses-lib 1.0 depends on it" in error["message"] and "lib 9.9" in error["message"]
