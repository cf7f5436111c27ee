"""Run the async index client on its own event loop so the (synchronous) resolver can
start fetches early and wait only when it needs an answer."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Bridge:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def submit(self, factory: Callable[[], Awaitable[T]]) -> concurrent.futures.Future[T]:
        """Start ``factory()`` on the loop now; the caller may wait on the future later."""

        async def run() -> T:
            return await factory()

        return asyncio.run_coroutine_threadsafe(run(), self.loop)

    def run(self, factory: Callable[[], Awaitable[T]]) -> T:
        return self.submit(factory).result()

    def close(self, cleanup: Callable[[], Awaitable[None]] | None = None) -> None:
        # Prefetches nobody waited for: cancel them and collect their outcome, so that no
        # "Task exception was never retrieved" traceback reaches stderr at exit.
        while self.run(_cancel_pending):  # cancelling may let a task start another
            pass
        if cleanup is not None:
            self.run(cleanup)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


async def _cancel_pending() -> bool:
    """Cancel and collect every other task; True when there were any."""
    current = asyncio.current_task()
    pending = [task for task in asyncio.all_tasks() if task is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    return bool(pending)
