"""A scriptable HTTP/1.1 server on 127.0.0.1 for tests of the wire: real sockets, and
answers no well-behaved index gives (stalls, drips, endless bodies, throttling).

The request path picks a built-in behaviour (``/chunked``, ``/stall``, ``/status/503``...),
unless ``routes`` maps the exact path to a handler of the test's own; ``handlers`` below
makes the hostile ones, and ``serve_wheel`` a one-project index to run ``indexgate check``
against.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import gzip
import hashlib
import html
import ssl
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexgate.demo.wheels import read_core_metadata


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    connection: int  # which connection of the server it came on (1, 2, ...)


@dataclass
class ScriptedServer:
    """HTTP/1.1 on 127.0.0.1, on its own loop in a thread; the path picks the behaviour."""

    ssl_context: ssl.SSLContext | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    routes: dict[str, Handler] = field(default_factory=dict)  # exact path -> handler
    hits: Counter[str] = field(default_factory=Counter)  # requests per path
    in_flight: int = 0  # requests being answered now
    most_in_flight: int = 0

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._tasks: set[asyncio.Task[Any]] = set()

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}/"

    async def _start(self) -> int:
        self._server = await asyncio.start_server(
            self._connection, "127.0.0.1", 0, ssl=self.ssl_context
        )
        return self._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        number = self.connections
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        served = 0
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                seen = Seen(method, path, headers, number)
                self.requests.append(seen)
                self.hits[path] += 1
                served += 1
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    handler = self.routes.get(path)
                    if handler is not None:
                        keep = await handler(seen, writer)
                    else:
                        keep = await self._answer(method, path, headers, served, writer)
                    await writer.drain()
                finally:
                    self.in_flight -= 1
                if not keep:
                    break
        except (ConnectionError, OSError):
            pass  # the client went away mid-answer (a deadline, a cap): expected here
        except asyncio.CancelledError:
            pass  # the server stops (Python 3.11's streams would log a cancelled handler)
        finally:
            self.open_now -= 1
            self._tasks.discard(task)
            with contextlib.suppress(Exception):
                writer.close()

    async def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        served: int,
        writer: asyncio.StreamWriter,
    ) -> bool:
        """Write the answer; False closes the connection."""
        route = path.strip("/").split("/")[0]
        body = path.encode()
        if route == "slow":
            await asyncio.sleep(0.05)
        elif route == "chunked":
            writer.write(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"6;ext=1\r\nchunk-\r\n7\r\nencoded\r\n0\r\nX-Trailer: yes\r\n\r\n"
            )
            return True
        elif route == "close":  # says so, then closes
            writer.write(_ok(body, method, b"Connection: close\r\n"))
            return False
        elif route == "http10":  # no length: the body ends with the connection
            writer.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + body)
            return False
        elif route == "bye":  # keep-alive by every header, closed right after
            writer.write(_ok(body, method))
            await writer.drain()
            return False
        elif route == "drop" or (route == "stale" and served > 1):
            return False  # closed without an answer ("stale": only once reused)
        elif route == "garbage":
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
            return False
        elif route == "stall":
            await asyncio.sleep(30)
            return False
        elif route == "stall-body":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly some")
            await asyncio.sleep(30)
            return False
        elif route == "gzip" and "gzip" in headers.get("accept-encoding", ""):
            data = gzip.compress(b"<html>" + b"page " * 500 + b"</html>")
            writer.write(_ok(data, method, b"Content-Encoding: gzip\r\n"))
            return True
        elif route == "304":
            writer.write(b'HTTP/1.1 304 Not Modified\r\nETag: "e"\r\nContent-Length: 99\r\n\r\n')
            return True
        elif route == "big":
            body = b"x" * 5000
        elif route == "status":
            code = int(path.strip("/").split("/")[1])
            writer.write(f"HTTP/1.1 {code} Status\r\nContent-Length: 0\r\n\r\n".encode())
            return True
        writer.write(_ok(body, method))
        return True


def _ok(body: bytes, method: str, extra: bytes = b"") -> bytes:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n" % (len(body), extra)
    return head if method == "HEAD" else head + body


Handler = Callable[[Seen, asyncio.StreamWriter], Awaitable[bool]]


def answer(
    writer: asyncio.StreamWriter,
    method: str,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    reason: str = "Status",
) -> None:
    """A whole answer with ``Content-Length`` (no body for HEAD)."""
    lines = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    writer.write(head if method == "HEAD" else head + body)


# -- hostile handlers ------------------------------------------------------------------------


def drip(interval: float = 0.2) -> Handler:
    """Headers promising a body, then one byte every ``interval`` seconds, for ever: each
    byte resets an idle-read timeout, so only a total deadline ends it."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\nContent-Type: text/html\r\n\r\n"
        )
        while True:
            await writer.drain()
            await asyncio.sleep(interval)
            writer.write(b"<")

    return handler


