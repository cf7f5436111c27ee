"""Cache entries written behind by a thread of their own (``FileCache(background=True)``):
a cold run writes hundreds, each a file, a rename and often a new folder, off the run's
path; until an entry is on disk, the cache reads it from here (``Writer.get``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable

GONE: tuple[dict, bytes] = ({}, b"")  # a pending removal (``Writer.cancel``)


class Writer:
    """Entries written behind, in order, by one thread; each kept in memory (``get``)
    until it is on disk. A later entry for the same path replaces a pending one."""

    def __init__(
        self, write: Callable[[str, dict, bytes], None], remove: Callable[[str], None]
    ) -> None:
        """``write`` puts an entry on disk, ``remove`` takes one off (the cache's own)."""
        self._write = write
        self._remove = remove
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[dict, bytes]] = {}
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def put(self, path: str, meta: dict, body: bytes) -> None:
        self._enqueue(path, (meta, body))

    def _enqueue(self, path: str, item: tuple[dict, bytes]) -> None:
        with self._lock:
            self._pending[path] = item
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="indexgate-cache", daemon=True
                )
                self._thread.start()
        self._queue.put(path)

    def get(self, path: str) -> tuple[dict, bytes] | None:
        with self._lock:
            item = self._pending.get(path)
        return None if item is GONE else item

    def cancel(self, path: str) -> None:
        """The entry is removed: never read from memory again, and removed from disk
        after any write of it already under way."""
        self._enqueue(path, GONE)

    def _run(self) -> None:
        while True:
            path = self._queue.get()
            if path is None:
                return
            with self._lock:
                item = self._pending.get(path)
            if item is None:  # written already (a later put)
                continue
            if item is GONE:
                self._remove(path)
            else:
                self._write(path, *item)
            with self._lock:
                if self._pending.get(path) is item:
                    del self._pending[path]

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()
