"""Project pages as data: PEP 691 JSON, PEP 503 HTML, find-links pages and local folders.

Pure parsing, no network I/O: the client hands the bytes here, so every mirror quirk
(wrong content type, entity-escaped attributes, ``<base>``) is handled in one place and is
testable without a server.

Pages can be huge (a project with native wheels lists tens of thousands of files; a
hostile server may send hundreds of megabytes), so a page is parsed incrementally
(``PageParser.feed`` / ``close``) in time and memory linear in its size: no decoded copy
of the body, no list of every link, and only the files that can be used are kept: those
of the project, that a target can install (``keep``), with a valid ``requires-python``.
A file that is malformed where pip and uv skip it (its version, filename or
``requires-python``) is dropped and logged (``-v``), never fatal to the page.

This module is the front door (``PageParser`` and the ``parse_*`` functions); the page
model and filter are in ``page.py``, the readers in ``simple_json.py`` (PEP 691) and
``simple_html.py`` (PEP 503 and find-links pages).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from indexgate.dists.models import DistFile, parse_filename
from indexgate.index.page import (
    Files,
    Keep,
    PageError,
    media_type,
)
from indexgate.index.simple_html import HtmlParser
from indexgate.index.simple_json import JsonParser

__all__ = [
    "PageError",
    "PageParser",
    "files_for_project",
    "list_local_folder",
    "parse_flat_page",
    "parse_project_page",
]

CHUNK = 1 << 20  # bytes handed to the parser at a time when the whole body is at hand


def parse_project_page(
    body: bytes,
    content_type: str | None,
    base_url: str,
    *,
    project: str | None = None,
    keep: Keep | None = None,
) -> list[DistFile]:
    """Files on a simple-API project page, JSON or HTML, whichever the server really sent.

    Content type decides, but a body starting with ``{`` is JSON whatever the header
    says, because some mirrors ignore ``Accept`` and mislabel their responses. With
    ``project``, only that project's files are kept; with ``keep``, only those it accepts.
    """
    parser = PageParser(content_type, base_url, project=project, keep=keep)
    return _feed_all(parser, body)


def parse_flat_page(
    body: bytes, content_type: str | None, base_url: str, *, keep: Keep | None = None
) -> list[DistFile]:
    """Files linked from a find-links page: any HTML whose anchors point at dists."""
    return _feed_all(PageParser(content_type, base_url, keep=keep, html=True), body)


def _feed_all(parser: PageParser, body: bytes) -> list[DistFile]:
    view = memoryview(body)
    for start in range(0, len(view), CHUNK):
        parser.feed(view[start : start + CHUNK])
    return parser.close()


def files_for_project(files: Iterable[DistFile], name: str) -> list[DistFile]:
    """The files of one project, by the name in each filename (flat pages mix projects)."""
    wanted = canonicalize_name(name)
    result = []
    for f in files:
        parsed = parse_filename(f.filename)
        if parsed is not None and parsed.name == wanted:
            result.append(f)
    return result


def list_local_folder(path: Path) -> list[DistFile]:
    """Wheels and sdists in a flat folder, as ``file://`` URLs.

    A ``<file>.metadata`` next to a dist is offered as its PEP 658 metadata, so a local
    folder exercises the same metadata-first path as a remote index.
    """
    try:
        entries = sorted(path.iterdir())
        files = []
        for entry in entries:
            if parse_filename(entry.name) is None or not entry.is_file():
                continue
            has_metadata = entry.with_name(entry.name + ".metadata").is_file()
            files.append(
                DistFile(
                    filename=entry.name,
                    url=entry.resolve().as_uri(),
                    metadata_hashes={} if has_metadata else None,
                    size=entry.stat().st_size,
                )
            )
    except OSError as exc:
        raise PageError(f"cannot list folder {path}: {exc.strerror or exc}") from exc
    return files


# --- the incremental parser -----------------------------------------------------------------


class PageParser:
    """A project page parsed as it arrives: ``feed(chunk)`` any number of times, then
    ``close()`` for the files. Memory is what the kept files take plus one chunk (and the
    one JSON file entry or HTML tag that spans two chunks), whatever the page's size.

    A transport that streams bodies calls ``feed`` with each chunk it reads and ``close``
    at the end of the body; one that buffers the body hands it over with
    ``parse_project_page`` (fed in ``CHUNK`` slices, so no decoded copy of it is made).
    """

    def __init__(
        self,
        content_type: str | None,
        base_url: str,
        *,
        project: str | None = None,
        keep: Keep | None = None,
        html: bool = False,
    ) -> None:
        self._files = Files(base_url, canonicalize_name(project) if project else None, keep)
        self._content_type = content_type
        media = media_type(content_type)
        self._impl: JsonParser | HtmlParser | None = None
        if html:
            self._impl = HtmlParser(self._files, content_type)
        elif media == "application/json" or media.endswith("+json"):
            self._impl = JsonParser(self._files)
        self._head = b""  # leading whitespace seen before the kind of page is known

    def feed(self, data: bytes | memoryview) -> None:
        if self._impl is None:
            head = self._head + bytes(data)
            stripped = head.lstrip()
            if not stripped:
                self._head = head
                return
            self._head = b""
            if stripped[:1] == b"{":
                self._impl = JsonParser(self._files)
            else:
                self._impl = HtmlParser(self._files, self._content_type)
            data = head
        self._impl.feed(data)

    def close(self) -> list[DistFile]:
        if self._impl is None:  # an empty (or blank) body: an HTML page without links
            self._impl = HtmlParser(self._files, self._content_type)
            self._impl.feed(self._head)
        self._impl.close()
        return self._files.result()