def endless_chunks(chunk: bytes = b"<!-- filler -->\n", pause: float = 0.01) -> Handler:
    """A chunked body that never ends (a chunk every ``pause`` seconds, or as fast as the
    socket takes them with ``pause=0``)."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        while True:
            writer.write(frame)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)

    return handler


def huge(length: int) -> Handler:
    """An answer that announces ``length`` bytes and starts sending them (zeros)."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length)
        block = b"\0" * 65536
        left = length
        while left:
            writer.write(block[:left])
            left -= min(left, len(block))
            await writer.drain()
        return False

    return handler


def throttle(
    times: int | None,
    *,
    status: int = 429,
    retry_after: str | None = None,
    body: bytes = b"",
    content_type: str = "text/plain",
    then: Handler | None = None,
) -> Handler:
    """``status`` (with ``Retry-After`` when given, and ``body``) for the first ``times``
    requests of the path (None: for ever), then ``then`` or a plain 200."""
    seen_count = 0

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        nonlocal seen_count
        seen_count += 1
        if times is None or seen_count <= times:
            headers = {"Content-Type": content_type}
            if retry_after is not None:
                headers["Retry-After"] = retry_after
            reason = "Too Many Requests" if status == 429 else "Service Unavailable"
            answer(writer, seen.method, status, body, headers, reason)
            return True
        if then is not None:
            return await then(seen, writer)
        answer(writer, seen.method, 200, seen.path.encode(), reason="OK")
        return True

    return handler


def http_date_in(seconds: int) -> str:
    """An HTTP date ``seconds`` from now, as a ``Retry-After`` may give it instead of a
    number of seconds."""
    when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    return email.utils.format_datetime(when, usegmt=True)


def slow(delay: float) -> Handler:
    """200 after ``delay`` seconds (to see how many requests are in flight at once)."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        await asyncio.sleep(delay)
        answer(writer, seen.method, 200, seen.path.encode(), reason="OK")
        return True

    return handler


def fixed(body: bytes, content_type: str = "application/octet-stream") -> Handler:
    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        answer(writer, seen.method, 200, body, {"Content-Type": content_type}, "OK")
        return True

    return handler


# -- a one-project index -------------------------------------------------------------------


@dataclass(frozen=True)
class WheelRoutes:
    """The paths ``serve_wheel`` answers, to replace one of them with a hostile handler."""

    page: str
    file: str
    metadata: str

    @property
    def index_path(self) -> str:
        return "/simple/"


def serve_wheel(server: ScriptedServer, project: str, wheel: Path) -> WheelRoutes:
    """A PEP 503 page for ``project`` listing ``wheel`` with its hash and a PEP 658
    ``.metadata`` file; the wheel and its METADATA are served as they are."""
    data = wheel.read_bytes()
    metadata = read_core_metadata(wheel) or b""
    file_path = f"/files/{wheel.name}"
    routes = WheelRoutes(f"/simple/{project}/", file_path, file_path + ".metadata")
    digest = hashlib.sha256(data).hexdigest()
    meta_digest = hashlib.sha256(metadata).hexdigest()
    page = (
        "<!DOCTYPE html><html><body>\n"
        f'<a href="{html.escape(file_path)}#sha256={digest}" '
        f'data-core-metadata="sha256={meta_digest}">{html.escape(wheel.name)}</a>\n'
        "</body></html>\n"
    ).encode()
    server.routes[routes.page] = fixed(page, "text/html")
    server.routes[routes.file] = fixed(data)
    server.routes[routes.metadata] = fixed(metadata, "text/plain")
    return routes
