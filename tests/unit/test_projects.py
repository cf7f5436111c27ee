"""Requires-Dist of a local project or archive as direct requirements (extras settled)."""

from __future__ import annotations

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from indexgate.dists.models import CoreMetadata
from indexgate.errors import Origin
from indexgate.sources.projects import from_metadata
from indexgate.targets import make_target

META = CoreMetadata(
    name=canonicalize_name("dyn"),
    version=Version("1.0"),
    requires_dist=tuple(
        Requirement(r)
        for r in (
            "base>=1",
            'test-only; extra == "test"',
            'lint-only; extra == "lint" and python_version >= "3.10"',
            'dyn[test,lint]; extra == "all"',
        )
    ),
)
ORIGIN = Origin("requirements.txt", 3)
TARGET = make_target("3.12", "linux_x86_64")


def applying(extras: set[str], marker: Marker | None = None) -> list[str]:
    entries = from_metadata(META, extras, marker, ORIGIN)
    assert all(e.origin == ORIGIN for e in entries)
    return [e.name for e in entries if TARGET.evaluate(e.requirement.marker)]


def test_without_extras_only_the_base() -> None:
    assert applying(set()) == ["base"]


def test_an_extra_brings_its_own() -> None:
    assert applying({"test"}) == ["base", "test-only"]
    assert applying({"Lint"}) == ["base", "lint-only"]


def test_an_extra_naming_the_project_itself_brings_the_extras_it_names() -> None:
    assert applying({"all"}) == ["base", "test-only", "lint-only"]


def test_the_line_marker_is_added_to_each() -> None:
    assert applying({"test"}, Marker('python_version < "3.12"')) == []
