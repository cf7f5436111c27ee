"""Deadlines, caps and throttling of ``HttpClient`` against real sockets on 127.0.0.1: the
scripted server of ``tests.support.scripted_server`` drips, never ends a chunked body,
sends more than the caps allow, and throttles with 429/503 and ``Retry-After``.

Deadlines here are fractions of a second; nothing asserts a duration, only the outcome,
the limit named and what the server saw.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from support.scripted_server import (
    ScriptedServer,
    drip,
    endless_chunks,
    http_date_in,
    huge,
    slow,
    throttle,
)

from indexgate.errors import DeadlineExceeded, IndexUnreachable, Throttled
from indexgate.index import limits
from indexgate.index.http import METADATA_MAX_BODY, HttpClient


def run(go: Callable[[HttpClient], Awaitable[Any]], **kwargs: Any) -> Any:
    async def main() -> Any:
        http = HttpClient(**{"backoff": 0.0, **kwargs})
        try:
            return await go(http)
        finally:
            await http.aclose()

    return asyncio.run(main())


def get(server: ScriptedServer, path: str, **kwargs: Any) -> Any:
    return run(lambda http: http.request("GET", server.url + path.lstrip("/")), **kwargs)


# --- deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [drip(0.05), endless_chunks()], ids=["drip", "endless"])
def test_a_body_that_never_ends_meets_the_request_deadline(
    server: ScriptedServer, hostile: Any
) -> None:
    server.routes["/simple/x/"] = hostile
    # Each byte comes well within the idle-read timeout: only the total deadline ends it.
    with pytest.raises(DeadlineExceeded) as info:
        get(server, "/simple/x/", timeout=5.0, request_timeout=0.5)
    assert info.value.limit == "--timeout"
    assert f"GET {server.url}simple/x/" in str(info.value)
    assert "the request deadline (--timeout 0.5 s) ran out" in str(info.value)
    assert server.hits["/simple/x/"] == 1, "the deadline covers retries: none was started"


def test_time_queued_behind_the_hosts_other_requests_is_not_the_requests_own(
    server: ScriptedServer,
) -> None:
    for i in range(3):
        server.routes[f"/slow/{i}"] = slow(0.3)

    async def go(http: HttpClient) -> list[int]:
        urls = [server.url + f"slow/{i}" for i in range(3)]
        return [r.status for r in await asyncio.gather(*(http.request("GET", u) for u in urls))]

    # One at a time: the last one waits twice its own time for a slot, then gets its own
    # full --timeout (which the three together would exceed).
    assert run(go, concurrency=1, request_timeout=0.8) == [200, 200, 200]
    assert server.most_in_flight == 1


def test_the_run_deadline_bounds_the_wait_for_a_slot(server: ScriptedServer) -> None:
    server.routes["/simple/x/"] = drip(0.05)

    async def go(http: HttpClient) -> list[Any]:
        urls = [server.url + "simple/x/", server.url + "ok/queued"]
        return await asyncio.gather(*(http.request("GET", u) for u in urls), return_exceptions=True)

    first, queued = run(go, concurrency=1, request_timeout=30.0, max_time=0.5)
    assert isinstance(first, DeadlineExceeded) and first.limit == "--max-time"
    assert isinstance(queued, DeadlineExceeded) and "ok/queued" in str(queued)
    assert "--max-time 0.5 s" in str(queued)
    assert server.hits["/ok/queued"] == 0, "it never got a slot"


def test_the_run_deadline_ends_a_request_before_its_own_deadline(server: ScriptedServer) -> None:
    server.routes["/simple/x/"] = drip(0.05)
    with pytest.raises(DeadlineExceeded, match=r"the run deadline \(--max-time 0.5 s\)") as info:
        get(server, "/simple/x/", request_timeout=30.0, max_time=0.5)
    assert info.value.limit == "--max-time"


def test_after_the_run_deadline_no_request_is_sent(server: ScriptedServer) -> None:
    async def go(http: HttpClient) -> None:
        await asyncio.sleep(0.3)
        await http.request("GET", server.url + "ok/late")

    with pytest.raises(DeadlineExceeded, match="--max-time"):
        run(go, max_time=0.2)
    assert server.requests == []


def test_retries_keep_their_backoff_inside_the_deadline(server: ScriptedServer) -> None:
    # 503 without Retry-After is retried with backoff; a backoff that would end past the
    # deadline is not slept: the request fails at once, naming the deadline and the error.
    with pytest.raises(DeadlineExceeded, match=r"--timeout 0.5 s.*last error: HTTP 503"):
        get(server, "/status/503", request_timeout=0.5, backoff=10.0, retries=5)
    assert server.hits["/status/503"] == 1


# --- caps -----------------------------------------------------------------------------------


def test_metadata_has_a_smaller_cap_than_pages(server: ScriptedServer) -> None:
    size = METADATA_MAX_BODY + 1024
    server.routes["/big.whl.metadata"] = huge(size)
    server.routes["/big-page/"] = huge(size)

    async def go(http: HttpClient) -> int:
        page = await http.request("GET", server.url + "big-page/")
        with pytest.raises(IndexUnreachable, match="larger than 20 MiB") as info:
            await http.request("GET", server.url + "big.whl.metadata", max_body=METADATA_MAX_BODY)
        assert "not retried" in str(info.value)
        return len(page.content)

    assert run(go) == size
    assert server.hits["/big.whl.metadata"] == 1


def test_an_endless_chunked_body_stops_at_the_cap(server: ScriptedServer) -> None:
    server.routes["/simple/x/"] = endless_chunks(b"y" * 65536, pause=0)
    with pytest.raises(IndexUnreachable, match=r"larger than 1 MiB.*--max-body-size"):
        get(server, "/simple/x/", max_body=1 << 20)
    assert server.hits["/simple/x/"] == 1


# --- throttling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "1"), (429, "date"), (503, "0"), (429, None)],
    ids=["429-seconds", "429-http-date", "503-seconds", "429-no-retry-after"],
)
def test_throttling_is_waited_out_then_retried(
    server: ScriptedServer, status: int, retry_after: str | None
) -> None:
    value = http_date_in(1) if retry_after == "date" else retry_after
    server.routes["/simple/x/"] = throttle(1, status=status, retry_after=value)
    response = get(server, "/simple/x/", request_timeout=20.0)
    assert response.status == 200 and response.content == b"/simple/x/"
    assert server.hits["/simple/x/"] == 2


def test_a_503_with_retry_after_is_not_counted_as_a_failure(server: ScriptedServer) -> None:
    # Three throttled answers, with a retry budget of two failures: still a success.
    server.routes["/simple/x/"] = throttle(3, status=503, retry_after="0")
    assert get(server, "/simple/x/", retries=2).status == 200


GAR = json.dumps(
    {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota)."}}
).encode()


def test_throttled_until_the_deadline_says_so_with_the_index_words(
    server: ScriptedServer,
) -> None:
    server.routes["/simple/x/"] = throttle(
        None, retry_after="0.2", body=GAR, content_type="application/json"
    )
    # "0.2" is not a valid Retry-After: exponential backoff from half a second applies.
    with pytest.raises(Throttled) as info:
        get(server, "/simple/x/", request_timeout=1.0)
    message = str(info.value)
    assert "throttled" in message
    assert '"Resource has been exhausted (e.g. check quota)."' in message
    assert "--timeout 1 s" in message and info.value.limit == "--timeout"
    assert 1 <= server.hits["/simple/x/"] <= 3


def test_a_retry_after_beyond_the_deadline_fails_at_once(server: ScriptedServer) -> None:
    server.routes["/simple/x/"] = throttle(None, retry_after="120", body=b"slow down")
    with pytest.raises(Throttled, match=r'"slow down" and asked for 120 s more.*--timeout 5 s'):
        get(server, "/simple/x/", request_timeout=5.0)
    assert server.hits["/simple/x/"] == 1


def test_requests_held_back_by_a_hosts_retry_after_say_throttled_at_the_deadline(
    server: ScriptedServer,
) -> None:
    server.routes["/simple/a/"] = throttle(None, retry_after="30", body=b"quota exceeded")

    async def go(http: HttpClient) -> Exception:
        with pytest.raises(Throttled, match="asked for 30 s more"):
            await http.request("GET", server.url + "simple/a/")
        try:
            await http.request("GET", server.url + "ok/b")  # held until the host's pause ends
        except Exception as exc:
            return exc
        raise AssertionError("not held back")

    held = run(go, max_time=1.0)
    assert isinstance(held, Throttled)
    assert f"GET {server.url}ok/b: throttled: the run deadline (--max-time 1 s) ran out" in str(
        held
    )
    assert '"quota exceeded"' in str(held)
    assert server.hits["/ok/b"] == 0


def test_throttle_retries_are_bounded(server: ScriptedServer) -> None:
    server.routes["/simple/x/"] = throttle(None, retry_after="0")
    with pytest.raises(Throttled, match="after 8 waits"):
        get(server, "/simple/x/")
    assert server.hits["/simple/x/"] == limits.MAX_THROTTLES + 1


def test_a_429_halves_the_requests_in_flight_to_that_host(server: ScriptedServer) -> None:
    server.routes["/throttled"] = throttle(1, retry_after="0")
    for i in range(16):
        server.routes[f"/slow/{i}"] = slow(0.1)

    async def burst(http: HttpClient, first: str | None) -> int:
        if first:
            assert (await http.request("GET", server.url + first)).status == 200
        server.most_in_flight = 0
        urls = [server.url + f"slow/{i}" for i in range(16)]
        answers = await asyncio.gather(*(http.request("GET", u) for u in urls))
        assert {r.status for r in answers} == {200}
        return server.most_in_flight

    assert run(lambda http: burst(http, None), concurrency=8) == 8  # the control
    assert run(lambda http: burst(http, "throttled"), concurrency=8) <= 4
