"""The ``file://`` transport: a local folder served as an index, with the interface of
the network ones. A folder is its ``index.html`` if it has one, else a PEP 503-style
listing of its entries; a missing path is a 404; a file larger than the cap is refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from indexgate.index.transport.base import BodyTooLarge, RawResponse, Request, SinkFactory
from indexgate.index.transport.headers import Headers


class FileTransport:
    """Reads the answer from disk; nothing to open or close. Files are read whole, never
    streamed (``sink`` is ignored: ``HttpClient`` feeds the body to the sink itself)."""

    async def exchange(
        self,
        request: Request,
        *,
        max_body: int,
        within: float | None = None,
        sink: SinkFactory | None = None,
    ) -> RawResponse:
        return read_file(request.method, request.url, max_body)

    async def aclose(self) -> None:
        return None


def read_file(method: str, url: str, max_body: int) -> RawResponse:
    """The answer for a ``file://`` URL (``BodyTooLarge`` past ``max_body``)."""
    path = Path(unquote(urlsplit(url).path))
    if path.is_dir():
        index = path / "index.html"
        if index.is_file():
            body = index.read_bytes()
        else:
            links = "".join(
                f'<a href="{p.name}{"/" if p.is_dir() else ""}">{p.name}</a>\n'
                for p in sorted(path.iterdir())
            )
            body = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        return RawResponse(200, "OK", Headers({"content-type": "text/html"}), body)
    if not path.is_file():
        return RawResponse(404, "Not Found", Headers(), b"")
    size = path.stat().st_size
    headers = Headers({"content-length": str(size)})
    if method == "HEAD":
        return RawResponse(200, "OK", headers, b"")
    if size > max_body:
        raise BodyTooLarge(f"file too large ({size} bytes, more than {max_body})")
    return RawResponse(200, "OK", headers, path.read_bytes())
