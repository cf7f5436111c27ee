"""Cache writes off the event loop: one thread writes the cache's files while the run goes on.

Creating a file costs far more than it looks: on the development VM, 0.5 ms of kernel time
per new file and as much per new folder, and a cold run creates about 680 files in 460
folders, so writing them where they were fetched put 0.3-0.5 s on the critical path (the
event loop stalled while the next level's answers waited). A thread takes them instead:
the system calls release the GIL, so the writes overlap the run's network waits.

Entries are written in the order they were given (a removal after a write of the same
path stays after it), and until written they are read from memory (``pending``), so a
reader of the cache sees the same entries either way. The thread is not a daemon and
ends whenever the queue is empty: the interpreter waits for writes under way at exit, and
an idle cache holds no thread. ``drain`` waits for every write given so far.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("indexgate.cache")

Write = Callable[[Path, dict, bytes], None]
Remove = Callable[[Path], None]


class WriteBehind:
    """Writes and removals of cache files, done in order by one thread."""

    def __init__(self, write: Write, remove: Remove) -> None:
        self._write = write
        self._remove = remove
        self._lock = threading.Lock()
        self._queue: deque[tuple[Path, tuple[dict, bytes] | None]] = deque()
        # The newest pending change of each path: (meta, body) to write, None to remove.
        self._pending: dict[Path, tuple[dict, bytes] | None] = {}
        self._waiting: dict[Path, int] = {}  # changes of each path not yet done
        self._thread: threading.Thread | None = None

    def write(self, path: Path, meta: dict, body: bytes) -> None:
        self._submit(path, (meta, body))

    def remove(self, path: Path) -> None:
        self._submit(path, None)

    def pending(self, path: Path) -> tuple[bool, tuple[dict, bytes] | None]:
        """(True, the entry or None if it is being removed) while a change of ``path``
        is waiting; (False, None) when the file on disk is current."""
        with self._lock:
            if path in self._pending:
                return True, self._pending[path]
        return False, None

    def drain(self) -> None:
        """Wait until every write given so far is on disk."""
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _submit(self, path: Path, change: tuple[dict, bytes] | None) -> None:
        with self._lock:
            self._queue.append((path, change))
            self._pending[path] = change
            self._waiting[path] = self._waiting.get(path, 0) + 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="indexgate-cache-writer", daemon=False
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._thread = None
                    return
                path, change = self._queue.popleft()
            try:
                if change is None:
                    self._remove(path)
                else:
                    self._write(path, *change)
            except Exception as exc:  # a cache that cannot be written must not fail the run
                log.debug("cache write of %s failed: %s", path.name, exc)
            with self._lock:
                # Read from disk from now on, unless a later change of the path waits.
                left = self._waiting.pop(path) - 1
                if left:
                    self._waiting[path] = left
                else:
                    del self._pending[path]
