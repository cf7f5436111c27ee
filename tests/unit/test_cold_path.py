"""Pieces of the cold run's critical path that need no server (issue 15): background
requests (probes) queue behind the others for a host's slots, and a cold cache creates
few folders (each costs as much as a file), and the resolver remembers its pin checks."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from resolvelib import AbstractProvider, BaseReporter, Resolver

from indexgate.index.cache import FileCache
from indexgate.index.http import Response
from indexgate.index.limits import HostLimit
from indexgate.index.transport.headers import Headers
from indexgate.resolver.pins import PinMemoResolver

# --- background requests --------------------------------------------------------------------


def test_a_waiting_request_gets_a_freed_slot_before_a_waiting_background_one() -> None:
    async def scenario() -> list[str]:
        limit = HostLimit(2)
        assert limit.take() and limit.take()  # both slots in use
        order: list[str] = []

        async def wait(name: str, background: bool) -> None:
            await limit.acquire(background)
            order.append(name)

        probe = asyncio.ensure_future(wait("probe", True))  # queued first
        await asyncio.sleep(0)
        page = asyncio.ensure_future(wait("page", False))
        await asyncio.sleep(0)
        limit.release()  # one slot frees: the page takes it, though it queued later
        await asyncio.sleep(0)
        assert order == ["page"]
        limit.release()
        limit.release()  # the page is done: now the probe
        await asyncio.gather(probe, page)
        return order

    assert asyncio.run(scenario()) == ["page", "probe"]


def test_background_requests_leave_a_quarter_of_the_slots_to_the_others() -> None:
    limit = HostLimit(8)
    taken = 0
    while limit.take(background=True):
        taken += 1
    assert taken == 6  # 8 - 8 // 4
    assert limit.take() and limit.take()  # the reserved two, for pages and metadata
    assert not limit.take()


def test_queued_background_requests_are_let_in_up_to_their_share_only() -> None:
    async def scenario() -> tuple[int, int]:
        limit = HostLimit(4)
        for _ in range(4):
            assert limit.take()
        probes = [asyncio.ensure_future(limit.acquire(background=True)) for _ in range(4)]
        await asyncio.sleep(0)
        for _ in range(4):
            limit.release()  # every slot free: the probes may fill three of the four
        await asyncio.sleep(0)
        let_in = sum(p.done() for p in probes)
        page_got_one = limit.take()  # the slot kept for pages and metadata
        for p in probes:
            p.cancel()
        await asyncio.gather(*probes, return_exceptions=True)
        return let_in, int(page_got_one)

    assert asyncio.run(scenario()) == (3, 1)


# --- the cache's folders --------------------------------------------------------------------


def test_a_cold_cache_of_hundreds_of_entries_creates_sixteen_folders_per_kind(
    tmp_path: Path,
) -> None:
    cache = FileCache(tmp_path)
    for i in range(300):
        url = f"https://pkgs.example/simple/p{i}/"
        cache.store("GET", url, {}, Response(url, 200, "OK", Headers({"etag": '"e"'}), b"x"))
        cache.put_blob("metadata", f"{i:064x}"[::-1], b"Metadata-Version: 2.1")
    for kind in ("answers", "blob/metadata"):
        folders = [p for p in (tmp_path / "v1" / kind).iterdir() if p.is_dir()]
        assert len(folders) <= 16, kind
        assert sum(len(list(f.iterdir())) for f in folders) == 300
    hit = cache.lookup("GET", "https://pkgs.example/simple/p7/", {})
    assert hit is not None and hit.validators == {"If-None-Match": '"e"'}


# --- the resolver's pin checks --------------------------------------------------------------


class _Toy(AbstractProvider):  # type: ignore[misc]
    """An in-memory index: name -> version -> dependencies (name, allowed versions)."""

    def __init__(self, index: dict[str, dict[int, list[tuple[str, set[int]]]]]) -> None:
        self.index = index
        self.checks = 0

    def identify(self, requirement_or_candidate: tuple[str, Any]) -> str:
        return requirement_or_candidate[0]

    def get_preference(self, identifier: str, *args: Any, **kwargs: Any) -> str:
        return identifier

    def find_matches(self, identifier: str, requirements: Any, incompatibilities: Any) -> Any:
        allowed = set(self.index[identifier])
        for _, versions in requirements[identifier]:
            allowed &= versions
        bad = {v for _, v in incompatibilities[identifier]}
        return [(identifier, v) for v in sorted(allowed - bad, reverse=True)]

    def is_satisfied_by(self, requirement: tuple[str, set[int]], candidate: Any) -> bool:
        self.checks += 1
        return candidate[1] in requirement[1]

    def get_dependencies(self, candidate: tuple[str, int]) -> list[tuple[str, set[int]]]:
        return self.index[candidate[0]][candidate[1]]


def _toy_graph() -> dict[str, dict[int, list[tuple[str, set[int]]]]]:
    """40 packages in a chain of pairs, and a conflict that forces backtracking: the
    newest ``top`` needs ``base`` 2, which ``mid``'s newest version rules out."""
    index: dict[str, dict[int, list[tuple[str, set[int]]]]] = {
        "top": {2: [("base", {2}), ("mid", {1, 2})], 1: [("base", {1, 2}), ("mid", {1, 2})]},
        "mid": {2: [("base", {1})], 1: [("base", {1, 2})]},
        "base": {1: [], 2: []},
    }
    for i in range(40):
        index[f"p{i}"] = {1: [("base", {1, 2})] + ([(f"p{i + 1}", {1})] if i < 39 else [])}
        index["top"][2].append((f"p{i}", {1}))
        index["top"][1].append((f"p{i}", {1}))
    return index


