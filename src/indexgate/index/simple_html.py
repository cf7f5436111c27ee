"""The HTML project page reader (PEP 503, 592, 658, 714), incremental.

Anchors are found by a strict, fast scanner on plain markup (``_Scanner``) and by
html.parser from the first tag it refuses on (``_AnchorParser``); each anchor is checked
and handed to the page model (``page.Files``). Also reads find-links pages.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from functools import lru_cache
from html import unescape
from html.parser import HTMLParser
from itertools import chain
from urllib.parse import unquote, urlsplit

from indexgate.dists.models import DistFile, parse_filename
from indexgate.index.page import (
    HASH_FRAGMENT,
    SHA256_VALUE,
    Files,
    PageError,
    last_segment,
    page_charset,
    split_url,
)


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


class HtmlParser:
    """The fast scanner below while the page is plain markup; html.parser from the first
    piece of markup it cannot vouch for, to the end (both see the same anchors)."""

    def __init__(self, files: Files, content_type: str | None) -> None:
        self._files = files
        self._decoder = codecs.getincrementaldecoder(page_charset(content_type))(errors="replace")
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
            parsed = parse_filename(last_segment(href))
            if parsed is not None and not files.wanted(parsed):
                return
        url, hashes, last = split_url(base, href)
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
    plain = SHA256_VALUE.fullmatch(value)  # nearly every link: the answer, quicker
    if plain is not None:
        return {"sha256": plain.group(1)}
    value = value.strip()
    if value.lower() == "false" or not value:
        return None
    match = HASH_FRAGMENT.match(value)
    if match:
        return {match.group(1).lower(): match.group(2).lower()}
    return {}  # "true", or a malformed value: offered, nothing to verify against (as pip)
