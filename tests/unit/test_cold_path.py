"""Pieces of the cold run's critical path that need no server (issue 15): background
requests (probes) queue behind the others for a host's slots, and a cold cache creates
few folders (each costs as much as a file)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from indexgate.index.cache import FileCache
from indexgate.index.http import Response
from indexgate.index.limits import HostLimit
from indexgate.index.transport.headers import Headers

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
    for kind in ("http", "blob/metadata"):
        folders = [p for p in (tmp_path / "v1" / kind).iterdir() if p.is_dir()]
        assert len(folders) <= 16, kind
        assert sum(len(list(f.iterdir())) for f in folders) == 300
    hit = cache.lookup("GET", "https://pkgs.example/simple/p7/", {})
    assert hit is not None and hit.validators == {"If-None-Match": '"e"'}