def test_remembered_pin_checks_give_resolvelibs_resolution_with_fewer_checks() -> None:
    plain, memo = _Toy(_toy_graph()), _Toy(_toy_graph())
    expected = Resolver(plain, BaseReporter()).resolve([("top", {1, 2})], max_rounds=500)
    got = PinMemoResolver(memo, BaseReporter()).resolve([("top", {1, 2})], max_rounds=500)
    assert got.mapping == expected.mapping
    assert expected.mapping["top"] == ("top", 2) and expected.mapping["mid"] == ("mid", 1)
    assert memo.checks < plain.checks / 2


# --- the first requests -----------------------------------------------------------------


class _Started(Exception):
    pass


def test_check_asks_the_direct_requirements_pages_before_it_loads_the_resolver(
    monkeypatch: Any,
) -> None:
    # A cold run's first answers are a round trip away and loading the resolver is CPU:
    # the pages of the direct requirements (those whose marker holds) are asked first.
    from types import SimpleNamespace

    from packaging.requirements import Requirement
    from support.fake_client import FakeClient, wheel

    from indexgate.errors import Origin
    from indexgate.resolver import resolve
    from indexgate.resolver.fetch_loop import FetchLoop
    from indexgate.settings import Settings
    from indexgate.sources.model import SourceRequirement, SourceSet
    from indexgate.targets import make_target

    client = FakeClient({("idx", "a"): [wheel("a", "1.0")], ("idx", "b"): [wheel("b", "1.0")]})
    settings = Settings(indexes=client.indexes, targets=(make_target("3.11", "linux_x86_64"),))
    origin = Origin("requirements.txt", 1)
    sources = SourceSet(
        requirements=[
            SourceRequirement(Requirement("a"), origin),
            SourceRequirement(Requirement('b; python_version < "3"'), origin),
        ]
    )

    @contextlib.contextmanager
    def session(settings: Settings, *, only_usable: bool = False) -> Any:
        fetch_loop = FetchLoop()
        try:
            yield resolve.Session(settings, fetch_loop, None, client)  # type: ignore[arg-type]
        finally:
            fetch_loop.close()

    asked_by_then: list[list[str]] = []

    def start_target(*_: object) -> None:
        asked_by_then.append([e for e in client.log if e.startswith("ask ")])
        raise _Started

    monkeypatch.setattr(resolve, "open_session", session)
    monkeypatch.setattr(resolve, "start_target", start_target)
    monkeypatch.setattr(client, "http", SimpleNamespace(cache=None))  # no reuse
    monkeypatch.setattr(client, "prove", None, raising=False)  # no credentials to prove
    with contextlib.suppress(_Started):
        resolve.check(settings, sources)
    assert asked_by_then == [["ask a"]]
