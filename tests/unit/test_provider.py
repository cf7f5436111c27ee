"""The resolvelib provider: its memos give the answers the plain computation gives, and
the warm-run prefetch walks stored pages without letting them decide anything."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import replace

from packaging.requirements import Requirement
from packaging.version import Version
from resolvelib import BaseReporter, Resolver
from support.fake_client import INDEX, FakeClient, wheel

from indexgate.resolver.candidates import Candidate, Req
from indexgate.resolver.fetch_loop import FetchLoop
from indexgate.resolver.finder import Finder, VersionEntry
from indexgate.resolver.provider import Provider
from indexgate.settings import Settings
from indexgate.targets import make_target

TARGET = make_target("3.11", "linux_x86_64")


def _req(text: str) -> Req:
    return Req.from_requirement(Requirement(text))


def _provider(
    client: FakeClient, fetch_loop: FetchLoop, reqs: Sequence[str], cls=Provider
) -> Provider:
    settings = Settings(indexes=client.indexes)
    direct = [_req(r) for r in reqs]
    return cls(settings, TARGET, fetch_loop, Finder(settings, client), direct, {})


def _resolve(
    client: FakeClient, reqs: Sequence[str], cls=Provider
) -> tuple[Provider, dict[str, str]]:
    fetch_loop = FetchLoop()
    try:
        provider = _provider(client, fetch_loop, reqs, cls)
        result = Resolver(provider, BaseReporter()).resolve(provider.direct, max_rounds=500)
    finally:
        fetch_loop.close()
    return provider, {name: str(c.version) for name, c in result.mapping.items()}


def _index(packages: dict[str, dict[str, list[str]]]) -> tuple[dict, dict]:
    """name -> version -> requires: the fake's pages and its metadata."""
    pages, requires = {}, {}
    for name, versions in packages.items():
        files = [wheel(name, v) for v in versions]
        pages[("idx", name)] = files
        for f, deps in zip(files, versions.values(), strict=True):
            requires[f.url] = deps
    return pages, requires


class _Checked(Provider):
    """Asserts, every round, that the narrowed choice is get_preference's choice."""

    rounds = 0

    def narrow_requirement_selection(self, identifiers, resolutions, candidates, information,
                                     backtrack_causes) -> Iterable[str]:  # fmt: skip
        identifiers = list(identifiers)
        chosen = list(
            super().narrow_requirement_selection(
                identifiers, resolutions, candidates, information, backtrack_causes
            )
        )
        expected = min(
            identifiers,
            key=lambda i: self.get_preference(
                i, resolutions, candidates, information, backtrack_causes
            ),
        )
        assert chosen == [expected]
        type(self).rounds += 1
        return chosen


def test_the_narrowed_choice_is_get_preferences_choice_every_round() -> None:
    pages, requires = _index(
        {
            "app": {"1.0": ["a", "b", "d"]},
            "a": {"2.0": ["c<2"], "1.0": ["c"]},  # a 2.0 conflicts with b: backtracking
            "b": {"1.0": ["c>=2"]},
            "c": {"2.0": [], "1.0": []},
            "d": {"3.0": [], "2.0": [], "1.0": []},
        }
    )
    _, pins = _resolve(FakeClient(pages, requires), ["app"], _Checked)
    assert pins == {"app": "1.0", "a": "1.0", "b": "1.0", "c": "2.0", "d": "3.0"}
    assert _Checked.rounds >= 3


def test_a_requirement_is_checked_afresh_against_each_version() -> None:
    client = FakeClient({})
    fetch_loop = FetchLoop()
    try:
        provider = _provider(client, fetch_loop, [])
        req = _req("lib>=2")

        def candidate(version: str) -> Candidate:
            return Candidate("lib", Version(version), wheel("lib", version), INDEX, None)  # type: ignore[arg-type]

        answers = [provider.is_satisfied_by(req, candidate(v)) for v in ("1.0", "2.0", "1.0")]
    finally:
        fetch_loop.close()
    assert answers == [False, True, False]


def test_skipped_files_are_counted_once_whatever_the_requirement_sets() -> None:
    pages, requires = _index(
        {"app": {"1.0": ["x", "y"]}, "x": {"1.0": ["lib>=1"]}, "y": {"1.0": ["lib<3"]}}
    )
    pages[("idx", "lib")] = [wheel("lib", "2.0", requires_python=">=3.12"), wheel("lib", "1.0")]
    provider, pins = _resolve(FakeClient(pages, requires), ["app"])
    assert pins["lib"] == "1.0"
    assert provider.findings.excluded["lib"] == {"requires Python >=3.12": 1}


