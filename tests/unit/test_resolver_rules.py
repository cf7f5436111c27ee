"""The resolver's version rules in isolation: the loose bounds that narrow the dead-version
check (they must never leave out a version a specifier allows), Requires-Python read by its
lower bounds as uv reads it, and versions learnt dead from the user's own requirements."""

from __future__ import annotations

import itertools

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version
from resolvelib import BaseReporter, ResolutionImpossible, Resolver
from support.fake_client import INDEX, FakeClient, wheel

from indexgate.resolver.candidates import Req, _verdict_table
from indexgate.resolver.dead import _bounds
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import Finder
from indexgate.resolver.provider import Provider
from indexgate.settings import Settings
from indexgate.targets import lower_bounds_allow, make_target

VERSIONS = [
    "0.9", "1.0.dev0", "1.0a1", "1.0rc1", "1.0", "1.0+local", "1.0.post1", "1.0.1",
    "1.1.dev0", "1.1", "1.1.5", "1.2rc1", "1.2", "1.2.0.post3+x", "1.4.5", "1.4.9",
    "1.5.dev1", "1.5", "2.0", "2.0.1", "1!0.5",
]  # fmt: skip
SPECIFIERS = [
    "==1.0", "==1.0.*", "==1.*", "<1.1", "<=1.0", "<=1.1", ">1.0", ">=1.0rc1", "~=1.4.5",
    "~=1.1", "!=1.0", "==1.0+local", ">=1.0,<2", "<1.0a1", "==1.2.0.post3", "<=1.2.0.post3",
    "===1.0", "~=1.0.0", ">1.0.post1", "<2.0.1", "==1!0.5",
]  # fmt: skip


@pytest.mark.parametrize("text", SPECIFIERS)
def test_bounds_contain_every_version_a_specifier_allows(text: str) -> None:
    spec = SpecifierSet(text)
    lo, hi = _bounds([spec])
    for version in map(Version, VERSIONS):
        if spec.contains(version, prereleases=True):
            assert lo is None or version >= lo, (text, version, lo)
            assert hi is None or version <= hi, (text, version, hi)


def test_a_requirement_judges_each_version_as_contains_does() -> None:
    # Req.judge answers for many versions in one SpecifierSet.filter pass, Req.allows for
    # one (and from the table judge filled, shared by requirements of the same text): both
    # must say what contains says, pre-releases included, ``===`` by each version's text.
    versions = [*map(Version, VERSIONS), Version("1.0.0"), Version("1.01")]
    for a, b in [*itertools.combinations(SPECIFIERS, 2), *((t, "") for t in SPECIFIERS)]:
        spec = SpecifierSet(",".join(filter(None, (a, b))))
        expected = [spec.contains(v, prereleases=True) for v in versions]
        _verdict_table.cache_clear()  # each way from an empty table
        alone = Req("lib", spec)
        assert [alone.allows(v) for v in reversed(versions)] == expected[::-1], spec
        _verdict_table.cache_clear()
        judged, same = Req("lib", spec), Req("other", SpecifierSet(str(spec)))
        judged.judge(versions[::2])
        judged.judge(versions)
        assert [judged.allows(v) for v in versions] == expected, spec
        assert [same.allows(v) for v in versions] == expected, spec


def test_bounds_of_several_specifiers_are_their_intersection() -> None:
    for a, b in itertools.combinations(SPECIFIERS, 2):
        specs = [SpecifierSet(a), SpecifierSet(b)]
        lo, hi = _bounds(specs)
        for version in map(Version, VERSIONS):
            if all(s.contains(version, prereleases=True) for s in specs):
                assert (lo is None or version >= lo) and (hi is None or version <= hi)
    # disjoint ranges: the lower bound is above the upper one, so nothing is looked at
    lo, hi = _bounds([SpecifierSet(">=2.20"), SpecifierSet("<2")])
    assert lo is not None and hi is not None and lo > hi


@pytest.mark.parametrize(
    ("requires_python", "allowed"),
    [
        ("<=3.8", True),
        ("<3.9,>=3.6", True),
        ("!=3.12.*", True),
        ("==3.11", True),
        ("==3.8.*", True),
        ("~=3.10", True),
        ("===3.12", True),
        (">=3.12", True),
        (">3.12", False),
        (">=3.12.1", False),
        ("==3.13.*", False),
        ("~=3.13", False),
        (">=4", False),
    ],
)
def test_requires_python_counts_lower_bounds_only(requires_python: str, allowed: bool) -> None:
    assert lower_bounds_allow(SpecifierSet(requires_python), Version("3.12")) is allowed
    assert make_target("3.12", "linux_x86_64").allows_python(requires_python) is allowed


def _resolve(client: FakeClient, reqs: list[str]) -> tuple[Provider, dict[str, str] | None]:
    settings = Settings(indexes=client.indexes)
    direct = [Req.from_requirement(Requirement(r)) for r in reqs]
    fetch_loop = FetchLoop()
    provider = Provider(
        settings,
        make_target("3.11", "linux_x86_64"),
        fetch_loop,
        Finder(settings, client),
        direct,
        {},
    )
    try:
        result = Resolver(provider, BaseReporter()).resolve(direct, max_rounds=200)
    except ResolutionImpossible:
        return provider, None
    finally:
        fetch_loop.close()
    return provider, {name: str(c.version) for name, c in result.mapping.items()}


def _client(packages: dict[str, dict[str, list[str]]]) -> FakeClient:
    pages, requires = {}, {}
    for name, versions in packages.items():
        files = [wheel(name, v) for v in versions]
        pages[(INDEX.name, name)] = files
        for f, deps in zip(files, versions.values(), strict=True):
            requires[f.url] = deps
    return FakeClient(pages, requires)


def test_versions_whose_dependency_conflicts_with_the_user_are_learnt_dead() -> None:
    client = _client(
        {
            "app": {f"1.{i}": ["plugin>=1"] for i in range(6)} | {"0.9": []},
            "plugin": {"1.0": ["tracker>=2"], "1.1": ["tracker>=2"]},
            "tracker": {"1.0": [], "2.0": []},
        }
    )
    provider, pins = _resolve(client, ["app", "tracker<2"])
    assert pins == {"app": "0.9", "tracker": "1.0"}
    # both plugins were found dead once, and every app above 0.9 skipped for it
    assert provider.dead_end(Req.from_requirement(Requirement("plugin>=1"))) == (
        "plugin 1.1 requires tracker>=2, which conflicts with tracker<2 (?)"
    )


def test_unsolvable_root_is_explained_down_to_the_users_requirement() -> None:
    client = _client(
        {
            "app": {f"1.{i}": ["plugin>=1"] for i in range(3)},
            "plugin": {"1.0": ["tracker>=2"]},
            "tracker": {"1.0": [], "2.0": []},
        }
    )
    provider, pins = _resolve(client, ["app", "tracker<2"])
    assert pins is None
    app = provider.direct[0]
    assert provider.cannot_be_met(app)
    chain = provider.dead_end(app)
    assert chain is not None
    assert chain.startswith("app 1.2 requires plugin>=1; plugin 1.0 requires tracker>=2")
