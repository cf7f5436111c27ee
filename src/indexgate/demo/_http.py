"""Plumbing shared by the dev index server and the quarantine proxy.

A stdlib ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread, an access log that tests
assert on, and a ``stop()`` that really closes kept-alive connections, so a stopped server
is unreachable at once.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import socket
import sys
import threading
from collections.abc import Mapping
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple, Self

# Request headers worth recording; Authorization is reduced to its scheme and user name.
LOGGED_HEADERS = ("accept", "range", "authorization", "user-agent")


class AccessLogEntry(NamedTuple):
    method: str
    path: str  # with the query string, as requested
    status: int
    headers: dict[str, str]  # lower-cased names from LOGGED_HEADERS that were present


class AccessLog:
    """Thread-safe record of every request a server answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[AccessLogEntry] = []

    def add(self, entry: AccessLogEntry) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[AccessLogEntry]:
        with self._lock:
            return list(self._entries)

    def requests_for(self, path_prefix: str) -> list[AccessLogEntry]:
        """Entries whose path starts with ``path_prefix`` (e.g. ``/simple/flask/``)."""
        return [e for e in self.entries() if e.path.startswith(path_prefix)]

    def paths(self) -> list[str]:
        return [e.path for e in self.entries()]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def logged_headers(headers: Mapping[str, str] | Message) -> dict[str, str]:
    result: dict[str, str] = {}
    for name in LOGGED_HEADERS:
        value = headers.get(name)
        if value is not None:
            result[name] = describe_authorization(value) if name == "authorization" else value
    return result


def describe_authorization(value: str) -> str:
    """``Basic ci`` for basic credentials: who, never the password."""
    scheme, _, _ = value.partition(" ")
    user = basic_credentials(value)
    return f"{scheme} {user[0]}" if user else scheme


def basic_credentials(value: str | None) -> tuple[str, str] | None:
    if not value or value[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(value[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


class _TrackingServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default 5 makes concurrent clients wait for SYN retries

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self.owner: Any = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up early (e.g. after a 401) is not a server error."""
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that logs to the owner's access log, not stderr."""

    protocol_version = "HTTP/1.1"
    timeout = 30
    server: _TrackingServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def record(self, status: int) -> None:
        self.server.owner.access_log.add(
            AccessLogEntry(self.command, self.path, status, logged_headers(self.headers))
        )

    def respond(
        self,
        status: int,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        """Log an answer, then send it whole (no body for HEAD).

        Logged first: a client may read the answer and finish before a line written
        after the send would be, and tests read the log as soon as the client is done."""
        self.record(status)
        self.send_response(status, reason)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class BackgroundServer:
    """Start/stop a handler class on 127.0.0.1 in a daemon thread; a context manager."""

    handler_class: type[QuietHandler] = QuietHandler

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.access_log = AccessLog()
        self._address = (host, port)
        self._server: _TrackingServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Self:
        if self._server is None:
            self._server = _TrackingServer(self._address, self.handler_class)
            self._server.owner = self
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"{type(self).__name__}:{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://{self._address[0]}:{self.port}"

    @property
    def url(self) -> str:
        """The simple index URL: ``http://127.0.0.1:<port>/simple/``."""
        return f"{self.base_url}/simple/"

    def requests_for(self, path_prefix: str) -> list[AccessLogEntry]:
        return self.access_log.requests_for(path_prefix)
