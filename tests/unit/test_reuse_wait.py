"""How a warm run waits for its checks (resolver/reuse.py): every page revalidation and
probe runs at once, and the first answer that differs ends the wait, while the others go
on (their answers and errors are the resolution's)."""

from __future__ import annotations

import asyncio

from indexgate.resolver.reuse import _first_difference


async def _after(turns: int, outcome: bool | str) -> bool | str:
    for _ in range(turns):
        await asyncio.sleep(0)
    return outcome


async def _fails(turns: int) -> bool | str:
    await _after(turns, True)
    raise ConnectionError("index gone")


def test_every_check_the_same_is_true() -> None:
    async def scenario() -> bool | str:
        return await _first_difference([asyncio.ensure_future(_after(n, True)) for n in range(5)])

    assert asyncio.run(scenario()) is True


def test_no_checks_is_true() -> None:
    assert asyncio.run(_first_difference([])) is True


def test_the_first_difference_ends_the_wait_and_the_others_go_on() -> None:
    async def scenario() -> tuple[bool | str, bool]:
        slow = asyncio.ensure_future(_after(1000, True))
        tasks = [asyncio.ensure_future(_after(3, "the page of lib changed")), slow]
        outcome = await _first_difference(tasks)
        running = not slow.done()
        await slow
        return outcome, running

    assert asyncio.run(scenario()) == ("the page of lib changed", True)


def test_an_error_is_a_difference_in_words_and_never_unretrieved() -> None:
    async def scenario() -> bool | str:
        return await _first_difference(
            [asyncio.ensure_future(_after(1, True)), asyncio.ensure_future(_fails(2))]
        )

    loop_errors: list[dict] = []

    async def main() -> bool | str:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        return await scenario()

    assert asyncio.run(main()) == "ConnectionError: index gone"
    assert loop_errors == []
