"""The HTML project page reader (PEP 503, 592, 658, 714), incremental.

Anchors are found by a strict, fast scanner on plain markup (``html_scan._Scanner``) and by
html.parser from the first tag it refuses on (``_AnchorParser``); each anchor is checked
and handed to the page model (``page.Files``). Also reads find-links pages.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from indexgate.dists.models import new_dist, parse_filename
from indexgate.index.html_scan import _Scanner
from indexgate.index.page import (
    HASH_FRAGMENT,
    SHA256_VALUE,
    Files,
    PageError,
    fragment_hashes,
    last_segment,
    page_charset,
    split_plain,
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
        self._scanner: _Scanner | None = (
            _Scanner(self._anchor, self._link, self._dropped, files.dropped_tags)
            if FAST_SCAN
            else None
        )
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

    def _dropped(self, href: str) -> bool:
        """Whether the link is another platform's wheel of a settled version (most of a
        page with native wheels), known by its last segment, before any other work."""
        files = self._files  # (its dropped_tags: what the scanner skips by, while not empty)
        return bool(files.dropped_tags) and files.dropped(last_segment(href.strip()))

    def _anchor(self, attrs: dict[str, str | None], anchor_text: str) -> None:
        href = attrs.get("href")
        if not href or self._dropped(href):
            return
        yanked = attrs.get("data-yanked")
        if yanked is None and "data-yanked" in attrs:
            yanked = ""  # a bare attribute: yanked, without a reason (as an empty one)
        key = "data-core-metadata" if "data-core-metadata" in attrs else "data-dist-info-metadata"
        self._link(
            href,
            attrs.get("data-requires-python"),
            yanked,
            None,
            attrs.get(key),
            anchor_text,
        )

    def _link(
        self,
        href: str | None,
        requires_python: str | None,
        yanked: str | None,
        dist_info_metadata: str | None,
        core_metadata: str | None,
        anchor_text: str,
    ) -> None:
        """One anchor, by the attributes that matter (unescaped; None: absent), and its
        text (stripped here, where it is needed: seldom): the file it links to, if a
        target can use it, handed to ``Files``. The scanner calls it with what its
        usual-anchor pattern captured, ``_anchor`` with what html.parser (or the scanner's
        general path) found. Both ask ``_dropped`` first (the scanner not of an href with
        a reference: ``Files.admit`` drops that file then, by a parse)."""
        if not href:
            return
        files = self._files
        href = href.strip()
        base = files.base_url if files.base_href is None else files.base()
        plain = split_plain(base, href)
        if plain is not None:  # nearly every link: no URL parse, nothing done twice
            url, filename, sha256, fragment = plain
            hashes = None  # read from the fragment once the file is admitted
        else:
            if files.filtering:  # find out before resolving the URL
                parsed = parse_filename(last_segment(href))
                if parsed is not None and not files.wanted(parsed):
                    return
            url, hashes, last = split_url(base, href)
            filename = urlsplit(url).path.rsplit("/", 1)[-1] if last is None else last
        if "%" in filename:
            filename = unquote(filename)
        parsed = parse_filename(filename)
        if parsed is not None:
            admitted = files.admit(filename, parsed)
        elif parse_filename(anchor_text := anchor_text.strip()) is not None:
            admitted = files.admit(anchor_text)  # the text names the file, the URL not
            filename = anchor_text
        else:
            admitted = files.admit(filename)  # (logged)
        if admitted is None:
            return
        if hashes is None:
            hashes = {"sha256": sha256} if sha256 is not None else fragment_hashes(fragment)
        if requires_python:  # (most links of older versions have none)
            requires_python = files.requires_python(filename, requires_python.strip())
            if requires_python is False:
                return
        else:
            requires_python = None
        metadata = core_metadata if core_metadata is not None else dist_info_metadata
        dist = new_dist(
            filename,
            url,
            hashes,
            requires_python,
            yanked is not None,
            yanked or None,
            None if metadata is None else _html_metadata(metadata),
        )
        files.add(admitted[0], admitted[1], dist, href, base)


FAST_SCAN = True  # False: every HTML page goes to html.parser (tests compare the two)


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
