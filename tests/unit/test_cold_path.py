"""Pieces of the cold run's critical path that need no server (issue 15): background
requests (probes) queue behind the others for a host's slots, and the cache's write-behind
thread keeps every entry readable, in order, until it is on disk."""

from __future__ import annotations

import asyncio
from pathlib import Path

from indexgate.index import cache as cache_mod
from indexgate.index.cache import FileCache
from indexgate.index.http import Response
from indexgate.index.limits import HostLimit
from indexgate.index.transport.headers import Headers
from indexgate.index.writebehind import WriteBehind

PAGE = "https://pkgs.example/simple/flask/"
ACCEPT = {"Accept": "text/html"}


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


# --- the write-behind cache ----------------------------------------------------------------


def _page(etag: str) -> Response:
    return Response(PAGE, 200, "OK", Headers({"etag": etag}), b"<html>flask</html>")


def test_an_entry_is_read_back_before_and_after_the_writer_put_it_on_disk(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, write_behind=True)
    cache.store("GET", PAGE, ACCEPT, _page('"v1"'))
    hit = cache.lookup("GET", PAGE, ACCEPT)  # written or not yet: the same entry
    assert hit is not None and hit.validators == {"If-None-Match": '"v1"'}
    assert hit.response.content == b"<html>flask</html>"
    cache.close()
    on_disk = FileCache(tmp_path).lookup("GET", PAGE, ACCEPT)
    assert on_disk is not None and on_disk.validators == {"If-None-Match": '"v1"'}


def test_the_last_change_of_a_path_wins_in_the_order_given(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, write_behind=True)
    cache.store("GET", PAGE, ACCEPT, _page('"v1"'))
    cache.store("GET", PAGE, ACCEPT, _page('"v2"'))
    cache.put_blob("meta", "ab" * 32, b"first")
    cache.put_blob("meta", "ab" * 32, b"second")
    forbidden = Response(PAGE, 403, "Forbidden", Headers({}), b"")
    cache.store("GET", PAGE + "x/", ACCEPT, _page('"x"'))
    cache.store("GET", PAGE + "x/", ACCEPT, forbidden)  # a 403 removes the entry
    assert cache.get_blob("meta", "ab" * 32) == b"second"
    assert cache.lookup("GET", PAGE + "x/", ACCEPT) is None
    cache.close()
    again = FileCache(tmp_path)
    hit = again.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.validators == {"If-None-Match": '"v2"'}
    assert again.get_blob("meta", "ab" * 32) == b"second"
    assert again.lookup("GET", PAGE + "x/", ACCEPT) is None


def test_every_change_is_made_by_the_time_drain_returns(tmp_path: Path) -> None:
    made: list[tuple[str, str]] = []
    writer = WriteBehind(
        lambda path, meta, body: made.append(("write", path.name)),
        lambda path: made.append(("remove", path.name)),
    )
    for i in range(50):
        writer.write(tmp_path / f"e{i}", {}, b"x")
    writer.remove(tmp_path / "e3")
    writer.drain()
    assert made == [("write", f"e{i}") for i in range(50)] + [("remove", "e3")]
    assert writer.pending(tmp_path / "e7") == (False, None)


def test_a_cache_without_write_behind_writes_at_once(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.store("GET", PAGE, ACCEPT, _page('"v1"'))
    assert any(p.is_file() for p in (tmp_path / "v1" / "http").rglob("*"))
    cache_mod.FileCache.close(cache)  # nothing to wait for
