"""Cache writes off the event loop: one thread writes the cache's files while the run goes on.

Creating a file costs far more than it looks: on the development VM, 0.5 ms of kernel time
per new file and as much per new folder, and a cold run creates about 680 files in 460
folders, so writing them where they were fetched put 0.3-0.5 s on the critical path (the
event loop stalled while the next level's answers waited). A thread takes them instead:
the system calls release the GIL, so the writes overlap the run's network waits.

Changes are made in the order they were given (a removal after a write of the same path
stays after it), and until made they are read from memory (``pending``), so a reader of
the cache sees the same entries either way. The run's thread takes no lock (a lock the
writer held while the GIL passed to it would stall the event loop): it alone adds and
drops pending changes; the writer only marks them done. ``drain`` waits for every change
given so far, and runs at exit too (the thread is a daemon: an idle cache holds no exit).

While the writer has work, the interpreter's switch interval is cut to ``SWITCH_INTERVAL``:
each file takes the writer four or five system calls, and after each it needs the GIL
back for a few bytecodes; at the default 5 ms a busy event loop let it make about one
change per 20 ms (measured: 0.6-0.9 s of writes still waiting when the resolution ended).
"""

from __future__ import annotations

import atexit
import logging
import queue
import sys
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger("indexgate.cache")

Write = Callable[[Path, dict, bytes], None]
Remove = Callable[[Path], None]
_SWEEP_EVERY = 256  # changes given between two sweeps of the done ones out of ``_pending``
SWITCH_INTERVAL = 0.0005  # seconds; CPython's default is 0.005


class _Change:
    __slots__ = ("body", "done", "meta", "path")

    def __init__(self, path: Path, meta: dict | None, body: bytes) -> None:
        self.path, self.meta, self.body = path, meta, body  # meta None: remove the file
        self.done = False


class WriteBehind:
    """Writes and removals of cache files, made in order by one thread."""

    def __init__(self, write: Write, remove: Remove) -> None:
        self._write = write
        self._remove = remove
        self._queue: queue.SimpleQueue[_Change | threading.Event] = queue.SimpleQueue()
        self._pending: dict[Path, _Change] = {}  # the newest change of each path
        self._given = 0
        self._thread: threading.Thread | None = None
        self._interval: float | None = None  # the switch interval before the writer's

    def write(self, path: Path, meta: dict, body: bytes) -> None:
        self._submit(_Change(path, meta, body))

    def remove(self, path: Path) -> None:
        self._submit(_Change(path, None, b""))

    def pending(self, path: Path) -> tuple[bool, tuple[dict, bytes] | None]:
        """(True, the entry, or None when it is being removed) while a change of ``path``
        is not made yet; (False, None) when the file on disk is current."""
        change = self._pending.get(path)
        if change is None or change.done:
            return False, None
        return True, None if change.meta is None else (change.meta, change.body)

    def drain(self) -> None:
        """Wait until every change given so far is made."""
        if self._thread is None:
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait()
        self._pending.clear()
        if self._interval is not None:
            sys.setswitchinterval(self._interval)
            self._interval = None

    def _submit(self, change: _Change) -> None:
        self._pending[change.path] = change
        self._given += 1
        if self._given % _SWEEP_EVERY == 0:
            for path in [p for p, c in self._pending.items() if c.done]:
                del self._pending[path]
        if self._interval is None:
            self._interval = sys.getswitchinterval()
            sys.setswitchinterval(min(self._interval, SWITCH_INTERVAL))
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="indexgate-cache-writer", daemon=True
            )
            self._thread.start()
            atexit.register(self.drain)
        self._queue.put(change)

    def _run(self) -> None:
        while True:
            change = self._queue.get()
            if isinstance(change, threading.Event):
                change.set()
                continue
            try:
                if change.meta is None:
                    self._remove(change.path)
                else:
                    self._write(change.path, change.meta, change.body)
            except Exception as exc:  # a cache that cannot be written must not fail the run
                log.debug("cache write of %s failed: %s", change.path.name, exc)
            change.done = True
