"""A static file server (as nginx serves an index folder) and a latency proxy in front.

The server answers what a real static index answers: ``ETag`` and ``Last-Modified`` with
``304`` to conditional requests, single byte ranges (``206``/``416``), ``HEAD``, keep-alive,
``dir/`` -> ``dir/index.html``, and no ``Cache-Control`` (nginx's default), so clients must
revalidate pages on every run (pages say ``Cache-Control: max-age=0, must-revalidate``,
so no client treats them as fresh by heuristics either). The proxy adds a fixed delay to
every request, and to every new connection (a TCP handshake costs a round trip too), and
counts what crossed it.

Both run on one asyncio loop in a background thread of the benchmark process, so the
proxy asks the server object directly instead of over a second connection: what a client
sees is the same, and each request costs the loop half the CPU (the loop is one thread
for every connection, and its CPU per request would otherwise stand in for network time,
penalising the client that makes more requests, which a real server does not).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

_REASONS = {
    200: "OK",
    206: "Partial Content",
    301: "Moved Permanently",
    304: "Not Modified",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    416: "Range Not Satisfiable",
}


async def _read_head(reader: asyncio.StreamReader) -> tuple[str, dict[str, str]] | None:
    """The start line and lower-cased headers of one message; None at end of stream."""
    try:
        raw = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    lines = raw.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class StaticServer:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.blocked: set[str] = set()  # URL paths a "firewall" answers with 403
        self._files: dict[str, tuple[Path, os.stat_result, dict[str, str]] | None] = {}

    def _lookup(self, rel: str) -> tuple[Path, os.stat_result, dict[str, str]] | None:
        """The file for a URL path, its stat and fixed headers; looked up once per path."""
        if rel not in self._files:
            path = (self.root / rel).resolve()
            found = None
            if path.is_relative_to(self.root) and path.is_file():
                st = path.stat()
                headers = {
                    "ETag": f'"{int(st.st_mtime):x}-{st.st_size:x}"',
                    "Last-Modified": formatdate(st.st_mtime, usegmt=True),
                    "Accept-Ranges": "bytes",
                    "Content-Type": "text/html"
                    if path.suffix == ".html"
                    else "application/octet-stream",
                }
                if path.suffix == ".html":
                    headers["Cache-Control"] = "max-age=0, must-revalidate"
                found = (path, st, headers)
            self._files[rel] = found
        return self._files[rel]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while (head := await _read_head(reader)) is not None:
                start, headers = head
                method, target, _ = (start.split(" ") + ["", ""])[:3]
                raw, _, _ = self.respond(method, target, headers)
                writer.write(raw)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        writer.close()

    def respond(self, method: str, target: str, headers: dict[str, str]) -> tuple[bytes, int, int]:
        """The whole answer's bytes (no body for HEAD), its status and its body's size."""
        status, extra, body = self.answer(method, target, headers)
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
        lines += [f"{k}: {v}" for k, v in extra.items()]
        if status != 304 and "Content-Length" not in extra:
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        if method == "HEAD":
            return raw, status, 0
        return raw + body, status, len(body)

    def answer(self, method: str, target: str, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, {}, b""
        rel = unquote(urlsplit(target).path).lstrip("/")
        if "/" + rel in self.blocked:
            return 403, {"Content-Type": "text/plain"}, b"Requested item is quarantined\n"
        if target.endswith("/"):
            rel += "index.html"
        elif self._lookup(rel + "/index.html") is not None:
            return 301, {"Location": target + "/"}, b""
        found = self._lookup(rel)
        if found is None:
            return 404, {"Content-Type": "text/plain"}, b"not found\n"
        path, st, fixed = found
        common = {**fixed, "Date": formatdate(usegmt=True)}
        if _not_modified(headers, fixed["ETag"], st.st_mtime):
            kept = ("ETag", "Last-Modified", "Date", "Cache-Control")
            return 304, {k: common[k] for k in kept if k in common}, b""
        span = _range(headers.get("range"), st.st_size)
        if span == "unsatisfiable":
            return 416, {**common, "Content-Range": f"bytes */{st.st_size}"}, b""
        first, last = span if isinstance(span, tuple) else (0, st.st_size - 1)
        if method == "HEAD":
            return (206 if span else 200), {**common, "Content-Length": str(last - first + 1)}, b""
        with open(path, "rb") as f:
            data = os.pread(f.fileno(), last - first + 1, first)
        if span:
            return 206, {**common, "Content-Range": f"bytes {first}-{last}/{st.st_size}"}, data
        return 200, common, data


def _not_modified(headers: dict[str, str], etag: str, mtime: float) -> bool:
    inm = headers.get("if-none-match")
    if inm is not None:
        return inm.strip() == "*" or etag in (t.strip().removeprefix("W/") for t in inm.split(","))
    ims = headers.get("if-modified-since")
    if ims:
        with contextlib.suppress(TypeError, ValueError):
            return int(mtime) <= parsedate_to_datetime(ims).timestamp()
    return False


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[6:].partition("-")
    try:
        if not first:
            n = int(last)
            return (max(0, size - n), size - 1) if n > 0 and size else "unsatisfiable"
        a, b = int(first), int(last) if last else size - 1
    except ValueError:
        return None
    return (a, min(b, size - 1)) if a < size and a <= b else "unsatisfiable"


@dataclass
class Traffic:
    """What crossed the proxy since the last reset."""

    requests: int = 0
    bytes: int = 0  # response bodies
    connections: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)  # "GET 206", "HEAD 200", ...
    log: list[tuple[str, str, int]] = field(default_factory=list)  # method, path, status

    def summary(self) -> str:
        return ", ".join(f"{k}: {n}" for k, n in sorted(self.by_kind.items()))


class LatencyProxy:
    """Answer each client connection from ``server``, ``latency`` later: what a client
    across a network from a static server sees."""

    def __init__(self, server: StaticServer, latency: float) -> None:
        self.server = server
        self.latency = latency
        self.traffic = Traffic()

    def reset(self) -> Traffic:
        old, self.traffic = self.traffic, Traffic()
        return old

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.traffic.connections += 1
        await asyncio.sleep(self.latency)  # the handshake's round trip
        try:
            while (head := await _read_head(reader)) is not None:
                start, headers = head
                method, path = (start.split(" ") + [""])[:2]
                length = int(headers.get("content-length", "0") or 0)
                if length:
                    await reader.readexactly(length)  # GET and HEAD: nothing to do with it
                await asyncio.sleep(self.latency)
                raw, status, size = self.server.respond(method, path, headers)
                writer.write(raw)
                await writer.drain()
                self.traffic.requests += 1
                self.traffic.bytes += size
                self.traffic.by_kind[f"{method} {status}"] += 1
                self.traffic.log.append((method, path, status))
                if headers.get("connection", "").lower() == "close":
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


class Network:
    """Server and proxy on 127.0.0.1, on their own loop in a daemon thread."""

    def __init__(self, root: Path, latency_ms: float) -> None:
        self.root = root
        self.latency = latency_ms / 1000
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.proxy: LatencyProxy | None = None
        self.port = 0

    def __enter__(self) -> Network:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result()
        return self

    async def _start(self) -> None:
        static = self.static = StaticServer(self.root)
        self.proxy = LatencyProxy(static, self.latency)
        front = await asyncio.start_server(self.proxy.handle, "127.0.0.1", 0, backlog=512)
        self.port = front.sockets[0].getsockname()[1]
        self._servers = (front,)

    def reset(self) -> Traffic:
        assert self.proxy is not None
        return asyncio.run_coroutine_threadsafe(_call(self.proxy.reset), self.loop).result()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._stop(), self.loop).result(timeout=5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)

    async def _stop(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _call(fn):  # type: ignore[no-untyped-def]
    return fn()
