"""A server for one huge generated project page (``bigpage_server.BigPageServer``).

It answers the page's URL with the bytes it was given, and any file the page links to
with what ``indexgate check`` asks of it: the ``.metadata`` of a wheel (PEP 658, built
from its filename) and a small body for the wheel itself (HEAD and GET). Built on the
demo server's plumbing (indexgate.demo._http), so it logs requests the same way.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from indexgate.demo._http import BackgroundServer, QuietHandler
from indexgate.dists.models import parse_filename


class _Handler(QuietHandler):
    @property
    def owner(self) -> BigPageServer:
        return self.server.owner  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        owner = self.owner
        if path == f"/simple/{owner.project}/":
            return self.respond(200, owner.body, {"Content-Type": owner.content_type})
        if path.startswith("/simple/"):
            return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})
        if path.startswith("/f/"):
            name = path.removeprefix("/f/")
            is_metadata = name.endswith(".metadata")
            parsed = parse_filename(name.removesuffix(".metadata"))
            if parsed is None:
                return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})
            if is_metadata:
                text = f"Metadata-Version: 2.1\nName: {parsed.name}\nVersion: {parsed.version}\n"
                return self.respond(200, text.encode(), {"Content-Type": "text/plain"})
            return self.respond(200, b"x", {"Content-Type": "application/octet-stream"})
        return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})

    do_HEAD = do_GET


class BigPageServer(BackgroundServer):
    """``/simple/<project>/`` answers ``body``; ``/f/<file>`` the page's files."""

    handler_class = _Handler

    def __init__(self, project: str, body: bytes, content_type: str) -> None:
        super().__init__()
        self.project = project
        self.body = body
        self.content_type = content_type
