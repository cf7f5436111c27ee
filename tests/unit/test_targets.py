"""Targets: one Python version on one platform, with its marker environment and wheel tags."""

from __future__ import annotations

import sys

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet
from packaging.tags import parse_tag
from packaging.version import Version

from indexgate.errors import InputError
from indexgate.targets import default_python, make_target


def _accepts(target, tag: str) -> bool:
    return target.tag_rank(frozenset(parse_tag(tag))) is not None


def test_minor_version_means_dot_zero_as_uv_reads_it() -> None:
    target = make_target("3.11", "linux_x86_64")
    assert target.python_version == Version("3.11.0")
    env = target.environment()
    assert (env["python_version"], env["python_full_version"]) == ("3.11", "3.11.0")
    assert not target.evaluate(Marker('python_full_version >= "3.11.1"'))
    patch = make_target("3.11.4", "linux_x86_64")
    assert patch.environment()["python_full_version"] == "3.11.4"
    assert patch.evaluate(Marker('python_full_version >= "3.11.1"'))
    assert patch.python == "3.11.4"  # reported as written


def test_implementation_version_is_the_python_version() -> None:
    target = make_target("3.12", "linux_x86_64")
    assert target.evaluate(Marker('implementation_name == "cpython"'))
    assert target.evaluate(Marker('implementation_version >= "3.8"'))
    assert not target.evaluate(Marker('implementation_version < "3.12"'))


@pytest.mark.parametrize(
    ("platform", "sys_platform", "system", "machine", "os_name"),
    [
        ("linux_x86_64", "linux", "Linux", "x86_64", "posix"),
        ("linux_aarch64", "linux", "Linux", "aarch64", "posix"),
        ("manylinux_2_28_x86_64", "linux", "Linux", "x86_64", "posix"),
        ("musllinux_1_2_x86_64", "linux", "Linux", "x86_64", "posix"),
        ("macosx_14_0_arm64", "darwin", "Darwin", "arm64", "posix"),
        ("win_amd64", "win32", "Windows", "AMD64", "nt"),
    ],
)
def test_marker_environment_per_platform(platform, sys_platform, system, machine, os_name) -> None:
    env = make_target("3.12", platform).environment()
    assert (env["sys_platform"], env["platform_system"]) == (sys_platform, system)
    assert (env["platform_machine"], env["os_name"]) == (machine, os_name)
    assert env["platform_python_implementation"] == "CPython"


def test_markers_with_extras() -> None:
    target = make_target("3.12", "linux_x86_64")
    marker = Marker('extra == "cli" and python_version >= "3.10"')
    assert not target.evaluate(marker)
    assert target.evaluate(marker, frozenset({"cli"}))
    assert target.evaluate(marker, frozenset({"docs", "cli"}))
    assert not target.evaluate(marker, frozenset({"docs"}))
    assert target.evaluate(None)


def test_ubuntu_latest_takes_manylinux_up_to_glibc_2_39_and_no_musllinux() -> None:
    target = make_target("3.12", "linux_x86_64")
    assert _accepts(target, "cp312-cp312-manylinux_2_39_x86_64")
    assert _accepts(target, "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64")
    assert _accepts(target, "cp312-cp312-manylinux1_x86_64")
    assert _accepts(target, "cp38-abi3-manylinux_2_28_x86_64")
    assert _accepts(target, "py3-none-any")
    assert not _accepts(target, "cp312-cp312-manylinux_2_40_x86_64")
    assert not _accepts(target, "cp312-cp312-musllinux_1_2_x86_64")
    assert not _accepts(target, "cp312-cp312-manylinux_2_17_aarch64")
    assert not _accepts(target, "cp311-cp311-manylinux_2_17_x86_64")
    assert not _accepts(target, "cp312-cp312-win_amd64")
    assert not _accepts(target, "py2-none-any")


