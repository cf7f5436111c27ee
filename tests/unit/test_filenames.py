"""``parse_filename`` checks what packaging's filename parsers check, and answers the same."""

from __future__ import annotations

import itertools
import random

import pytest
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from indexgate.dists import models
from indexgate.dists.models import parse_filename


def reference(filename: str) -> tuple[object, ...] | None:
    """What packaging itself makes of the filename, with packaging 26.3's rule on every
    version: an empty project name is not a distribution (26.2 and older accepted it)."""
    try:
        if filename.endswith(".whl"):
            name, version, _build, tags = parse_wheel_filename(filename)
            return (name, version, "wheel", frozenset(tags)) if name else None
        if filename.endswith((".tar.gz", ".zip")):
            name, version = parse_sdist_filename(filename)
            return (name, version, "sdist", frozenset()) if name else None
    except ValueError:
        return None
    return None


def ours(filename: str) -> tuple[object, ...] | None:
    parsed = parse_filename(filename)
    if parsed is None:
        return None
    return parsed.name, parsed.version, parsed.kind, parsed.tags


NAMES = ["foo", "Foo_Bar", "foo.bar", "foo__bar", "foo-bar", "föö", "", "foo bar", "a1", "_x"]
VERSIONS = ["1.0", "1.0rc1", "1!2.0.post1.dev3+local.7", " 1.0", "1.0\n", "bad", "", "v1.0", "1_0"]
BUILDS = [None, "1", "1abc", "a1", ""]
TAGS = [
    "py3-none-any",
    "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "py2.py3-none-any",
    "x-y-z",
    "py3-none-",
    "--",
]


def wheel_names() -> list[str]:
    out = []
    for name, version, build, tag in itertools.product(NAMES, VERSIONS, BUILDS, TAGS):
        parts = [name, version, *([build] if build is not None else []), tag]
        out.append("-".join(parts) + ".whl")
    return out


def sdist_names() -> list[str]:
    return [
        f"{name}-{version}{ext}"
        for name, version, ext in itertools.product(
            NAMES + ["foo-bar-baz"], VERSIONS, [".tar.gz", ".zip", ".tar.bz2", ".exe", ""]
        )
    ] + ["foo.tar.gz", "foo.zip", ".whl", "-.tar.gz", "a-1.0-py3-none-any.zip"]


def fuzzed(count: int) -> list[str]:
    rng = random.Random(7)
    alphabet = "ab1-_.!+ \n"
    ends = [".whl", ".tar.gz", ".zip", ".txt"]
    return [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) + rng.choice(ends)
        for _ in range(count)
    ]


@pytest.mark.parametrize("group", ["wheels", "sdists", "fuzzed"])
def test_parse_filename_agrees_with_packaging(group: str) -> None:
    names = {"wheels": wheel_names, "sdists": sdist_names, "fuzzed": lambda: fuzzed(4000)}[group]()
    accepted = 0
    for filename in names:
        assert ours(filename) == reference(filename), filename
        accepted += reference(filename) is not None
    assert 0 < accepted < len(names), "the cases must include both kinds of answer"


def test_versions_and_tags_are_built_once_per_string() -> None:
    parse_filename.cache_clear()
    models._version.cache_clear()
    a = parse_filename("foo-1.0-cp311-cp311-linux_x86_64.whl")
    b = parse_filename("foo-1.0.tar.gz")
    c = parse_filename("foo-1.0-cp312-cp312-linux_x86_64.whl")
    assert a is not None and b is not None and c is not None
    assert a.version is b.version is c.version
    assert parse_filename("foo-1.0-cp311-cp311-linux_x86_64.whl") is a
