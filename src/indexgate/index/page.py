"""The page model and filter shared by the HTML and JSON readers.

What a project page turns into: ``Files`` keeps the files of the project that a target
can install (``keep``), with a valid ``requires-python``, a stand-in for a version all of
whose files were dropped (so a failure can say why), and the ``<base>`` a page may give
late. Also the URL and hash-fragment rules both readers apply to a file's link, the
content-type helpers, and ``PageError``. Pure: no network I/O.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from urllib.parse import unquote, urldefrag, urljoin, urlsplit, urlunsplit

from packaging.tags import Tag
from packaging.version import Version

from indexgate.dists.models import DistFile, ParsedFilename, parse_filename, requires_python_text
from indexgate.redact import redact

log = logging.getLogger("indexgate.index")

_HASH_NAMES = frozenset({"md5", "sha1", "sha224", "sha256", "sha384", "sha512"})
HASH_FRAGMENT = re.compile(r"^([A-Za-z0-9]+)=([0-9A-Za-z]+)$")

# Hash names as pages spell them, and the one string each is kept as.
HASH_KEYS = {name: name for name in _HASH_NAMES}

SHA256_VALUE = re.compile(r"sha256=([0-9a-f]+)")

Keep = Callable[[ParsedFilename], bool]
"""Which files a run can use (``IndexClient``'s target filter); None keeps every file."""


class PageError(ValueError):
    """A project page or folder that cannot be read as a list of files."""


class Files:
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
        # "-<py>-<abi>-<plat>.whl" that keep drops; while empty, ``dropped`` says False
        # (readers need not work out a filename to ask it about)
        self.dropped_tags: set[str] = set()
        self._settled: set[str] = set()  # "<name>-<version>[-<build>]" already kept/stood in
        self._keeps: dict[frozenset[Tag], bool] = {}  # keep's answer by a wheel's tags
        self._last_kept: tuple[str, Version] | None = None  # in _kept_versions

    def where(self) -> str:
        return redact(self.base_url)

    def base(self) -> str:
        """The document's base URL: the page's, or its first ``<base href>`` (joined once)."""
        if not self.base_href:
            return self.base_url
        if self._joined_base is None:
            self._joined_base = join_url(self.base_url, self.base_href)
        return self._joined_base

    def admit(
        self, filename: str, parsed: ParsedFilename | None = None
    ) -> tuple[ParsedFilename, bool] | None:
        """Whether to read the file's entry on: None when it is not used, else its parsed
        name and whether ``keep`` keeps it (False: it may stand in for its version).
        ``parsed``: ``parse_filename(filename)``, not None. The readers ask ``dropped``
        first (most files of a page with native wheels are): this says None for those
        too, by a parse."""
        if parsed is None:
            parsed = parse_filename(filename)
            if parsed is None:
                if filename.endswith((".whl", ".tar.gz", ".zip")):  # named like a dist
                    log.info(
                        "%s: skipping %s: not a valid wheel or sdist name (a malformed "
                        "version or tag; the file cannot be used)",
                        self.where(),
                        filename,
                    )
                return None
        if self.project is not None and parsed.name != self.project:
            return None
        keep = self.keep
        if keep is None:
            return parsed, True
        if self._tags_only and parsed.kind == "wheel":  # by its tags: asked once per set
            kept = self._keeps.get(parsed.tags)
            if kept is None:
                kept = self._keeps[parsed.tags] = keep(parsed)
        else:
            kept = keep(parsed)
        if kept:
            return parsed, True
        version = (parsed.name, parsed.version)
        if version in self._kept_versions or version in self._stand_ins:
            if self._tags_only and filename.endswith(".whl"):  # both halves parsed
                head = filename.rsplit("-", 3)[0]
                self.dropped_tags.add(filename[len(head) :])
                self._settled.add(head)
            return None
        return parsed, False

    def dropped(self, filename: str) -> bool:
        """Whether ``filename`` is another platform's wheel of a version already kept or
        stood in for, by two set lookups (False: not known to be). Most of the links of a
        page with native wheels are: the readers ask before any other work. Nothing is,
        while no tag set was dropped (a page of pure-Python wheels, say). Only a wheel's
        tail ("-<py>-<abi>-<plat>.whl") can be in ``dropped_tags``: no other test first."""
        if not self.dropped_tags:
            return False
        head = filename.rsplit("-", 3)[0]
        return filename[len(head) :] in self.dropped_tags and head in self._settled

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
            last = self._last_kept  # a version's files come together: one add for them
            if last is None or last[1] is not parsed.version or last[0] != parsed.name:
                self._last_kept = (parsed.name, parsed.version)
                self._kept_versions.add(self._last_kept)
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
                    files[at] = replace(files[at], url=split_url(base, href)[0])
        self.files, self._stand_ins, self._hrefs = [], {}, []
        self.dropped_tags, self._settled = set(), set()
        return files


# --- shared helpers -----------------------------------------------------------------------


def split_url(base: str, href: str) -> tuple[str, dict[str, str], str | None]:
    """Absolute URL without fragment, the ``#<hash>=<hex>`` fragment as a hash dict, and
    the URL path's last segment when known without splitting the URL again.

    What ``urldefrag(urljoin(base, href))`` gives, without parsing a URL per file in the
    usual shapes (a page has thousands of links): see ``split_plain``; other folder shapes
    are resolved once per page and folder, and the rest by urljoin.
    """
    plain = split_plain(base, href)
    if plain is not None:
        url, last, sha256, fragment = plain
        if sha256 is not None:
            return url, {"sha256": sha256}, last
        return url, fragment_hashes(fragment), last
    return _split_other(base, href)


def split_plain(base: str, href: str) -> tuple[str, str, str | None, str | None] | None:
    """``split_url``'s answer for a link of the usual shapes, taken apart by one regular
    expression and no URL parse: the absolute URL, its last segment (as written), then the
    fragment's sha256 or else the fragment (for ``fragment_hashes``); None for any other
    shape. An absolute ``http(s)`` URL of plain characters is already what urljoin would
    give; a relative one (``../../f/x.whl``, ``/f/x.whl``, ``x.whl``) is its folder's join
    with the base, once per page and number of ``..``, followed by plain segments. Plain:
    no segment is empty or starts with "." (no "." or ".." to resolve). The page readers
    call it first, so that a file they drop costs no more than this."""
    if href.startswith("http"):
        absolute = _PLAIN_ABSOLUTE.fullmatch(href)
        if absolute is not None:
            url, sha256, fragment = absolute.groups()
            return url, url.rpartition("/")[2], sha256, fragment
    relative = _PLAIN_RELATIVE.fullmatch(href)
    if relative is None:
        return None
    ups, root, rest, sha256, fragment = relative.groups()
    if root:
        if ups:
            return None  # "..//x": an empty segment
        joined = _join_folder(base, "/")  # from the host's root
    else:
        joined = _join_folder(base, ups or "./")
    if joined is None:
        return None
    return joined + rest, rest.rpartition("/")[2], sha256, fragment


def join_url(base: str, href: str) -> str:
    """``urljoin``, keeping the root of a base with an empty authority (``file:///``).

    CPython 3.13's urljoin resolves ".." above that root to ``file:foo`` (its urlunsplit
    writes "//" before a path only when the path starts with "/"), a URL nothing can
    open; RFC 3986 (5.2.4), earlier Pythons and ``split_plain`` give ``file:///foo``."""
    joined = urljoin(base, href)
    scheme, colon, rest = joined.partition(":")
    if colon and not rest.startswith("/") and base.startswith(f"{scheme}:///"):
        return f"{scheme}:///{rest}"
    return joined


def _split_other(base: str, href: str) -> tuple[str, dict[str, str], str | None]:
    """``split_url`` for a link ``split_plain`` does not take."""
    fast = _FAST_HREF.fullmatch(href)
    folder = _join_folder(base, fast.group(1)) if fast else None
    if fast and folder is not None:
        # Another folder shape (``./a/../b/``...): resolved once per page and folder.
        return folder + fast.group(2), fragment_hashes(fast.group(3)), fast.group(2)
    try:
        url, fragment = urldefrag(join_url(base, href))
    except ValueError as exc:  # e.g. a malformed IPv6 host
        raise PageError(f"invalid URL {href!r}: {exc}") from exc
    return url, fragment_hashes(fragment), None


def last_segment(href: str) -> str:
    """The last path segment ``split_url`` would find (decoded), or "" when that is not
    plain to see. Cheap (no regular expression over the URL): the HTML reader asks it of
    every link once some are dropped, before resolving the URL.

    The segments before the last do not change it, except: a query (a "?" before the
    fragment) moves it; urlsplit removes tabs and line breaks anywhere and strips leading
    control characters and spaces; a "//" starts an authority (its host must be followed
    by a path) where it is the href's first "/" (after a scheme, if any), and may become
    one elsewhere once dot segments are resolved against a base without a host
    (``file:///``), so it is not taken there; a ":" in the last segment may end a scheme
    (``https:x.whl``)."""
    # (partition, not find: a find with arguments costs more on CPython 3.11)
    path = href.partition("#")[0]
    if "?" in path or "\t" in path or "\n" in path or "\r" in path:
        return ""
    last = path.rpartition("/")[2]
    if not last or last[0] <= " " or last[0] == "." or ":" in last:
        return ""
    # A "//" only as the authority: the first "/", at the start or after a scheme, with a
    # host followed by a path.
    if "//" in path:
        before, _, after = path.partition("//")
        host, slash, _ = after.partition("/")
        if "/" in before or (before and before[-1] != ":") or not host or not slash:
            return ""
    return unquote(last) if "%" in last else last


def fragment_hashes(fragment: str | None) -> dict[str, str]:
    """A link's ``#<hash>=<hex>`` fragment as a hash dict (empty for any other)."""
    if not fragment:
        return {}
    plain = SHA256_VALUE.fullmatch(fragment)  # nearly every link: the answer, quicker
    if plain is not None:
        return {"sha256": plain.group(1)}
    match = HASH_FRAGMENT.match(fragment)
    if match and match.group(1).lower() in _HASH_NAMES:
        return {HASH_KEYS[match.group(1).lower()]: match.group(2).lower()}
    return {}


# Absolute: scheme, a host of plain characters, a path of plain characters. Relative: the
# same path characters, no ":" (that would make its first segment a scheme). No segment
# (nor the host) is empty or starts with ".". Possessive repeats: nothing is read twice
# (each "/" starts the next segment, so the last one is not matched as a folder first;
# the caller takes it from after the last "/").
_SEGMENT = r"[A-Za-z0-9_~%!$&'()*+,=@-][A-Za-z0-9._~%!$&'()*+,=@-]*+"
_SEGMENT_COLON = r"[A-Za-z0-9_~%!$&'()*+,=:@-][A-Za-z0-9._~%!$&'()*+,=:@-]*+"
_FRAGMENT = r"(?:#(?:sha256=([0-9a-f]++)|([^\t\r\n]*+)))?"  # a sha256, or any other
_PLAIN_ABSOLUTE = re.compile(  # 1 the URL, 2 a sha256 or 3 any fragment
    rf"(https?://{_SEGMENT_COLON}(?:/{_SEGMENT_COLON})++){_FRAGMENT}"
)
_PLAIN_RELATIVE = re.compile(  # 1 "../"s, 2 a leading "/", 3 the rest, 4 sha256, 5 fragment
    rf"((?:\.\./)*+)(/?)({_SEGMENT}(?:/{_SEGMENT})*+){_FRAGMENT}"
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
        joined = join_url(base, folder)
        parts = urlsplit(joined)
        if urlunsplit(parts) != joined or not parts.path.endswith("/"):
            return None
    except ValueError:
        return None
    if not joined.endswith("/") or any(c in joined for c in "?#;\\") or "//" not in joined:
        return None
    return joined


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def page_charset(content_type: str | None) -> str:
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
