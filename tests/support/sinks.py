"""A body sink that has already read its answer: what the cache keeps of a streamed page
is its ``summary`` (``BodySink.summary``), and tests set it directly."""

from __future__ import annotations

from indexgate.index.responses import Response


class Summarized:
    """A sink that has read a page and sums it up as ``data`` (None: keep nothing)."""

    def __init__(self, data: bytes | None) -> None:
        self.data = data

    def feed(self, data: bytes) -> None:
        return None

    def close(self) -> None:
        return None

    def summary(self, answer: Response) -> bytes | None:
        return self.data
