"""Resolver corner cases shaped like packse's scenarios, answered as uv answers them
(issue 13). Each case names its packse scenario; the packages are built by the test
helpers and served by a real local index (packse itself is not vendored).

Where packse's recorded expectation and the current uv differ (the two pre-release
scenarios: packse still records uv's older "a pre-release specifier opts in" rule), the
test follows what ``uv pip compile`` answers on the same index today: final releases
first, a pre-release only when no final release in range will do.
"""

from __future__ import annotations

import pytest
from check_support import CheckCli
from support.packages import wheel


def _check(cli: CheckCli, index, requirements: str):
    return cli.run("--index", index.url, "--python-version", "3.12", requirements=requirements)


def test_package_prerelease_specified_mixed_available(cli, dev_index) -> None:
    index = dev_index(["a==0.1.0", "a==0.2.0a1", "a==0.3.0", "a==1.0.0a1"])
    run = _check(cli, index, "a>=0.1.0a1\n")
    assert run.code == 0, run.out + run.err
    # the specifier names a pre-release, but a final release is in range: uv takes it
    assert run.versions() == {"a": "0.3.0"}


def test_package_prereleases_specifier_boundary(cli, dev_index) -> None:
    index = dev_index(
        ["a==0.1.0", "a==0.2.0", "a==0.2.0a1", "a==0.2.0a2", "a==0.2.0a3", "a==0.3.0"]
    )
    run = _check(cli, index, "a<0.2.0a2\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"a": "0.1.0"}


def test_a_prerelease_is_taken_when_no_final_release_in_range_works(cli, dev_index) -> None:
    # The other half of the rule: once the final releases are ruled out (here by a
    # dependency no version meets), the pre-release in range is used, as uv does.
    index = dev_index(
        [wheel("a", "0.1.0", "c>=2"), wheel("a", "0.3.0", "c>=2"), "a==1.0.0a1", "c==1.0"]
    )
    run = _check(cli, index, "a>=0.1.0a1\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"a": "1.0.0a1"}
    only_pre = _check(cli, index, "a>=0.4\n")
    assert only_pre.code == 0, only_pre.out + only_pre.err
    assert only_pre.versions() == {"a": "1.0.0a1"}


def test_python_less_than_current(cli, dev_index) -> None:
    # Requires-Python upper bounds are ignored, as uv does: <=3.8 is taken on 3.12
    index = dev_index([wheel("a", "1.0.0", requires_python="<=3.8")])
    run = _check(cli, index, "a==1.0.0\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"a": "1.0.0"}


@pytest.mark.parametrize(
    ("requires_python", "usable"),
    [
        ("<3.9", True),
        ("!=3.12.*", True),
        ("==3.11", True),  # == counts as a lower bound
        ("==3.8.*", True),
        ("===3.12", True),
        (">=3.6,<3.9", True),
        (">=3.13", False),
        (">3.12", False),
        ("==3.13.*", False),
        ("~=3.13", False),
        (">=3.12.1", False),  # --python-version 3.12 is 3.12.0, as uv reads it
    ],
)
def test_requires_python_lower_bounds_only(cli, dev_index, requires_python, usable) -> None:
    index = dev_index([wheel("a", "1.0.0", requires_python=requires_python), "a==0.5"])
    run = _check(cli, index, "a\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"a": "1.0.0" if usable else "0.5"}


def _yanked_index(dev_index):
    packages = [
        wheel("a", "1.0.0", "c==2.0.0"),
        wheel("b", "1.0.0", "c>=1.0.0,<=3.0.0"),
        "c==1.0.0",
        "c==2.0.0",
    ]
    return dev_index(packages, yanked={"c-2.0.0-py3-none-any.whl": ""})


def test_transitive_yanked_and_unyanked_dependency(cli, dev_index) -> None:
    # a's own ==2.0.0 on a yanked version does not make it usable: only a user's pin does
    run = _check(cli, _yanked_index(dev_index), "a\nb\n")
    assert run.code == 1, run.out + run.err
    (error,) = run.errors("no-solution")
    assert error["package"] == "a"
    assert "c==2.0.0" in error["message"] and "yanked" in error["message"], error["message"]


def test_transitive_yanked_and_unyanked_dependency_opt_in(cli, dev_index) -> None:
    run = _check(cli, _yanked_index(dev_index), "a\nb\nc==2.0.0\n")
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"a": "1.0.0", "b": "1.0.0", "c": "2.0.0"}
    (warning,) = run.warnings("yanked-pin")
    assert warning["package"] == "c" and warning["line"] == 3


def test_a_yanked_version_pinned_by_a_constraint_is_usable(cli, dev_index) -> None:
    cli.write("constraints.txt", "c==2.0.0\n")
    run = _check(cli, _yanked_index(dev_index), "-c constraints.txt\na\nb\n")
    assert run.code == 0, run.out + run.err
    assert run.versions()["c"] == "2.0.0"