def test_a_stored_entry_never_lends_its_files_to_the_revalidated_one() -> None:
    client = FakeClient({})
    fetch_loop = FetchLoop()
    try:
        provider = _provider(client, fetch_loop, [])
        old, new = wheel("lib", "1.0"), wheel("lib", "1.0", tag="cp311-cp311-manylinux1_x86_64")
        stored = VersionEntry(Version("1.0"), INDEX, (old,))
        fresh = VersionEntry(Version("1.0"), INDEX, (old, new))
        none: frozenset = frozenset()
        assert provider._files_for_target("lib", stored, none, none)[0] == (old,)
        assert provider._files_for_target("lib", fresh, none, none)[0] == (new,)  # best tag
    finally:
        fetch_loop.close()


CHAIN = {"app": {"1.0": ["lib-b"]}, "lib-b": {"1.0": ["lib-c"]}, "lib-c": {"1.0": []}}


def test_a_warm_run_asks_for_deep_pages_while_the_first_page_revalidates() -> None:
    pages, requires = _index(CHAIN)
    client = FakeClient(pages, requires, stored=pages)
    client.hold["app"] = ("lib-c", asyncio.Event())  # app's answer waits for lib-c's ask
    _, pins = _resolve(client, ["app"])
    assert pins == {"app": "1.0", "lib-b": "1.0", "lib-c": "1.0"}
    assert "gave up waiting for lib-c" not in client.log
    assert client.log.index("ask lib-c") < client.log.index("answer app")


def test_without_stored_pages_each_level_waits_for_the_one_above() -> None:
    pages, requires = _index(CHAIN)
    client = FakeClient(pages, requires)  # a cold run: nothing stored
    _, pins = _resolve(client, ["app"])
    assert pins == {"app": "1.0", "lib-b": "1.0", "lib-c": "1.0"}
    assert client.log.index("answer lib-b") < client.log.index("ask lib-c")


def test_the_resolver_uses_the_revalidated_page_not_the_stored_one() -> None:
    pages, requires = _index(CHAIN)
    stored = dict(pages)
    pages[("idx", "lib-c")] = [wheel("lib-c", "2.0"), *pages[("idx", "lib-c")]]  # published
    stored[("idx", "lib-b")] = [wheel("lib-b", "0.9")]  # what lib-b's page said last time
    requires[stored[("idx", "lib-b")][0].url] = ["lib-d"]
    client = FakeClient(pages, requires, stored=stored)
    _, pins = _resolve(client, ["app"])
    assert pins == {"app": "1.0", "lib-b": "1.0", "lib-c": "2.0"}
    # The stored pages were walked (the old pick's dependency was asked for) all the same.
    assert "ask lib-d" in client.log


def _entries_of(provider: Provider, reqs: Sequence[Req]) -> list[str]:
    return [str(e.version) for e in provider._entries("lib", list(reqs))]


def test_entries_narrowed_from_the_set_before_are_the_fully_computed_ones() -> None:
    versions = ["3.0", "2.1", "2.0rc1", "2.0", "1.5", "1.0"]
    pages = {("idx", "lib"): [wheel("lib", v) for v in versions]}
    reqs = [_req("lib>=1.5"), _req("lib"), _req("lib!=2.1"), _req("lib<3")]
    fetch_loop = FetchLoop()
    try:
        stepwise = _provider(FakeClient(pages), fetch_loop, [])
        steps = [_entries_of(stepwise, reqs[: n + 1]) for n in range(len(reqs))]
        assert stepwise._narrowed("lib", reqs) is not None  # the narrowing path is taken
        for n in range(len(reqs)):
            fresh = _provider(FakeClient(pages), fetch_loop, [])
            assert fresh._narrowed("lib", reqs[: n + 1]) is None  # nothing to narrow from
            assert steps[n] == _entries_of(fresh, reqs[: n + 1])
    finally:
        fetch_loop.close()
    assert steps[-1] == ["2.0", "1.5", "2.0rc1"]  # finals first, then the pre-release


