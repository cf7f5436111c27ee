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
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from itertools import chain
from json.decoder import scanstring
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from packaging.utils import canonicalize_name
from packaging.version import Version

from indexgate.index.models import DistFile, ParsedFilename, parse_filename, requires_python_text
from indexgate.redact import redact

__all__ = [
    "ACCEPT",
    "PageError",
    "PageParser",
    "files_for_project",
    "list_local_folder",
    "parse_flat_page",
    "parse_project_page",
]

log = logging.getLogger("indexgate.index")

# PEP 691 content negotiation: JSON first, HTML for older servers and mirrors.
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)

_HASH_NAMES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
_HASH_FRAGMENT = re.compile(r"^([A-Za-z0-9]+)=([0-9A-Za-z]+)$")
CHUNK = 1 << 20  # bytes handed to the parser at a time when the whole body is at hand

Keep = Callable[[ParsedFilename], bool]
"""Which files a run can use (``IndexClient``'s target filter); None keeps every file."""


class PageError(ValueError):
    """A project page or folder that cannot be read as a list of files."""


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
        self._files = _Files(base_url, canonicalize_name(project) if project else None, keep)
        self._content_type = content_type
        media = _media_type(content_type)
        self._impl: _JsonParser | _HtmlParser | None = None
        if html:
            self._impl = _HtmlParser(self._files, content_type)
        elif media == "application/json" or media.endswith("+json"):
            self._impl = _JsonParser(self._files)
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
                self._impl = _JsonParser(self._files)
            else:
                self._impl = _HtmlParser(self._files, self._content_type)
            data = head
        self._impl.feed(data)

    def close(self) -> list[DistFile]:
        if self._impl is None:  # an empty (or blank) body: an HTML page without links
            self._impl = _HtmlParser(self._files, self._content_type)
            self._impl.feed(self._head)
        self._impl.close()
        return self._files.result()


class _Files:
    """The kept files of one page, and the reasons others were dropped (logged)."""

    def __init__(self, base_url: str, project: str | None, keep: Keep | None) -> None:
        self.base_url = base_url
        self.base_href: str | None = None  # HTML: the first <base href>
        self._joined_base: str | None = None
        self.project = project
        self.keep = keep
        self.files: list[DistFile] = []
        # HTML: (position in files, href, the base it was resolved against), because a
        # <base> may show up after them.
        self._hrefs: list[tuple[int, str, str]] = []
        # A version all of whose files ``keep`` dropped keeps its first one, so that a
        # resolution failure can still say why that version did not fit ("no wheel for").
        # By (name, version): a flat page mixes projects.
        self._kept_versions: set[tuple[str, Version]] = set()
        self._stand_ins: dict[tuple[str, Version], tuple[DistFile, str | None, str | None]] = {}
        self.filtering = keep is not None  # then most links are dropped
        # A fast "no" for the usual dropped file, a wheel for another platform of a version
        # already kept or stood in for (most of a page with native wheels): by the raw
        # filename's two halves, without parsing it again. Only when ``keep`` decides by
        # the wheel's tags alone (``TargetFilter``: ``decides_by_tags``).
        self._tags_only = bool(getattr(keep, "decides_by_tags", False))
        self._dropped_tags: set[str] = set()  # "-<py>-<abi>-<plat>.whl" that keep drops
        self._settled: set[str] = set()  # "<name>-<version>[-<build>]" already kept/stood in

    def where(self) -> str:
        return redact(self.base_url)

    def base(self) -> str:
        """The document's base URL: the page's, or its first ``<base href>`` (joined once)."""
        if not self.base_href:
            return self.base_url
        if self._joined_base is None:
            self._joined_base = urljoin(self.base_url, self.base_href)
        return self._joined_base

    def admit(self, filename: str) -> tuple[ParsedFilename, bool] | None:
        """Whether to read the file's entry on: None when it is not used, else its parsed
        name and whether ``keep`` keeps it (False: it may stand in for its version)."""
        if self._tags_only and filename.endswith(".whl"):
            head = filename.rsplit("-", 3)[0]
            tags = filename[len(head) :]
            if tags in self._dropped_tags and head in self._settled:
                return None  # what the checks below would say, found by two set lookups
        else:
            head = tags = ""
        parsed = parse_filename(filename)
        if parsed is None:
            if filename.endswith((".whl", ".tar.gz", ".zip")):  # named like a dist, but not one
                log.info(
                    "%s: skipping %s: not a valid wheel or sdist name (a malformed version or "
                    "tag; the file cannot be used)",
                    self.where(),
                    filename,
                )
            return None
        if self.project is not None and parsed.name != self.project:
            return None
        keep = self.keep
        if keep is None or keep(parsed):
            return parsed, True
        version = (parsed.name, parsed.version)
        if version in self._kept_versions or version in self._stand_ins:
            if tags:  # a valid wheel name: both halves parsed, as they will be again
                self._dropped_tags.add(tags)
                self._settled.add(head)
            return None
        return parsed, False

    def wanted(self, parsed: ParsedFilename) -> bool:
        """What ``admit`` says of a valid filename, without logging."""
        if self.project is not None and parsed.name != self.project:
            return False
        keep = self.keep
        if keep is None or keep(parsed):
            return True
        version = (parsed.name, parsed.version)
        return version not in self._kept_versions and version not in self._stand_ins

    def requires_python(self, filename: str, text: str | None) -> str | bool | None:
        """The file's ``requires-python`` as kept, or False (logged) when it is malformed:
        pip and uv skip such a file, so it is not kept at all."""
        if not text:
            return None
        valid = requires_python_text(text)
        if valid is None:
            log.info(
                "%s: skipping %s: invalid requires-python %r (the file cannot be used)",
                self.where(),
                filename,
                text,
            )
            return False
        return valid

    def add(
        self,
        parsed: ParsedFilename,
        kept: bool,
        dist: DistFile,
        href: str | None = None,
        base: str | None = None,
    ) -> None:
        if not kept:
            self._stand_ins.setdefault((parsed.name, parsed.version), (dist, href, base))
            return
        if self.keep is not None:  # else no file stands in: none is dropped
            self._kept_versions.add((parsed.name, parsed.version))
        if href is not None and base is not None:
            self._hrefs.append((len(self.files), href, base))
        self.files.append(dist)

    def result(self) -> list[DistFile]:
        files = self.files
        for version, (dist, href, base) in self._stand_ins.items():
            if version not in self._kept_versions:
                if href is not None and base is not None:
                    self._hrefs.append((len(files), href, base))
                files.append(dist)
        if self.base_href:  # HTML: a <base> may have come after some anchors
            base = self.base()
            for at, href, used in self._hrefs:
                if used != base:
                    files[at] = replace(files[at], url=_split_url(base, href)[0])
        self.files, self._stand_ins, self._hrefs = [], {}, []
        self._dropped_tags, self._settled = set(), set()
        return files


