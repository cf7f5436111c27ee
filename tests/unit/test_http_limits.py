"""The pieces of throttling that need no server: reading ``Retry-After``, quoting what the
index said, the per-host concurrency that halves on a 429 and recovers, and the run
deadline checked between the resolver's waits. The behaviour against real sockets is in
tests/integration/test_http_deadlines.py and test_check_deadlines.py."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections.abc import AsyncIterator

import pytest
from support.mock_transport import MockTransport, mock_http2

from indexgate.config import parse_size
from indexgate.errors import DeadlineExceeded, IndexUnreachable, InputError, name_index
from indexgate.index.http import HttpClient
from indexgate.index.limits import HostLimit, index_words, retry_after
from indexgate.index.transport.base import RawResponse
from indexgate.index.transport.headers import Headers
from indexgate.resolver.fetch_loop import FetchLoop


def _raw(
    status: int, body: bytes, content_type: str = "text/plain", reason: str = ""
) -> RawResponse:
    return RawResponse(status, reason, Headers({"content-type": content_type}), body)


# --- Retry-After ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("0", 0.0), ("7", 7.0), (" 30 ", 30.0), ("99999999999999", 1e9)],
)
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert retry_after(Headers({"retry-after": value})) == seconds


def test_retry_after_as_an_http_date_counts_from_the_answers_own_date() -> None:
    server_now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    later = server_now + dt.timedelta(seconds=42)
    headers = Headers(
        {
            "retry-after": email.utils.format_datetime(later, usegmt=True),
            "date": email.utils.format_datetime(server_now, usegmt=True),
        }
    )
    assert retry_after(headers) == 42.0  # the local clock (years later) does not count


def test_retry_after_as_an_http_date_without_date_counts_from_now() -> None:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=100)
    wait = retry_after(Headers({"retry-after": email.utils.format_datetime(soon, usegmt=True)}))
    assert wait is not None and 90 <= wait <= 100
    past = email.utils.format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), usegmt=True)
    assert retry_after(Headers({"retry-after": past})) == 0.0


@pytest.mark.parametrize("value", ["", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_an_unusable_retry_after_is_none(value: str) -> None:
    assert retry_after(Headers({"retry-after": value})) is None
    assert retry_after(Headers()) is None


# --- the index's own words ------------------------------------------------------------------


def test_index_words_quote_a_json_error_message() -> None:
    message = "Resource has been exhausted (e.g. check quota)."
    error = {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}
    body = json.dumps({"error": error}).encode()  # as Google Artifact Registry answers
    words = index_words(_raw(429, body, "application/json", "Too Many Requests"))
    assert words == 'HTTP 429 Too Many Requests: "Resource has been exhausted (e.g. check quota)."'


def test_index_words_take_the_text_of_an_html_page_redacted_and_truncated() -> None:
    body = (
        b"<html><head><style>p {color: red}</style></head><body><h1>Rate limited</h1>"
        b"<p>Retry later via https://ci:hunter2@nexus.example/ &amp; slow down "
        + b"x" * 500
        + b"</p></body></html>"
    )
    words = index_words(_raw(429, body, "text/html"))
    assert words.startswith('HTTP 429: "Rate limited Retry later via https://')
    assert "hunter2" not in words and "color" not in words and "&amp;" not in words
    assert len(words) < 260 and words.endswith('…"')


def test_index_words_fall_back_to_the_reason_phrase() -> None:
    assert (
        index_words(_raw(503, b"", reason="Service Unavailable")) == "HTTP 503 Service Unavailable"
    )
    binary = _raw(429, b"\x00\x01", "application/octet-stream", "Too Many Requests")
    assert index_words(binary) == "HTTP 429 Too Many Requests"


# --- per-host concurrency -------------------------------------------------------------------


def test_a_429_halves_the_hosts_concurrency_once_per_burst_and_successes_restore_it() -> None:
    limit = HostLimit(16)
    limit.throttled(None, "HTTP 429")
    limit.throttled(None, "HTTP 429")  # the same burst: no second cut
    assert limit.allowed == 8
    assert limit.throttling()
    limit.succeeded()  # right after a throttle: no recovery yet
    assert limit.allowed == 8
    limit._last -= 60  # a quiet minute later
    for _ in range(7):  # additive increase: one more per `allowed` successes
        limit.succeeded()
    assert 8 < limit.allowed < 10
    for _ in range(500):
        limit.succeeded()
    assert limit.allowed == 16 and not limit.throttling()


def test_the_host_limit_holds_requests_beyond_the_allowed_number() -> None:
    async def go() -> tuple[int, int]:
        limit = HostLimit(4)
        limit.throttled(None, "HTTP 429")  # 2 allowed
        started: list[int] = []

        async def one(i: int) -> None:
            await limit.acquire()
            started.append(i)
            await asyncio.sleep(0.01)
            limit.release()

        tasks = [asyncio.ensure_future(one(i)) for i in range(6)]
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        first = len(started)
        cancelled = tasks[-1]
        cancelled.cancel()  # a request that gives up while waiting frees nothing it lacks
        await asyncio.gather(*tasks, return_exceptions=True)
        return first, len(started) + limit.active

    first, finished = asyncio.run(go())
    assert first == 2
    assert finished == 5  # five ran, none is left holding a slot


def test_a_retry_after_holds_every_new_request_to_the_host() -> None:
    limit = HostLimit(8)
    limit.throttled(30.0, "HTTP 503")
    assert limit.resume_at > 0 and limit.throttling()


# --- the run deadline in the fetch_loop --------------------------------------------------------


def test_the_bridge_ends_a_run_whose_deadline_passed_between_waits() -> None:
    http = HttpClient(max_time=0.0001)
    http.index_names["https://idx.example/simple/"] = "internal"
    http._last_request = "GET https://u:pw@idx.example/simple/x/"  # as request() notes it
    fetch_loop = FetchLoop()
    fetch_loop.check = http.check_run_deadline

    async def nothing() -> int:
        return 1

    try:
        with pytest.raises(DeadlineExceeded, match=r"--max-time") as info:
            fetch_loop.run(nothing)
        assert info.value.limit == "--max-time"
        assert isinstance(info.value, IndexUnreachable)  # exit 3
        assert str(info.value).startswith("index 'internal': the run deadline (--max-time")
        assert "the last request: GET https://idx.example/simple/x/" in str(info.value)
    finally:
        fetch_loop.close()  # cleaning up is not subject to the deadline


def test_name_index_prefixes_once() -> None:
    exc = IndexUnreachable("GET http://x/: no complete answer")
    assert name_index(name_index(exc, "internal"), "other") is exc
    assert str(exc) == "index 'internal': GET http://x/: no complete answer"


# --- the cap on a body that streams without end (a mock at the Transport seam) ---------------


def test_the_httpx_path_refuses_a_body_over_the_cap_as_it_streams() -> None:
    """``HttpClient`` over the tests' httpx transport at the seam (``mock_http2``), fed an
    endless body no real server test can bound: the cap stops it and it is not retried.
    indexgate's own HTTP/2 client keeps the cap against a real h2 server
    (tests/integration/test_http2_client.py)."""
    import httpx

    def endless(request: httpx.Request) -> httpx.Response:
        async def chunks() -> AsyncIterator[bytes]:
            while True:
                yield b"z" * 4096

        return httpx.Response(200, content=chunks())

    async def go() -> None:
        h2 = mock_http2(endless)
        http = HttpClient(transport=h2, max_body=64 * 1024)
        try:
            await http.request("GET", "https://idx.example/simple/x/")
        finally:
            await http.aclose()

    with pytest.raises(IndexUnreachable, match=r"larger than 64 KiB.*not retried"):
        asyncio.run(go())


# --- --max-body-size / max-body-size ---------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("200M", 200 << 20),
        ("20MB", 20 << 20),
        ("1.5G", 3 << 29),
        ("512k", 512 << 10),
        ("1MiB", 1 << 20),
        (4096, 4096),
        ("4096", 4096),
    ],
)
def test_sizes_read_as_curl_reads_them(value: object, size: int) -> None:
    assert parse_size(value, "max-body-size") == size


@pytest.mark.parametrize("value", ["", "lots", "0", "-1M", "1T", True, None, [1]])
def test_a_bad_size_is_an_input_error_naming_where(value: object) -> None:
    with pytest.raises(InputError, match=r"cfg.yml:3: `max-body-size` must be a size"):
        parse_size(value, "max-body-size", "cfg.yml", 3)


# --- handing a freed slot on ------------------------------------------------------------------


def test_release_says_whether_a_waiting_request_got_the_slot() -> None:
    async def scenario() -> tuple[bool, bool]:
        limit = HostLimit(1)
        assert limit.take()
        waiting = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(0)  # queued behind the slot in use
        handed = limit.release()
        await waiting
        alone = limit.release()  # nobody waits now
        return handed, alone

    assert asyncio.run(scenario()) == (True, False)


def test_a_request_waiting_for_the_hosts_slot_goes_out_before_the_answer_that_freed_it_is_used():
    """With one slot, the second request waits; when the first answer arrives the second
    request is sent before the first answer reaches its caller (so the connection does
    not idle while that answer is processed)."""
    events: list[str] = []

    async def scenario() -> None:
        first_answer = asyncio.Event()

        async def handler(request):  # type: ignore[no-untyped-def]
            name = request.url.rsplit("/", 1)[-1]
            events.append(f"send {name}")
            if name == "a":
                await first_answer.wait()
            return _raw(200, b"ok")

        http = HttpClient(concurrency=1, transport=MockTransport(handler))

        async def get(name: str) -> None:
            await http.request("GET", f"http://index.test/{name}")
            events.append(f"got {name}")

        a = asyncio.ensure_future(get("a"))
        b = asyncio.ensure_future(get("b"))
        for _ in range(5):
            await asyncio.sleep(0)
        assert events == ["send a"]  # b waits for the only slot
        first_answer.set()
        await asyncio.gather(a, b)
        await http.aclose()

    asyncio.run(scenario())
    assert events.index("send b") < events.index("got a")