def test_a_requirement_with_hashes_is_never_narrowed_from_the_set_before() -> None:
    good, other = wheel("lib", "2.0"), wheel("lib", "1.0", digest="1" * 64)
    pages = {("idx", "lib"): [good, other]}
    hashed = Req.from_requirement(Requirement("lib"), hashes=(f"sha256:{'1' * 64}",))
    fetch_loop = FetchLoop()
    try:
        provider = _provider(FakeClient(pages), fetch_loop, [])
        plain = _req("lib")
        assert _entries_of(provider, [plain]) == ["2.0", "1.0"]
        assert provider._narrowed("lib", [plain, hashed]) is None
        assert _entries_of(provider, [plain, hashed]) == ["1.0"]  # its hash's file
    finally:
        fetch_loop.close()


def test_finals_come_before_prereleases_unless_pre() -> None:
    versions = ["3.0a1", "2.0", "2.0b2", "1.0", "0.9.dev1"]
    entries = [VersionEntry(Version(v), INDEX, (wheel("lib", v),)) for v in versions]
    fetch_loop = FetchLoop()
    try:
        for pre in (False, True):
            settings = Settings(indexes=(INDEX,), pre=pre)
            provider = Provider(
                settings, TARGET, fetch_loop, Finder(settings, FakeClient({})), [], {}
            )
            order = [str(e.version) for e in provider._in_prerelease_order(entries)]
            assert order == (versions if pre else ["2.0", "1.0", "3.0a1", "2.0b2", "0.9.dev1"])
    finally:
        fetch_loop.close()


class _ReadOverNetwork(FakeClient):
    """Metadata read from the file itself this run (not the cache): no probe is needed."""

    def __init__(self, *args, hide_reads: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.hide_reads = hide_reads  # as if no read were ever started before the ask

    async def _metadata(self, file):
        return replace(await super()._metadata(file), from_cache=False)

    def metadata_started(self, file):
        return None if self.hide_reads else super().metadata_started(file)


class _Counting(FetchLoop):
    """Counts the fetches made through a task (``run``), not taken as they were."""

    def __init__(self) -> None:
        super().__init__()
        self.runs = 0

    def run(self, factory):
        self.runs += 1
        return super().run(factory)


def test_metadata_read_already_is_taken_as_the_loop_would_have_given_it() -> None:
    packages = {
        "app": {"1.0": ["lib-b", "lib-c<2"]},
        "lib-b": {"2.0": ["lib-c>=2"], "1.0": ["lib-c"]},  # backtracks: lib-b 2.0 fails
        "lib-c": {"2.0": [], "1.0": []},
    }
    outcomes, runs = [], []
    for hide in (False, True):
        pages, requires = _index(packages)  # wheels without a .metadata file: read from them
        pages = {k: [replace(f, metadata_hashes=None) for f in v] for k, v in pages.items()}
        client = _ReadOverNetwork(pages, requires, hide_reads=hide)
        fetch_loop = _Counting()
        try:
            for _ in range(2):  # the second pass finds every read over (settle's case)
                provider = _provider(client, fetch_loop, ["app"])
                fetch_loop.runs = 0
                result = Resolver(provider, BaseReporter()).resolve(provider.direct, max_rounds=50)
        finally:
            fetch_loop.close()
        pins = {name: str(c.version) for name, c in result.mapping.items()}
        outcomes.append((pins, sorted(provider._prepared), client.log.count("probe")))
        runs.append(fetch_loop.runs)
    assert runs[0] < runs[1]  # the reads were taken as they were (listings are, both times)
    assert outcomes[0] == outcomes[1]
    assert outcomes[0][0] == {"app": "1.0", "lib-b": "1.0", "lib-c": "1.0"}


def test_arbitrary_equality_is_answered_by_each_versions_text_not_remembered() -> None:
    # 1.0 == 1.0.0 as versions, but ``===1.0`` compares texts: a verdict remembered for one
    # must never answer for the other.
    from packaging.specifiers import SpecifierSet

    short = VersionEntry(Version("1.0"), INDEX, ())
    long = VersionEntry(Version("1.0.0"), INDEX, ())
    fetch_loop = FetchLoop()
    try:
        provider = _provider(FakeClient({}), fetch_loop, [])
        arbitrary = Req("lib", SpecifierSet("===1.0"))
        assert provider._allowed(arbitrary, [short]) == [short]
        assert provider._allowed(arbitrary, [long]) == []
        assert provider._allowed(Req("lib", SpecifierSet("==1.0")), [long]) == [long]
    finally:
        fetch_loop.close()