def test_exact_platforms() -> None:
    manylinux = make_target("3.12", "manylinux_2_28_x86_64")
    assert _accepts(manylinux, "cp312-cp312-manylinux_2_28_x86_64")
    assert not _accepts(manylinux, "cp312-cp312-manylinux_2_31_x86_64")
    musl = make_target("3.12", "musllinux_1_2_x86_64")
    assert _accepts(musl, "cp312-cp312-musllinux_1_1_x86_64")
    assert not _accepts(musl, "cp312-cp312-manylinux_2_17_x86_64")
    mac = make_target("3.12", "macosx_14_0_arm64")
    assert _accepts(mac, "cp312-cp312-macosx_11_0_arm64")
    assert _accepts(mac, "cp312-cp312-macosx_10_9_universal2")
    assert not _accepts(mac, "cp312-cp312-macosx_15_0_arm64")
    assert not _accepts(mac, "cp312-cp312-macosx_11_0_x86_64")
    win = make_target("3.12", "win_amd64")
    assert _accepts(win, "cp312-cp312-win_amd64")
    assert not _accepts(win, "cp312-cp312-win32")


def test_platform_wheels_rank_above_pure_python() -> None:
    target = make_target("3.12", "linux_x86_64")
    native = target.tag_rank(frozenset(parse_tag("cp312-cp312-manylinux_2_17_x86_64")))
    abi3 = target.tag_rank(frozenset(parse_tag("cp38-abi3-manylinux_2_17_x86_64")))
    pure = target.tag_rank(frozenset(parse_tag("py3-none-any")))
    assert native is not None and abi3 is not None and pure is not None
    assert native < abi3 < pure


def test_requires_python() -> None:
    target = make_target("3.11", "linux_x86_64")
    assert target.allows_python(None)
    assert target.allows_python("")
    assert target.allows_python(">=3.8")
    assert target.allows_python(SpecifierSet(">=3.11"))
    assert not target.allows_python(">=3.11.1")  # 3.11 means 3.11.0
    assert not target.allows_python(">=3.12")
    assert target.allows_python("!=3.10.*")
    assert not target.allows_python(">= '2.7'")  # malformed: never fits, never raises


@pytest.mark.parametrize(
    ("python", "platform"),
    [
        ("3", "linux_x86_64"),
        ("2.7", "linux_x86_64"),
        ("three", "linux_x86_64"),
        ("3.12", "linux"),
        ("3.12", "manylinux_3_1_x86_64"),
        ("3.12", "freebsd_14_amd64"),
        ("3.12", "macosx_arm64"),
    ],
)
def test_invalid_targets_are_input_errors(python, platform) -> None:
    with pytest.raises(InputError) as info:
        make_target(python, platform)
    assert python in str(info.value) or platform in str(info.value)


def test_default_python_is_the_requires_python_floor() -> None:
    assert default_python(SpecifierSet(">=3.10")) == "3.10"
    assert default_python(SpecifierSet(">=3.9,<4")) == "3.9"
    assert default_python(SpecifierSet("~=3.11")) == "3.11"
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert default_python(None) == running
    assert default_python(SpecifierSet()) == running


def test_label() -> None:
    assert make_target("3.12", "win_amd64").label == "Python 3.12 on win_amd64"


def test_marker_answers_are_remembered_per_extras() -> None:
    target = make_target("3.12", "linux_x86_64")
    marker = Marker('extra == "cli"')
    assert target.evaluate(marker, frozenset({"cli"}))  # asked first: a memo must not
    assert not target.evaluate(marker)  # give this answer to the plain requirement
    assert target.evaluate(Marker('extra == "cli"'), frozenset({"cli"}))  # same text
    assert not target.evaluate(Marker('extra == "cli"'), frozenset({"docs"}))


def test_a_new_marker_never_gets_the_answer_of_a_freed_one() -> None:
    # Markers are remembered by identity; a freed marker's id may be reused by a new one.
    target = make_target("3.12", "linux_x86_64")
    assert target.evaluate(Marker('python_version >= "3.10"'))
    for minor in range(13, 60):
        assert not target.evaluate(Marker(f'python_version >= "3.{minor}"'))


def test_tag_ranks_are_remembered_per_tag_set() -> None:
    target = make_target("3.12", "linux_x86_64")
    pure = frozenset(parse_tag("py3-none-any"))
    windows = frozenset(parse_tag("cp312-cp312-win_amd64"))
    first = target.tag_rank(pure)
    assert first is not None
    assert target.tag_rank(windows) is None
    assert target.tag_rank(windows) is None  # a remembered "no" stays a no
    assert target.tag_rank(frozenset(parse_tag("py3-none-any"))) == first
    assert make_target("3.12", "win_amd64").tag_rank(windows) is not None  # per target
