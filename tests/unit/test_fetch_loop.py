"""The fetch_loop: the resolver's thread drives the event loop only while it waits."""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from indexgate.resolver.fetch_loop import FetchLoop


@pytest.fixture
def fetch_loop():
    b = FetchLoop()
    yield b
    if not b.loop.is_closed():
        b.close()


def test_submitted_work_waits_for_the_next_wait_and_runs_in_the_callers_thread(fetch_loop) -> None:
    seen: list[str] = []

    async def prefetch() -> None:
        seen.append(threading.current_thread().name)

    async def answer() -> int:
        return 42

    fetch_loop.submit(prefetch)
    assert seen == []  # nothing runs behind the resolver's back
    assert fetch_loop.run(answer) == 42
    assert seen == [threading.current_thread().name]


def test_waiting_for_one_answer_lets_earlier_fetches_progress(fetch_loop) -> None:
    log: list[str] = []

    async def early() -> str:
        await asyncio.sleep(0)
        log.append("early")
        return "early"

    async def later() -> str:
        await asyncio.sleep(0.01)
        log.append("later")
        return "later"

    first = fetch_loop.submit(early)
    assert fetch_loop.run(later) == "later"
    assert log == ["early", "later"]
    assert first.done() and first.result() == "early"


def test_a_fetch_error_reaches_whoever_asks_for_the_result(fetch_loop) -> None:
    async def fails() -> None:
        raise ValueError("boom")

    pending = fetch_loop.submit(fails)
    with pytest.raises(ValueError, match="boom"):
        pending.result()
    with pytest.raises(ValueError, match="boom"):
        fetch_loop.run(fails)


def test_a_failed_prefetch_nobody_asks_about_is_not_reported_as_unretrieved(fetch_loop) -> None:
    reported: list[dict] = []
    fetch_loop.loop.set_exception_handler(lambda loop, context: reported.append(context))

    async def fails() -> None:
        raise ValueError("nobody asks")

    async def other() -> None:
        await asyncio.sleep(0.01)

    fetch_loop.submit(fails)
    fetch_loop.run(other)
    gc.collect()  # a task whose exception was never retrieved complains when collected
    assert reported == []


def test_close_cancels_what_nobody_waited_for_then_cleans_up() -> None:
    fetch_loop = FetchLoop()
    cancelled = asyncio.Event()
    cleaned: list[bool] = []

    async def forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def cleanup() -> None:
        cleaned.append(cancelled.is_set())

    async def tick() -> None:
        await asyncio.sleep(0)

    fetch_loop.submit(forever)
    fetch_loop.run(tick)  # started, now sleeping
    fetch_loop.close(cleanup)
    assert cleaned == [True]
    assert fetch_loop.loop.is_closed()


def test_taking_a_finished_fetch_turns_the_loop_once_and_checks_the_deadline(fetch_loop) -> None:
    started: list[str] = []

    async def prefetch() -> None:
        started.append("prefetch")
        await asyncio.sleep(0)
        started.append("prefetch again")

    async def fails() -> None:
        raise ValueError("boom")

    done = fetch_loop.loop.create_future()
    done.set_result("listing")
    failed = fetch_loop.loop.create_task(fails())
    fetch_loop.run(lambda: asyncio.sleep(0))  # runs ``fails`` to its end
    fetch_loop.submit(prefetch)
    assert fetch_loop.take(done) == "listing"
    with pytest.raises(ValueError, match="boom"):
        fetch_loop.take(failed)
    # one turn each: answers that arrived meanwhile are read, as at any wait; no more
    assert started == ["prefetch", "prefetch again"]

    def past_deadline() -> None:
        raise TimeoutError("run deadline")

    fetch_loop.check = past_deadline
    with pytest.raises(TimeoutError):
        fetch_loop.take(done)
