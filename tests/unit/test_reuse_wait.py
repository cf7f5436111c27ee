"""How a warm run waits for its checks (resolver/reuse.py): every page revalidation and
probe runs at once, and the first answer that differs ends the wait, while the others go
on (their answers and errors are the resolution's)."""

from __future__ import annotations

import asyncio

from indexgate.resolver.reuse import Check, _as_is, _first_difference


async def _after(turns: int, outcome: bool | str) -> bool | str:
    for _ in range(turns):
        await asyncio.sleep(0)
    return outcome


async def _fails(turns: int) -> bool | str:
    await _after(turns, True)
    raise ConnectionError("index gone")


def _check(turns: int, outcome: bool | str) -> Check:
    """A fetch that answers ``outcome`` after ``turns`` turns of the loop, taken as it is."""
    return asyncio.ensure_future(_after(turns, outcome)), _as_is


def test_every_check_the_same_is_true() -> None:
    async def scenario() -> bool | str:
        return await _first_difference([_check(n, True) for n in range(5)])

    assert asyncio.run(scenario()) is True


def test_no_checks_is_true() -> None:
    assert asyncio.run(_first_difference([])) is True


def test_the_first_difference_ends_the_wait_and_the_others_go_on() -> None:
    async def scenario() -> tuple[bool | str, bool]:
        slow = _check(1000, True)
        outcome = await _first_difference([_check(3, "the page of lib changed"), slow])
        running = not slow[0].done()
        await slow[0]
        return outcome, running

    assert asyncio.run(scenario()) == ("the page of lib changed", True)


def test_an_error_is_a_difference_in_words_and_never_unretrieved() -> None:
    async def scenario() -> bool | str:
        return await _first_difference(
            [_check(1, True), (asyncio.ensure_future(_fails(2)), _as_is)]
        )

    loop_errors: list[dict] = []

    async def main() -> bool | str:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
        return await scenario()

    assert asyncio.run(main()) == "ConnectionError: index gone"
    assert loop_errors == []


def test_a_judgement_that_fails_is_a_difference_in_words() -> None:
    def judge(outcome: bool | str) -> bool | str:
        raise KeyError("status")

    async def scenario() -> bool | str:
        return await _first_difference([(asyncio.ensure_future(_after(1, True)), judge)])

    assert asyncio.run(scenario()) == "KeyError: 'status'"
