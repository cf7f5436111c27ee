"""The fast anchor scanner of HTML project pages: what ``simple_html._AnchorParser``
(html.parser) finds, read by regular expressions on pages of plain, well-formed markup,
chunk by chunk; it declines (and html.parser reads on) wherever it cannot vouch for the
same answer. The usual anchor of index pages is handed over by the attributes that
matter (``on_link``), every other one as html.parser's attribute dict (``on_anchor``)."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from functools import lru_cache
from html import unescape
from itertools import chain

# ----------------------------------------------------------------------------------------
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
# alternatives are an anchor, whole, with the line breaks after it: ``<a ...>text</a>``
# then any ``<br>``, ``<br/>`` (tags without attributes: nothing for the anchor parser).
# The very first takes the usual anchor of index pages, whose attributes that matter it
# captures itself: ``href``, then optionally ``data-requires-python``, ``data-yanked`` and
# the metadata attributes (both names, either order), each once, separated by one space,
# double-quoted; the scanner unescapes the values with a reference (``&``) in them.
_BR_TAIL = rf"</[aA]{_WS}*>[^<]*(?:<[bB][rR]{_WS}*/?>[^<]*)*"
_USUAL_ANCHOR = (  # possessive repeats: what each one stops at cannot be what it took
    r'<a href="([^"]*+)"'  # 1 href
    r'(?: data-requires-python="([^"]*+)")?'  # 2
    r'(?: data-yanked="([^"]*+)")?'  # 3
    r'(?: data-dist-info-metadata="([^"]*+)"(?: data-core-metadata="([^"]*+)")?'  # 4 5
    r'| data-core-metadata="([^"]*+)"(?: data-dist-info-metadata="([^"]*+)")?)?'  # 6 7
    r">([^<]*+)</a>[^<]*+(?:<br ?/?>[^<]*+)*+"  # 8 text
)
_TOKEN = re.compile(
    rf"{_USUAL_ANCHOR}"  # groups 1-8
    rf"|<[aA]((?:{_ANY_ATTRS})*){_WS}*>([^<]*){_BR_TAIL}"  # 9 attributes, 10 text
    rf"|<([A-Za-z][A-Za-z0-9]*)((?:{_ANY_ATTRS})*){_WS}*(/?)>([^<]*)"  # 11 tag 12 attrs 13 / 14
    rf"|</([A-Za-z][A-Za-z0-9]*){_WS}*>([^<]*)"  # 15 end tag, 16 text
    r"|(?:<!--(?!-?>)(?:[^<>-]|-(?!-))*-->"  # a comment without "--", "<", ">" inside
    rf"|<![Dd][Oo][Cc][Tt][Yy][Pp][Ee]{_WS}[^<>\"']*>)([^<]*)"  # or a doctype; 17 text
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

    def __init__(
        self,
        on_anchor: Callable[[dict[str, str | None], str], None],
        on_link: Callable[[str, str | None, str | None, str | None, str | None, str], None]
        | None = None,
        skip: Callable[[str], bool] | None = None,
        skipping: Collection[object] = (),
    ) -> None:
        self.on_anchor = on_anchor
        # Whether the usual anchor with this href (written without a reference) is one the
        # reader drops whatever its other attributes: it is then not taken apart further
        # (most links of a page with native wheels). Asked only while ``skipping`` (the
        # reader's own collection, which fills as it reads) is not empty.
        self.skip = skip
        self.skipping = skipping
        # The usual anchor, by the attributes that matter (as ``HtmlParser._link`` takes
        # them) and its text not yet stripped (the reader seldom needs it); by default, as
        # the attributes html.parser would give to ``on_anchor``.
        self.on_link = on_link if on_link is not None else self._as_anchor
        self.attrs: dict[str, str | None] | None = None  # the open anchor (with markup inside)
        self.chunks: list[str] = []
        self.consumed = 0
        self._started = False  # the first "<" was seen (text before it is nobody's)

    def _as_anchor(
        self,
        href: str,
        requires_python: str | None,
        yanked: str | None,
        dist_info_metadata: str | None,
        core_metadata: str | None,
        text: str,
    ) -> None:
        attrs: dict[str, str | None] = {"href": href}
        for name, value in (
            ("data-requires-python", requires_python),
            ("data-yanked", yanked),
            ("data-dist-info-metadata", dist_info_metadata),
            ("data-core-metadata", core_metadata),
        ):
            if value is not None:
                attrs[name] = value
        self.on_anchor(attrs, text.strip())

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
        emit, link, skip, skipping = self.on_anchor, self.on_link, self.skip, self.skipping
        amp = "&" in text  # else no anchor of this text has a reference to unescape
        attrs, chunks = self.attrs, self.chunks
        raw_text: str | None = None  # the raw-text element just opened, from raw_start
        raw_start = pos
        stop: int | None = None
        match = _TOKEN.scanner(text, pos, limit).match  # each token where the last ended
        while (m := match()) is not None:
            start = pos
            kind = m.lastindex
            if kind == 8 and raw_text is None:  # the usual anchor (closing any open one)
                if skipping and skip is not None and "&" not in (href := m.group(1)) and skip(href):
                    pos = m.end()
                    if attrs is not None:
                        emit(attrs, "".join(chunks).strip())
                        attrs = None
                    continue
                href, requires_python, yanked, dist_info, core, core2, dist_info2, anchor = (
                    m.groups()[:8]
                )
                end = m.end()
                # A reference in a value (unescaped), unless ambiguous. Usually none, or
                # only requires-python's ("&gt;"): the others are looked at only when an
                # "&" is in the href (before it) or after it. (``in`` on a slice: a find
                # with arguments costs more on CPython 3.11.)
                if amp and "&" in (whole := m.group()):
                    others = True
                    if requires_python is not None and "&" in requires_python:
                        others = "&" in href or "&" in whole[m.end(2) - start :]
                        requires_python = _unescape_value(requires_python)
                        if requires_python is None:
                            stop = start
                            break
                    if others:
                        others = _unescape_others(
                            (href, yanked, dist_info, core, core2, dist_info2, anchor)
                        )
                        if others is None:
                            stop = start
                            break
                        href, yanked, dist_info, core, core2, dist_info2, anchor = others
                pos = end
                if attrs is not None:
                    emit(attrs, "".join(chunks).strip())
                    attrs = None
                link(
                    href,
                    requires_python,
                    yanked,
                    dist_info if dist_info is not None else dist_info2,
                    core if core is not None else core2,
                    anchor,
                )
                continue
            if raw_text is not None:  # its content must be plain text, then its end tag
                if kind != 16 or m.group(15).lower() != raw_text:
                    stop = start
                    break
                raw_text = None
            elif kind == 10 or (kind == 14 and m.group(11) in ("a", "A")):
                # Another anchor, whole (10) or its start tag (14): any open one ends here.
                found = _anchor_attrs(m.group(9) if kind == 10 else m.group(12))
                if found is None:
                    stop = start
                    break
                if attrs is not None:
                    emit(attrs, "".join(chunks).strip())
                    attrs = None
                if kind == 10:
                    anchor = m.group(10)
                    emit(found, (_unescape(anchor) if "&" in anchor else anchor).strip())
                    pos = m.end()
                    continue
                if m.group(13):  # <a .../>: opened and closed
                    emit(found, "")
                else:
                    attrs, chunks = found, []
            elif kind == 14:
                tag = m.group(11).lower()
                if tag in _RAW_TEXT:
                    if attrs is not None or "&" in m.group(14):
                        stop = start
                        break
                    raw_text, raw_start = tag, start
                elif tag in _REFUSED:
                    stop = start
                    break
            elif kind == 16 and attrs is not None and m.group(15) in ("a", "A"):
                emit(attrs, "".join(chunks).strip())
                attrs = None
            if attrs is not None and m.group(kind):
                chunks.append(_text(m.group(kind)))
            pos = m.end()
        if stop is None and pos != limit:  # no token where the last ended
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


def _text(data: str) -> str:
    return _unescape(data) if "&" in data else data


def _unescape_others(values: tuple[str | None, ...]) -> tuple[str | None, ...] | None:
    """The usual anchor's other values (``requires-python`` apart), then its text, with
    references unescaped; None when an "&" in a value is ambiguous (html.parser reads the
    anchor then)."""
    out: list[str | None] = []
    for value in values[:-1]:
        if value is not None and "&" in value:
            value = _unescape_value(value)
            if value is None:
                return None
        out.append(value)
    text = values[-1]
    out.append(_unescape(text) if text and "&" in text else text)
    return tuple(out)


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
