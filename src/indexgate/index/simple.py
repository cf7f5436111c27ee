"""Project pages as data: PEP 691 JSON, PEP 503 HTML, find-links pages and local folders.

Pure parsing, no network I/O: the client fetches the bytes and hands them here, so every
mirror quirk (wrong content type, entity-escaped attributes, ``<base>``) is handled in one
place and is testable without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from packaging.utils import canonicalize_name

from indexgate.index.models import DistFile, parse_filename

__all__ = [
    "ACCEPT",
    "PageError",
    "files_for_project",
    "list_local_folder",
    "parse_flat_page",
    "parse_project_page",
]

# PEP 691 content negotiation: JSON first, HTML for older servers and mirrors.
ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01"
)

_HASH_NAMES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
_HASH_FRAGMENT = re.compile(r"^([A-Za-z0-9]+)=([0-9A-Za-z]+)$")


class PageError(ValueError):
    """A project page or folder that cannot be read as a list of files."""


def parse_project_page(body: bytes, content_type: str | None, base_url: str) -> list[DistFile]:
    """Files on a simple-API project page, JSON or HTML, whichever the server really sent.

    Content type decides, but a body starting with ``{`` is JSON whatever the header
    says, because some mirrors ignore ``Accept`` and mislabel their responses.
    """
    media = _media_type(content_type)
    if media == "application/json" or media.endswith("+json") or body.lstrip()[:1] == b"{":
        return _parse_json(body, base_url)
    return _parse_html(body, content_type, base_url)


def parse_flat_page(body: bytes, content_type: str | None, base_url: str) -> list[DistFile]:
    """Files linked from a find-links page: any HTML whose anchors point at dists."""
    return _parse_html(body, content_type, base_url)


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


# --- JSON (PEP 691, 700, 714) -------------------------------------------------------------


def _parse_json(body: bytes, base_url: str) -> list[DistFile]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
        raise PageError(f"project page is not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise PageError("project page JSON is not an object")
    _check_api_version(doc.get("meta"))
    raw_files = doc.get("files")
    if not isinstance(raw_files, list):
        raise PageError("project page JSON has no 'files' list")
    files = []
    for i, entry in enumerate(raw_files):
        dist = _json_file(entry, i, base_url)
        if dist is not None:
            files.append(dist)
    return files


def _check_api_version(meta: object) -> None:
    """PEP 691: a client must refuse a major API version it does not know."""
    if not isinstance(meta, dict) or "api-version" not in meta:
        return
    version = meta["api-version"]
    major = str(version).split(".", 1)[0]
    if major != "1":
        raise PageError(f"unsupported simple API version {version!r} (need 1.x)")


def _json_file(entry: object, index: int, base_url: str) -> DistFile | None:
    if not isinstance(entry, dict):
        raise PageError(f"files[{index}] is not an object")
    filename, url = entry.get("filename"), entry.get("url")
    if not isinstance(filename, str) or not isinstance(url, str):
        raise PageError(f"files[{index}] lacks a string 'filename' and 'url'")
    if parse_filename(filename) is None:
        return None
    where = f"files[{index}] ({filename})"
    absolute, fragment_hashes, _ = _split_url(base_url, url)
    hashes = _hash_dict(entry.get("hashes"), f"{where} 'hashes'") or {}
    for key, value in fragment_hashes.items():
        hashes.setdefault(key, value)
    yanked, reason = _json_yanked(entry.get("yanked"), where)
    key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
    return DistFile(
        filename=filename,
        url=absolute,
        hashes=hashes,
        requires_python=_optional(entry, "requires-python", str, where) or None,
        yanked=yanked,
        yanked_reason=reason,
        metadata_hashes=_json_metadata(entry.get(key), f"{where} '{key}'"),
        upload_time=_optional(entry, "upload-time", str, where),
        size=_optional(entry, "size", int, where),
    )


def _optional(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
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


def _json_metadata(value: object, where: str) -> dict[str, str] | None:
    if value is None or value is False:
        return None
    if value is True:
        return {}
    return _hash_dict(value, where)


def _hash_dict(value: object, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise PageError(f"{where} is not a mapping of hash names to strings")
    return {k.lower(): v.lower() for k, v in value.items()}


# --- HTML (PEP 503, 592, 658, 714) --------------------------------------------------------


class _AnchorParser(HTMLParser):
    """Collects ``<a>`` attributes and text, and the first ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base_href: str | None = None
        self.anchors: list[tuple[dict[str, str | None], str]] = []
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
            self.anchors.append((attrs, "".join(text).strip()))
            self._open = None


def _parse_html(body: bytes, content_type: str | None, base_url: str) -> list[DistFile]:
    text = body.decode(_charset(content_type), errors="replace")
    scanned = _scan_anchors(text)
    if scanned is not None:
        anchors, base_href = scanned, None
    else:
        anchors, base_href = _parse_anchors(text)
    # The document's base URL comes from the first <base href>, wherever it appears.
    base = urljoin(base_url, base_href) if base_href else base_url
    files = []
    for attrs, anchor_text in anchors:
        dist = _html_file(attrs, anchor_text, base)
        if dist is not None:
            files.append(dist)
    return files


def _parse_anchors(text: str) -> tuple[list[tuple[dict[str, str | None], str]], str | None]:
    """Anchors (attributes, text) and the first ``<base href>``, by ``html.parser``."""
    parser = _AnchorParser()
    try:
        parser.feed(text)
        parser.close()
    except (AssertionError, ValueError) as exc:  # HTMLParser's last-resort failures
        raise PageError(f"project page is not parseable HTML: {exc}") from exc
    return parser.anchors, parser.base_href


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
# sends the whole page to html.parser; tests/unit/test_simple_scanner.py holds both to
# the same answers.

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


def _scan_anchors(text: str) -> list[tuple[dict[str, str | None], str]] | None:
    """``_AnchorParser``'s anchors, or None when the page is not of the plain kind."""
    if "\x00" in text:
        return None
    anchors: list[tuple[dict[str, str | None], str]] = []
    attrs: dict[str, str | None] | None = None  # the open anchor's (one with markup inside)
    chunks: list[str] = []
    pos = text.find("<")
    if pos < 0:
        return anchors
    raw_text: str | None = None  # the raw-text element just opened
    for m in _TOKEN.finditer(text, pos):
        if m.start() != pos:
            return None
        pos = m.end()
        kind = m.lastindex
        if raw_text is not None:  # its content must be plain text, then its end tag
            if kind != 8 or m.group(7).lower() != raw_text:
                return None
            raw_text = None
        elif kind == 2:  # a whole anchor (closing any open one first)
            if attrs is not None:
                anchors.append((attrs, "".join(chunks).strip()))
                attrs = None
            found = _anchor_attrs(m.group(1))
            if found is None:
                return None
            anchors.append((found, _text(m.group(2)).strip()))
            continue
        elif kind == 6:
            tag = m.group(3).lower()
            if tag == "a":
                if attrs is not None:
                    anchors.append((attrs, "".join(chunks).strip()))
                attrs = _anchor_attrs(m.group(4))
                if attrs is None:
                    return None
                chunks = []
                if m.group(5):  # <a .../>: opened and closed
                    anchors.append((attrs, ""))
                    attrs = None
            elif tag in _RAW_TEXT:
                if attrs is not None or "&" in m.group(6):
                    return None
                raw_text = tag
            elif tag in _REFUSED:
                return None
        elif kind == 8 and attrs is not None and m.group(7) in ("a", "A"):
            anchors.append((attrs, "".join(chunks).strip()))
            attrs = None
        if attrs is not None and m.group(kind):
            chunks.append(_text(m.group(kind)))
    if pos != len(text) or raw_text is not None:
        return None
    if attrs is not None:
        anchors.append((attrs, "".join(chunks).strip()))
    return anchors


def _text(data: str) -> str:
    return _unescape(data) if "&" in data else data


def _anchor_attrs(raw: str) -> dict[str, str | None] | None:
    """An anchor's attributes as html.parser gives them; None for a duplicate name."""
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


# The same few escaped values (``&gt;=3.8``) come back on every line of a page.
_unescape = lru_cache(maxsize=1024)(unescape)
# An "&" that does not start a complete reference: HTML5 reads some of these differently
# in attribute values (``&notit=``), and so might a future html.parser.
_AMBIGUOUS_REF = re.compile(r"&(?!#[0-9]+;|#[xX][0-9a-fA-F]+;|[A-Za-z][A-Za-z0-9]*;)")


def _html_file(attrs: dict[str, str | None], anchor_text: str, base: str) -> DistFile | None:
    href = attrs.get("href")
    if not href:
        return None
    url, hashes, last = _split_url(base, href.strip())
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1] if last is None else last)
    if parse_filename(filename) is None:
        if parse_filename(anchor_text) is None:
            return None
        filename = anchor_text
    yanked = "data-yanked" in attrs
    key = "data-core-metadata" if "data-core-metadata" in attrs else "data-dist-info-metadata"
    return DistFile(
        filename=filename,
        url=url,
        hashes=hashes,
        requires_python=(attrs.get("data-requires-python") or "").strip() or None,
        yanked=yanked,
        yanked_reason=(attrs.get("data-yanked") or None) if yanked else None,
        metadata_hashes=_html_metadata(attrs.get(key)),
    )


def _html_metadata(value: str | None) -> dict[str, str] | None:
    """``true`` offers metadata without a hash, ``<hash>=<hex>`` with one, else none."""
    if value is None:
        return None
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
    the URL path's last segment when known without splitting the URL again."""
    fast = _FAST_HREF.fullmatch(href)
    folder = _join_folder(base, fast.group(1)) if fast else None
    last = None
    if fast and folder is not None:
        # The common shape (``../../files/<name>.whl#sha256=<hex>``): the folder part is
        # resolved once per page and folder, the plain last segment appended, which is
        # what urljoin + urldefrag make of it (see _join_folder); a page has 100s of these.
        last = fast.group(2)
        url, fragment = folder + last, fast.group(3) or ""
    else:
        try:
            url, fragment = urldefrag(urljoin(base, href))
        except ValueError as exc:  # e.g. a malformed IPv6 host
            raise PageError(f"invalid URL {href!r}: {exc}") from exc
    match = _HASH_FRAGMENT.match(fragment)
    if match and match.group(1).lower() in _HASH_NAMES:
        return url, {match.group(1).lower(): match.group(2).lower()}, last
    return url, {}, last


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
                "".encode(name)
            except LookupError:
                break
            return name
    return "utf-8"