# --- JSON (PEP 691, 700, 714) -------------------------------------------------------------

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_NEXT_ENTRY = re.compile(r"[ \t\n\r]*,[ \t\n\r]*(?=\{)")
_scan_once = json.JSONDecoder().scan_once
(_START, _KEY_FIRST, _KEY, _COLON, _VALUE, _FILES_FIRST, _FILE, _FILES_SEP, _NEXT, _DONE) = range(
    10
)


class _Incomplete(Exception):
    """The buffer ends inside the value being read: wait for more of the body."""


class _JsonParser:
    """The top-level object read key by key; the ``files`` array entry by entry.

    Each value is read by the json module's own scanner (C) from a buffer that holds
    what is not yet read; a value cut by the end of the buffer is read again once the
    buffer has at least doubled, so an entry, however long, costs linear time.
    """

    def __init__(self, files: _Files) -> None:
        self._files = files
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("surrogatepass")
        self._buf = ""
        self._pos = 0
        self._pending: list[str] = []  # decoded, not yet in _buf
        self._pending_len = 0
        self._need = 0  # read again once this many characters are unread
        self._state = _START
        self._key = ""
        self._index = 0  # the next entry of files[]
        self._seen_files = False
        self._raw: list[bytes] | None = None  # not an object: kept whole for the message

    def feed(self, data: bytes | memoryview) -> None:
        if self._raw is not None:
            self._raw.append(bytes(data))
            return
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._pending.append(text)
        self._pending_len += len(text)
        if len(self._buf) - self._pos + self._pending_len >= self._need:
            self._take_pending()
            self._run(final=False)

    def _take_pending(self) -> None:
        self._buf = "".join([self._buf[self._pos :], *self._pending])
        self._pos = 0
        self._pending, self._pending_len = [], 0

    def close(self) -> None:
        if self._raw is not None:
            self._not_an_object(b"".join(self._raw))
        try:
            self._pending.append(self._decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._take_pending()
        self._run(final=True)
        if self._state != _DONE:
            raise PageError("project page is not valid JSON: it ends too early")
        if not self._seen_files:
            raise PageError("project page JSON has no 'files' list")

    def _not_an_object(self, body: bytes) -> None:
        try:
            json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise PageError(f"project page is not valid JSON: {exc}") from exc
        raise PageError("project page JSON is not an object")

    def _run(self, final: bool) -> None:
        s, pos, state = self._buf, self._pos, self._state
        end = len(s)
        ws = _JSON_WS.match
        next_entry = _JSON_NEXT_ENTRY.match
        scan = self._scan_entry
        try:
            while True:
                pos = ws(s, pos).end()
                if pos >= end:
                    break
                c = s[pos]
                if state == _FILE:
                    entry, pos = self._value(s, pos, final)
                    self._entry(entry)
                    state = _FILES_SEP
                    # The files array, entry after entry, without a turn of the state
                    # machine per separator (a page may list tens of thousands).
                    while True:
                        sep = next_entry(s, pos)
                        if sep is None or sep.end() >= end:
                            break
                        entry, after = scan(s, sep.end())
                        if after >= end:
                            break  # may be cut: read again by the general path
                        self._entry(entry)
                        pos = after
                elif state == _FILES_SEP:
                    if c == ",":
                        state = _FILE
                    elif c == "]":
                        state = _NEXT
                    else:
                        self._invalid(s, pos, "',' or ']'")
                    pos += 1
                elif state == _NEXT:
                    if c == ",":
                        state = _KEY
                    elif c == "}":
                        state = _DONE
                    else:
                        self._invalid(s, pos, "',' or '}'")
                    pos += 1
                elif state in (_KEY_FIRST, _KEY):
                    if c == "}" and state == _KEY_FIRST:
                        state, pos = _DONE, pos + 1
                    elif c == '"':
                        try:
                            self._key, pos = scanstring(s, pos + 1)
                        except ValueError:
                            if not final:
                                raise _Incomplete from None
                            raise
                        state = _COLON
                    else:
                        self._invalid(s, pos, "a key")
                elif state == _COLON:
                    if c != ":":
                        self._invalid(s, pos, "':'")
                    state, pos = _VALUE, pos + 1
                elif state == _VALUE:
                    if self._key == "files":
                        if self._seen_files:
                            raise PageError("project page JSON has two 'files' lists")
                        if c != "[":
                            raise PageError("project page JSON has no 'files' list")
                        self._seen_files = True
                        state, pos = _FILES_FIRST, pos + 1
                    else:
                        value, pos = self._value(s, pos, final)
                        if self._key == "meta":
                            _check_api_version(value)
                        state = _NEXT
                elif state == _FILES_FIRST:
                    if c == "]":
                        state, pos = _NEXT, pos + 1
                    else:
                        state = _FILE
                elif state == _START:
                    if c != "{":
                        self._raw = [s[pos:].encode("utf-8", "surrogatepass")]
                        self._buf, self._pos = "", 0
                        return
                    state, pos = _KEY_FIRST, pos + 1
                else:  # _DONE: only whitespace may follow
                    self._invalid(s, pos, "the end of the page")
        except _Incomplete:
            self._need = 2 * (end - pos)
        except ValueError as exc:  # JSONDecodeError from scanstring
            if isinstance(exc, PageError):
                raise
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._buf, self._pos, self._state = s, pos, state

    def _value(self, s: str, pos: int, final: bool) -> tuple[Any, int]:
        """One JSON value at ``pos`` and where it ends; _Incomplete when it may be cut."""
        try:
            value, after = _scan_once(s, pos)
        except StopIteration:
            if not final:
                raise _Incomplete from None
            self._invalid(s, pos, "a value")
        except ValueError:
            if not final:
                raise _Incomplete from None
            raise
        except RecursionError:
            raise PageError("project page is not valid JSON: nested too deeply") from None
        if after >= len(s) and not final:  # a number may go on in the next chunk
            raise _Incomplete
        return value, after

    def _scan_entry(self, s: str, pos: int) -> tuple[Any, int]:
        """One ``files[]`` entry (an object) at ``pos``; a scan that fails leaves the entry
        to ``_value`` (its messages, and waiting for more of the body)."""
        try:
            return _scan_once(s, pos)
        except (StopIteration, ValueError, RecursionError):
            return None, len(s)

    def _invalid(self, s: str, pos: int, expected: str) -> None:
        raise PageError(f"project page is not valid JSON: expected {expected} at char {pos}")

    def _entry(self, entry: object) -> None:
        """One file of ``files[]`` (thousands per page: kept tight, messages built only
        for a page that is wrong)."""
        index = self._index
        self._index += 1
        if type(entry) is not dict:
            raise PageError(f"files[{index}] is not an object")
        get = entry.get
        filename, url = get("filename"), get("url")
        if type(filename) is not str or type(url) is not str:
            raise PageError(f"files[{index}] lacks a string 'filename' and 'url'")
        files = self._files
        admitted = files.admit(filename)
        if admitted is None:
            return
        requires_python, upload_time, size = get("requires-python"), get("upload-time"), get("size")
        if (
            (requires_python is not None and type(requires_python) is not str)
            or (upload_time is not None and type(upload_time) is not str)
            or (size is not None and type(size) is not int)
        ):
            where = f"files[{index}] ({filename})"
            for key, kind in (("requires-python", str), ("upload-time", str), ("size", int)):
                _optional(entry, key, kind, where)
        if requires_python:
            requires_python = files.requires_python(filename, requires_python)
            if requires_python is False:
                return
        else:
            requires_python = None
        url, fragment_hashes, _ = _split_url(files.base_url, url)
        hashes = _hash_dict(get("hashes"), index, filename, "hashes") or {}
        if fragment_hashes:
            for key, value in fragment_hashes.items():
                hashes.setdefault(key, value)
        yanked, reason = get("yanked"), None
        if yanked is None:
            yanked = False
        elif yanked is not True and yanked is not False:
            yanked, reason = _json_yanked(yanked, f"files[{index}] ({filename})")
        key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
        metadata = get(key)
        if metadata is True:
            metadata = {}
        elif metadata is False:
            metadata = None
        else:
            metadata = _hash_dict(metadata, index, filename, key)
        dist = DistFile(
            filename, url, hashes, requires_python, yanked, reason, metadata, upload_time, size
        )
        files.add(*admitted, dist)


def _check_api_version(meta: object) -> None:
    """PEP 691: a client must refuse a major API version it does not know."""
    if not isinstance(meta, dict) or "api-version" not in meta:
        return
    version = meta["api-version"]
    major = str(version).split(".", 1)[0]
    if major != "1":
        raise PageError(f"unsupported simple API version {version!r} (need 1.x)")


def _optional(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if value is None:
        return None
    if type(value) is not kind:  # JSON gives exact types (and a bool is not an int here)
        raise PageError(f"{where} '{key}' is not a {kind.__name__}")
    return value


def _json_yanked(value: object, where: str) -> tuple[bool, str | None]:
    if value is None or value is False:
        return False, None
    if value is True:
        return True, None
    if isinstance(value, str):
        return True, value or None
    raise PageError(f"{where} 'yanked' is neither a boolean nor a reason string")


# Hash names as pages spell them, and the one string each is kept as.
_HASH_KEYS = {name: name for name in _HASH_NAMES}


def _hash_dict(value: object, index: int, filename: str, key: str) -> dict[str, str] | None:
    if value is None:
        return None
    if type(value) is dict:
        if len(value) == 1:  # nearly always {"sha256": "<lower-case hex>"}: kept as it is
            digest = value.get("sha256")
            if type(digest) is str and digest.islower():
                return value
        out = {}
        for k, v in value.items():
            if type(k) is not str or type(v) is not str:
                break
            out[_HASH_KEYS.get(k) or k.lower()] = v if v.islower() else v.lower()
        else:
            return out
    where = f"files[{index}] ({filename})"
    raise PageError(f"{where} '{key}' is not a mapping of hash names to strings")


# --- HTML (PEP 503, 592, 658, 714) --------------------------------------------------------


class _AnchorParser(HTMLParser):
    """Hands each ``<a>``'s attributes and text to ``on_anchor``; finds the first
    ``<base href>``."""

    def __init__(self, on_anchor: Callable[[dict[str, str | None], str], None]) -> None:
        super().__init__(convert_charrefs=True)
        self.base_href: str | None = None
        self.on_anchor = on_anchor
        self._open: tuple[dict[str, str | None], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base" and self.base_href is None:
            href = dict(attrs).get("href")
            if href:
                self.base_href = href
        elif tag == "a":
            self._close_anchor()
            self._open = (dict(attrs), [])

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._close_anchor()

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open[1].append(data)

    def close(self) -> None:
        super().close()
        self._close_anchor()

    def _close_anchor(self) -> None:
        if self._open is not None:
            attrs, text = self._open
            self._open = None
            self.on_anchor(attrs, "".join(text).strip())


def _parse_anchors(text: str) -> tuple[list[tuple[dict[str, str | None], str]], str | None]:
    """Anchors (attributes, text) and the first ``<base href>``, by ``html.parser``."""
    anchors: list[tuple[dict[str, str | None], str]] = []
    parser = _AnchorParser(lambda attrs, text: anchors.append((attrs, text)))
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # HTMLParser's last-resort failures
        raise PageError(f"project page is not parseable HTML: {exc}") from exc
    return anchors, parser.base_href


class _HtmlParser:
    """The fast scanner below while the page is plain markup; html.parser from the first
    piece of markup it cannot vouch for, to the end (both see the same anchors)."""

    def __init__(self, files: _Files, content_type: str | None) -> None:
        self._files = files
        self._decoder = codecs.getincrementaldecoder(_charset(content_type))(errors="replace")
        self._scanner: _Scanner | None = _Scanner(self._anchor) if FAST_SCAN else None
        self._parser: _AnchorParser | None = None
        self._text = ""  # decoded and not yet scanned (from a "<" on)
        self._pending: list[str] = []  # decoded after _text, not yet scanned
        self._pending_len = 0
        self._need = 0  # scan again once this many characters are unscanned
        if self._scanner is None:
            self._parser = _AnchorParser(self._anchor)

    def feed(self, data: bytes | memoryview) -> None:
        text = self._decoder.decode(data)
        if self._scanner is not None:
            # What the scanner left (a tag cut by the chunk's end) is scanned again with
            # the next chunk, or once it doubled if it is long: linear in any case.
            self._pending.append(text)
            self._pending_len += len(text)
            if len(self._text) + self._pending_len < self._need:
                return
            text = "".join([self._text, *self._pending])
            self._text, self._pending, self._pending_len = "", [], 0
        self._run(text, final=False)

    def close(self) -> None:
        text = "".join([self._text, *self._pending, self._decoder.decode(b"", final=True)])
        self._text, self._pending, self._pending_len = "", [], 0
        self._run(text, final=True)
        parser = self._parser
        if parser is not None:
            try:
                parser.close()
            except (AssertionError, ValueError) as exc:
                raise PageError(f"project page is not parseable HTML: {exc}") from exc
            if parser.base_href:
                self._files.base_href = parser.base_href

    def _run(self, text: str, final: bool) -> None:
        scanner = self._scanner
        if scanner is not None:
            stop = scanner.scan(text, final)
            if stop is None:  # all scanned up to the last "<"
                self._text = text[scanner.consumed :]
                self._need = 2 * len(self._text)
                return
            # The scanner cannot vouch for the markup at ``stop``: html.parser reads on
            # from there, in the state the scanner leaves (an anchor may be open).
            self._scanner = None
            self._text = ""
            self._parser = _AnchorParser(self._anchor)
            if scanner.attrs is not None:
                self._parser._open = (scanner.attrs, scanner.chunks)
            text = text[stop:]
        parser = self._parser
        assert parser is not None
        try:
            parser.feed(text)
        except (AssertionError, ValueError) as exc:  # HTMLParser's last-resort failures
            raise PageError(f"project page is not parseable HTML: {exc}") from exc
        if parser.base_href and self._files.base_href is None:
            self._files.base_href = parser.base_href

    def _anchor(self, attrs: dict[str, str | None], anchor_text: str) -> None:
        href = attrs.get("href")
        if not href:
            return
        files = self._files
        base = files.base()
        href = href.strip()
        if files.filtering:  # find out before resolving the URL
            parsed = parse_filename(_last_segment(href))
            if parsed is not None and not files.wanted(parsed):
                return
        url, hashes, last = _split_url(base, href)
        filename = urlsplit(url).path.rsplit("/", 1)[-1] if last is None else last
        if "%" in filename:
            filename = unquote(filename)
        if parse_filename(filename) is None and parse_filename(anchor_text) is not None:
            filename = anchor_text  # the text names the file, the URL does not
        admitted = files.admit(filename)
        if admitted is None:
            return
        requires_python = files.requires_python(
            filename, (attrs.get("data-requires-python") or "").strip()
        )
        if requires_python is False:
            return
        yanked = "data-yanked" in attrs
        key = "data-core-metadata" if "data-core-metadata" in attrs else "data-dist-info-metadata"
        dist = DistFile(
            filename,
            url,
            hashes,
            requires_python,  # type: ignore[arg-type]
            yanked,
            (attrs.get("data-yanked") or None) if yanked else None,
            _html_metadata(attrs.get(key)),
        )
        files.add(*admitted, dist, href, base)


# --- the fast path: what _AnchorParser finds, on pages of plain, well-formed markup -------
#
# A simple-API page is a list of anchors; html.parser spends most of its time on generic
# tokenizing. The scanner below accepts only a strict subset of HTML on which every
# html.parser of the supported Pythons (their tolerant rules changed over the 3.11-3.14
# security releases) gives the same events: tags with plain names and attributes separated
# by ASCII whitespace, one "=" before each value, quoted values, unquoted values without
# whitespace, quotes, "<" or ">", end tags without attributes, doctype, comments without
# "--", "<" or ">" inside, text. Anything else (``<base>``, ``<?``, a stray "<", a NUL,
# raw-text elements with markup or references inside, an anchor's duplicate attribute)
# hands the rest of the page, from that tag on, to html.parser (the anchors before it are
# the same either way, whichever chunk it comes in); tests/unit/test_simple_scanner.py
# holds both to the same answers, whole and fed in pieces.

_WS = r"[ \t\n\r\f]"
_ATTR = (  # groups: the name, the value as written (quotes included; empty when none)
    rf"{_WS}+([A-Za-z_:][-A-Za-z0-9_:.]*)"
    rf"(?:{_WS}*={_WS}*(\"[^\"]*\"|'[^']*'|[^\s\"'=<>`][^\s\"'<>`]*))?"
)
_ATTRS = re.compile(_ATTR)
_ANY_ATTRS = re.sub(r"\((?!\?)", "(?:", _ATTR)  # the same, without groups
# Each token is one piece of markup and the text after it (up to the next "<"). The first
# alternative is the usual anchor, whole, with the line breaks after it: ``<a ...>text</a>``
# then any ``<br>``, ``<br/>`` (tags without attributes: nothing for the anchor parser).
_TOKEN = re.compile(
    rf"<[aA]((?:{_ANY_ATTRS})*){_WS}*>([^<]*)</[aA]{_WS}*>[^<]*"  # 1 attributes, 2 text
    rf"(?:<[bB][rR]{_WS}*/?>[^<]*)*"
    rf"|<([A-Za-z][A-Za-z0-9]*)((?:{_ANY_ATTRS})*){_WS}*(/?)>([^<]*)"  # 3 tag 4 attrs 5 / 6
    rf"|</([A-Za-z][A-Za-z0-9]*){_WS}*>([^<]*)"  # 7 end tag, 8 text
    r"|(?:<!--(?!-?>)(?:[^<>-]|-(?!-))*-->"  # a comment without "--", "<", ">" inside
    rf"|<![Dd][Oo][Cc][Tt][Yy][Pp][Ee]{_WS}[^<>\"']*>)([^<]*)"  # or a doctype; 9 text
)
# Elements whose content html.parser reads as raw text (in some versions): accepted only
# with plain text inside (then every version sees the same), outside anchors.
_RAW_TEXT = frozenset(
    {"script", "style", "xmp", "iframe", "noembed", "noframes", "noscript", "textarea", "title"}
)
_REFUSED = frozenset({"base", "plaintext"})


class _Scanner:
    """``_AnchorParser``'s anchors, read by regular expressions, chunk by chunk.

    ``scan`` reads a text that starts where the last call stopped (``consumed``) and
    returns None once it read all it could vouch for, or where html.parser must take
    over. Without ``final`` it reads up to the last ``<`` (a tag may be cut there).
    """

    def __init__(self, on_anchor: Callable[[dict[str, str | None], str], None]) -> None:
        self.on_anchor = on_anchor
        self.attrs: dict[str, str | None] | None = None  # the open anchor (with markup inside)
        self.chunks: list[str] = []
        self.consumed = 0
        self._started = False  # the first "<" was seen (text before it is nobody's)

    def scan(self, text: str, final: bool) -> int | None:
        pos = 0
        if not self._started:
            pos = text.find("<")
            if pos < 0:
                self.consumed = len(text)
                return None
            self._started = True
        limit = len(text) if final else text.rfind("<")
        if limit <= pos:
            self.consumed = pos
            return None
        if text.find("\x00", pos, limit) >= 0:
            return pos
        emit = self.on_anchor
        attrs, chunks = self.attrs, self.chunks
        raw_text: str | None = None  # the raw-text element just opened, from raw_start
        raw_start = pos
        stop: int | None = None
        for m in _TOKEN.finditer(text, pos, limit):
            start = m.start()
            if start != pos:
                stop = pos
                break
            kind = m.lastindex
            if raw_text is not None:  # its content must be plain text, then its end tag
                if kind != 8 or m.group(7).lower() != raw_text:
                    stop = start
                    break
                raw_text = None
            elif kind == 2:  # a whole anchor (closing any open one first)
                found = _anchor_attrs(m.group(1))
                if found is None:
                    stop = start
                    break
                if attrs is not None:
                    emit(attrs, "".join(chunks).strip())
                    attrs = None
                emit(found, _text(m.group(2)).strip())
                pos = m.end()
                continue
            elif kind == 6:
                tag = m.group(3).lower()
                if tag == "a":
                    found = _anchor_attrs(m.group(4))
                    if found is None:
                        stop = start
                        break
                    if attrs is not None:
                        emit(attrs, "".join(chunks).strip())
                    attrs, chunks = found, []
                    if m.group(5):  # <a .../>: opened and closed
                        emit(attrs, "")
                        attrs = None
                elif tag in _RAW_TEXT:
                    if attrs is not None or "&" in m.group(6):
                        stop = start
                        break
                    raw_text, raw_start = tag, start
                elif tag in _REFUSED:
                    stop = start
                    break
            elif kind == 8 and attrs is not None and m.group(7) in ("a", "A"):
                emit(attrs, "".join(chunks).strip())
                attrs = None
            if attrs is not None and m.group(kind):
                chunks.append(_text(m.group(kind)))
            pos = m.end()
        else:
            if pos != limit:
                stop = pos
        self.attrs, self.chunks = attrs, chunks
        if raw_text is not None:  # html.parser (or the next call) reads it from its tag
            if stop is not None or final:
                return raw_start
            self.consumed = raw_start
            return None
        if stop is not None:
            return stop
        if final and attrs is not None:
            emit(attrs, "".join(chunks).strip())
            self.attrs = None
        self.consumed = pos
        return None


def _scan_anchors(text: str) -> list[tuple[dict[str, str | None], str]] | None:
    """``_AnchorParser``'s anchors, or None when the page is not of the plain kind."""
    anchors: list[tuple[dict[str, str | None], str]] = []
    scanner = _Scanner(lambda attrs, text: anchors.append((attrs, text)))
    return anchors if scanner.scan(text, final=True) is None else None


FAST_SCAN = True  # False: every HTML page goes to html.parser (tests compare the two)


def _text(data: str) -> str:
    return _unescape(data) if "&" in data else data


def _anchor_attrs(raw: str) -> dict[str, str | None] | None:
    """An anchor's attributes as html.parser gives them; None for a duplicate name."""
    pairs = _PLAIN_ATTR.findall(raw)
    # Only the usual ' name="value"' attributes, when the matches cover the whole text.
    if 4 * len(pairs) + sum(map(len, chain.from_iterable(pairs))) == len(raw):
        plain: dict[str, str | None] = dict(pairs)
        if len(plain) != len(pairs):
            return None
        if "&" in raw:
            for name, value in pairs:
                if "&" in value:
                    unescaped = _unescape_value(value)
                    if unescaped is None:
                        return None
                    plain[name] = unescaped
        return plain
    found = _ATTRS.findall(raw)
    attrs: dict[str, str | None] = {}
    for name, written in found:
        value: str | None = written
        if not written:
            value = None
        else:
            if written[0] in "\"'":
                value = written = written[1:-1]
            if "&" in written:
                if _AMBIGUOUS_REF.search(written):
                    return None
                value = _unescape(written)
        attrs[name.lower()] = value
    return attrs if len(attrs) == len(found) else None


# The usual attributes: lower-case names, one space before each, double-quoted values.
_PLAIN_ATTR = re.compile(r' ([a-z][-a-z0-9_:.]*)="([^"]*)"')


@lru_cache(maxsize=1024)
def _unescape_value(value: str) -> str | None:
    """An attribute value with references, unescaped; None when an "&" is ambiguous."""
    return None if _AMBIGUOUS_REF.search(value) else unescape(value)


# The same few escaped values (``&gt;=3.8``) come back on every line of a page.
_unescape = lru_cache(maxsize=1024)(unescape)
# An "&" that does not start a complete reference: HTML5 reads some of these differently
# in attribute values (``&notit=``), and so might a future html.parser.
_AMBIGUOUS_REF = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")


def _html_metadata(value: str | None) -> dict[str, str] | None:
    """``true`` offers metadata without a hash, ``<hash>=<hex>`` with one, else none."""
    if value is None:
        return None
    plain = _SHA256_VALUE.fullmatch(value)  # nearly every link: the answer, quicker
    if plain is not None:
        return {"sha256": plain.group(1)}
    value = value.strip()
    if value.lower() == "false" or not value:
        return None
    match = _HASH_FRAGMENT.match(value)
    if match:
        return {match.group(1).lower(): match.group(2).lower()}
    return {}  # "true", or a malformed value: offered, nothing to verify against (as pip)


# --- shared helpers -----------------------------------------------------------------------


def _split_url(base: str, href: str) -> tuple[str, dict[str, str], str | None]:
    """Absolute URL without fragment, the ``#<hash>=<hex>`` fragment as a hash dict, and
    the URL path's last segment when known without splitting the URL again.

    What ``urldefrag(urljoin(base, href))`` gives, without parsing a URL per file in the
    usual shapes (a page has thousands of links): an absolute ``http(s)`` URL of plain
    characters is already what urljoin would give; a relative one (``../../f/x.whl``,
    ``/f/x.whl``, ``x.whl``) is its folder's join with the base, once per page and
    number of ``..``, followed by plain segments.
    """
    absolute = _PLAIN_ABSOLUTE.fullmatch(href)
    if absolute is not None:  # as urljoin leaves it, unless a segment is "." or "..", or ""
        url, last, sha256, fragment = absolute.groups()
        if last[0] != "." and "/." not in url and url.find("//", 8) < 0:
            if sha256 is not None:
                return url, {"sha256": sha256}, last
            return url, _fragment_hashes(fragment), last
    relative = _PLAIN_RELATIVE.fullmatch(href)
    if relative is not None:  # its folder's join with the base, then plain segments
        ups, rest, last, sha256, fragment = relative.groups()
        lead = ups or "./"
        if rest[0] == "/" and not ups:  # from the host's root
            lead, rest = "/", rest[1:]
        if last[0] != "." and rest[0] not in "./" and "/." not in rest and "//" not in rest:
            joined = _join_folder(base, lead)
            if joined is not None:
                hashes = {"sha256": sha256} if sha256 is not None else _fragment_hashes(fragment)
                return joined + rest, hashes, last
    fast = _FAST_HREF.fullmatch(href)
    folder = _join_folder(base, fast.group(1)) if fast else None
    if fast and folder is not None:
        # Another folder shape (``./a/../b/``...): resolved once per page and folder.
        return folder + fast.group(2), _fragment_hashes(fast.group(3)), fast.group(2)
    try:
        url, fragment = urldefrag(urljoin(base, href))
    except ValueError as exc:  # e.g. a malformed IPv6 host
        raise PageError(f"invalid URL {href!r}: {exc}") from exc
    return url, _fragment_hashes(fragment), None


_SHA256_VALUE = re.compile(r"sha256=([0-9a-f]+)")


def _last_segment(href: str) -> str:
    """The last path segment ``_split_url`` would find (decoded), or "" when that is not
    plain to see (a query, params, a dot segment, a bare host...)."""
    path = href.partition("#")[0]
    last = path[path.rfind("/") + 1 :]
    if not last or last[0] == "." or _NOT_PLAIN.search(path):
        return ""
    at = path.find("//")
    if at >= 0 and path.find("/", at + 2) < 0:  # "//host": the host, not a path segment
        return ""
    return unquote(last) if "%" in last else last


_NOT_PLAIN = re.compile(r"[?;\\\s]")


def _fragment_hashes(fragment: str | None) -> dict[str, str]:
    if not fragment:
        return {}
    plain = _SHA256_VALUE.fullmatch(fragment)  # nearly every link: the answer, quicker
    if plain is not None:
        return {"sha256": plain.group(1)}
    match = _HASH_FRAGMENT.match(fragment)
    if match and match.group(1).lower() in _HASH_NAMES:
        return {_HASH_KEYS[match.group(1).lower()]: match.group(2).lower()}
    return {}


# Absolute: scheme, a host of plain characters, a path of plain characters (no "." or ".."
# segments and no "//": checked besides). Relative: the same path characters, no ":"
# (that would make its first segment a scheme).
_PLAIN_ABSOLUTE = re.compile(  # 1 the URL, 2 its last segment, 3 a sha256 or 4 any fragment
    r"(https?://[A-Za-z0-9._~%!$&'()*+,=:@-]+/(?:[A-Za-z0-9._~%!$&'()*+,=:@/-]*/)?"
    r"([A-Za-z0-9._~%!$&'()*+,=:@-]+))(?:#(?:sha256=([0-9a-f]+)|([^\t\r\n]*)))?"
)
_PLAIN_RELATIVE = re.compile(  # 1 "../"s, 2 the rest, 3 its last segment, 4 sha256, 5 fragment
    r"((?:\.\./)*)(/?(?:[A-Za-z0-9._~%!$&'()*+,=@/-]*/)?([A-Za-z0-9._~%!$&'()*+,=@-]+))"
    r"(?:#(?:sha256=([0-9a-f]+)|([^\t\r\n]*)))?"
)
# A folder without query, params, fragment, backslashes or whitespace, then a last segment
# of plain characters (never "." or ".."), then optionally a plain "name=value" fragment.
_FAST_HREF = re.compile(r"([^?#;\\\s]*/)([A-Za-z0-9_+~-][A-Za-z0-9._+~%-]*)(?:#([A-Za-z0-9=]*))?")

_AUTHORITY_FOLDER = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.-]*:)?//[^/]+/(?:[^/]+/)*")


@lru_cache(maxsize=1024)
def _join_folder(base: str, folder: str) -> str | None:
    """``urljoin(base, folder)`` when appending a plain segment to it gives what urljoin
    and urldefrag give for ``folder + segment``: a URL ending in ``/``, that urlsplit and
    urlunsplit leave as it is (no normalization left to do), without query or params,
    whose path ends in ``/`` (so the segment is the path's last one, never the host).
    None when that does not hold (the caller then takes the general path)."""
    if "//" in folder and not _AUTHORITY_FOLDER.fullmatch(folder):
        return None  # "//" where the segment would become (part of) the host
    try:
        joined = urljoin(base, folder)
        parts = urlsplit(joined)
        if urlunsplit(parts) != joined or not parts.path.endswith("/"):
            return None
    except ValueError:
        return None
    if not joined.endswith("/") or any(c in joined for c in "?#;\\") or "//" not in joined:
        return None
    return joined


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str:
    for param in (content_type or "").split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            name = value.strip().strip("\"'")
            try:
                codecs.getincrementaldecoder(name)
            except (LookupError, TypeError):
                break
            return name
    return "utf-8"
