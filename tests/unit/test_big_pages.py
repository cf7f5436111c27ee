"""Large pages (issue 11): a generated 10,000-file page, JSON and HTML, parses to exactly
the files it lists, whole or fed in pieces; with a target filter, to the files that
target can use (and one stand-in per version it cannot). URL joining without urljoin
per file gives what urljoin gives. No timing here: ``benchmarks/pages.py`` measures."""

from __future__ import annotations

import json
import random
from html import unescape
from urllib.parse import urldefrag, urljoin

import pytest
from support.pagegen import FILES_PER_VERSION, GenFile, generate, html_page, json_page

from indexgate.dists.models import DistFile, dist_row, parse_filename
from indexgate.index import page, simple, simple_html, simple_json
from indexgate.index.client import TargetFilter
from indexgate.index.simple import PageParser, parse_project_page
from indexgate.targets import make_target

BASE = "https://idx.example.test/simple/bigpkg/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
N = 10_000


@pytest.fixture(scope="module", params=[True, False], ids=["absolute", "relative"])
def files(request: pytest.FixtureRequest) -> list[GenFile]:
    return generate("bigpkg", N, absolute=request.param)


def expected(f: GenFile, kind: str) -> tuple:
    url = urldefrag(urljoin(BASE, f.url))[0]
    meta = None if f.metadata_sha256 is None else {"sha256": f.metadata_sha256}
    json_only = ("2024-05-01T12:00:00.000000Z", 1000 + len(f.filename))
    return (
        f.filename,
        url,
        {"sha256": f.sha256},
        f.requires_python or None,
        f.yanked,
        None,
        meta,
        *(json_only if kind == "json" else (None, None)),
    )


def body_of(kind: str, files: list[GenFile]) -> tuple[bytes, str]:
    if kind == "json":
        return json_page("bigpkg", files), JSON_TYPE
    return html_page("bigpkg", files), "text/html"


@pytest.mark.parametrize("kind", ["json", "html"])
def test_a_10000_file_page_parses_to_every_file(files: list[GenFile], kind: str) -> None:
    body, content_type = body_of(kind, files)
    parsed = parse_project_page(body, content_type, BASE, project="BigPkg")
    assert len(parsed) == N
    assert [dist_row(d) for d in parsed] == [expected(f, kind) for f in files]


@pytest.mark.parametrize("kind", ["json", "html"])
def test_a_10000_file_page_parses_without_a_url_parse_per_file(
    files: list[GenFile], kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Linear and cheap by structure, not by a clock: the per-file urljoin / urlsplit that
    took 57 % of a real run (issue 11) happen a bounded number of times per page (once per
    folder shape), not once per file."""
    calls = [0]

    def counting(function):
        def counted(*args, **kwargs):
            calls[0] += 1
            return function(*args, **kwargs)

        return counted

    for module, name in [
        (page, "urljoin"),
        (page, "urlsplit"),
        (page, "urldefrag"),
        (page, "urlunsplit"),
        (simple_html, "urlsplit"),
    ]:
        monkeypatch.setattr(module, name, counting(getattr(module, name)))
    page._join_folder.cache_clear()
    body, content_type = body_of(kind, files)
    parsed = parse_project_page(body, content_type, BASE, project="bigpkg")
    assert len(parsed) == N
    assert calls[0] <= 20, calls[0]


@pytest.mark.parametrize("kind", ["json", "html"])
def test_fed_in_pieces_it_parses_the_same(files: list[GenFile], kind: str) -> None:
    body, content_type = body_of(kind, files[:600])
    whole = [dist_row(d) for d in parse_project_page(body, content_type, BASE)]
    rng = random.Random(kind)
    for _ in range(3):
        parser = PageParser(content_type, BASE)
        at = 0
        while at < len(body):
            step = rng.choice([1, 2, 17, 100, 4096, 65536])
            parser.feed(body[at : at + step])
            at += step
        assert [dist_row(d) for d in parser.close()] == whole


@pytest.mark.parametrize("kind", ["json", "html"])
def test_a_target_keeps_its_files_and_a_stand_in_per_other_version(
    files: list[GenFile], kind: str
) -> None:
    target = make_target("3.12", "linux_x86_64")
    keep = TargetFilter([target])
    body, content_type = body_of(kind, files)
    parsed = parse_project_page(body, content_type, BASE, project="bigpkg", keep=keep)
    fits = [f.filename for f in files if keep(parse_filename(f.filename))]  # type: ignore[arg-type]
    assert [d.filename for d in parsed] == fits  # every version has an sdist: no stand-ins
    assert len(fits) < N // 10
    wheels = [d for d in parsed if d.filename.endswith(".whl")]
    assert wheels and all("cp312-manylinux" in d.filename for d in wheels)


def test_a_version_without_a_fitting_file_keeps_one_to_explain_why() -> None:
    files = [f for f in generate("bigpkg", 3 * FILES_PER_VERSION) if "win_amd64" in f.filename]
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])
    body, content_type = body_of("json", files)
    parsed = parse_project_page(body, content_type, BASE, keep=keep)
    assert [d.filename for d in parsed] == [
        "bigpkg-0.0.0-cp39-cp39-win_amd64.whl",
        "bigpkg-0.0.1-cp39-cp39-win_amd64.whl",
        "bigpkg-0.0.2-cp39-cp39-win_amd64.whl",
    ]


def test_another_projects_files_are_not_kept() -> None:
    files = generate("bigpkg", 30) + generate("other", 30)
    for kind in ("json", "html"):
        body, content_type = body_of(kind, files)
        parsed = parse_project_page(body, content_type, BASE, project="bigpkg")
        assert [d.filename for d in parsed] == [f.filename for f in files[:30]]


# --- URL joining without urljoin per file --------------------------------------------------

BASES = [
    BASE,
    "https://idx.example.test/simple/bigpkg",
    "https://idx.example.test/",
    "http://127.0.0.1:8080/simple/foo/?x=1",
    "file:///srv/simple/foo/",
    "https://user:pw@idx.example.test/a//b/",
    "https://idx.example.test/repository/pypi/simple/foo/",
]
PIECES = ["..", ".", "", "f", "packages", "a%20b", "x~y", "A-b_c+d", "%2e%2e", "é", "a;b", "?q"]
LASTS = ["foo-1.0-py3-none-any.whl", "foo-1.0.tar.gz", "x", ".hidden", "..", "a%2Fb.whl"]
FRAGMENTS = ["", "#sha256=" + "ab" * 32, "#md5=AB", "#egg=foo", "#", "#a=b=c", "#sha256=a\nb"]
FRAGMENTS += ["#SHA256=AB", "#sha256=ab\t", "#x#y"]
HOSTS = ["https://files.example.test/", "http://h:1/", "//cdn.example/", "HTTPS://h/", "/"]


def hrefs(rng: random.Random) -> str:
    lead = rng.choice(["", "", "../", "../../", "../../../../", *HOSTS])
    middle = "/".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))
    middle = middle + "/" if middle else ""
    return lead + middle + rng.choice(LASTS) + rng.choice(FRAGMENTS)


def test_urls_are_joined_as_urljoin_joins_them() -> None:
    rng = random.Random(11)
    fast = 0
    for _ in range(4000):
        base, href = rng.choice(BASES), hrefs(rng)
        url, hashes, last = page.split_url(base, href)
        joined, fragment = urldefrag(urljoin(base, href))
        if joined.startswith("file:") and not joined.startswith("file://"):
            # CPython 3.13's urljoin: ".." above the root of a URL with an empty authority
            # gives "file:foo" (its urlunsplit writes "//" only before a path that starts
            # with "/"); RFC 3986 (5.2.4) keeps the root, as earlier Pythons' urljoin did.
            joined = "file:///" + joined[len("file:") :]
        assert url == joined, (base, href)
        if last is not None:
            fast += 1
            assert url.rsplit("/", 1)[-1] == last, (base, href)
        if fragment.lower().startswith("sha256=") and fragment[7:].isalnum():
            assert hashes == {"sha256": fragment[7:].lower()}, (base, href)
    assert fast > 1000, "the paths without urljoin are exercised"


@pytest.mark.parametrize(
    ("href", "url"),
    [
        ("../../../../foo-1.0.tar.gz", "file:///foo-1.0.tar.gz"),  # split_plain's path
        ("../../../../a/./foo-1.0.tar.gz", "file:///a/foo-1.0.tar.gz"),  # urljoin's path
        ("../../../../a/%2e%2e/foo-1.0.tar.gz", "file:///a/%2e%2e/foo-1.0.tar.gz"),
    ],
)
def test_dot_segments_above_the_root_of_a_file_url_stay_under_it(href: str, url: str) -> None:
    # CPython 3.13's urljoin gave "file:a/foo-1.0.tar.gz" (no root) for the last two; 3.11,
    # 3.12 and RFC 3986 keep the root, and so does every path of split_url.
    assert page.split_url("file:///srv/simple/foo/", href)[0] == url


def test_html_attribute_values_are_unescaped_once() -> None:
    page = '<a href="x-1.0.tar.gz" data-requires-python="&gt;=3.8,&lt;4">x</a>'
    (dist,) = parse_project_page(page.encode(), "text/html", BASE)
    assert dist.requires_python == unescape("&gt;=3.8,&lt;4")
    assert isinstance(dist, DistFile)


def test_a_flat_page_keeps_a_stand_in_per_project_and_version() -> None:
    files = [f for f in generate("aaa", FILES_PER_VERSION) if "win_amd64" in f.filename]
    files += [f for f in generate("bbb", FILES_PER_VERSION) if "cp312-manylinux" in f.filename]
    files += [f for f in generate("aaa", FILES_PER_VERSION) if "cp313-win" in f.filename]
    body = html_page("flat", files)
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])
    parsed = simple.parse_flat_page(body, "text/html", BASE, keep=keep)
    assert [d.filename for d in parsed] == [
        "bbb-0.0.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "aaa-0.0.0-cp39-cp39-win_amd64.whl",  # the same version as bbb's: its own stand-in
    ]


def test_a_tag_or_entry_across_many_chunks_is_read_in_linear_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long run without "<" (HTML) or one long file entry (JSON) fed in small chunks is
    read again only once what is unread has doubled: the characters looked at stay
    within a small multiple of the page's size (no timing, a count)."""
    seen = [0]
    scan, run = simple_html._Scanner.scan, simple_json.JsonParser._run

    def counting_scan(self, text: str, final: bool):
        seen[0] += len(text)
        return scan(self, text, final)

    def counting_run(self, final: bool) -> None:
        seen[0] += len(self._buf) - self._pos
        run(self, final)

    monkeypatch.setattr(simple_html._Scanner, "scan", counting_scan)
    monkeypatch.setattr(simple_json.JsonParser, "_run", counting_run)
    long = "y" * 2_000_000
    pages = {
        "text/html": f'<a href="x-1.0.tar.gz" data-yanked="{long}">x-1.0.tar.gz</a>'.encode(),
        JSON_TYPE: (
            '{"files": [{"filename": "x-1.0.tar.gz", "url": "x", "yanked": "' + long + '"}]}'
        ).encode(),
    }
    for content_type, body in pages.items():
        seen[0] = 0
        parser = PageParser(content_type, BASE)
        for at in range(0, len(body), 1000):
            parser.feed(body[at : at + 1000])
        (dist,) = parser.close()
        assert dist.yanked_reason == long
        assert seen[0] < 5 * len(body), (content_type, seen[0])


# --- the fast drop of another platform's wheel (TargetFilter.decides_by_tags) -------------


class _SlowFilter:
    """TargetFilter's answers, without ``decides_by_tags``: the parser checks every file."""

    def __init__(self, keep: TargetFilter) -> None:
        self._keep = keep

    def __call__(self, parsed: object) -> bool:
        return self._keep(parsed)  # type: ignore[arg-type]


def test_the_fast_drop_keeps_what_the_full_checks_keep(monkeypatch: pytest.MonkeyPatch) -> None:
    other = ["cp312-cp312-win_amd64", "cp311-cp311-macosx_11_0_arm64", "cp39-cp39-win32"]
    names: list[tuple[str, str | None]] = []
    for v in range(40):
        first = "cp312-cp312-manylinux_2_17_x86_64" if v % 4 == 0 else other[v % 3]
        bad_rp = ">= '2.7'" if v % 5 == 0 else None  # the first file of the version unusable
        names.append((f"bigpkg-1.{v}-{first}.whl", bad_rp))
        names += [(f"bigpkg-1.{v}-{tags}.whl", None) for tags in other]
        names.append((f"bigpkg-1.{v}-1-{other[0]}.whl", None))  # a build tag: another prefix
        names.append((f"bigpkg-1.{v}-cp312-cp312-win_amd64-x.whl", None))  # not a wheel name
        names.append((f"other-1.{v}-{other[0]}.whl", None))  # another project, same tags
        if v % 3 == 0:
            names.append((f"bigpkg-1.{v}.tar.gz", None))
    entries = [
        {
            "filename": n,
            "url": f"../../files/{n}",
            "hashes": {"sha256": "ab" * 32},
            **({"requires-python": rp} if rp else {}),
        }
        for n, rp in names
    ]
    body = json.dumps({"meta": {"api-version": "1.1"}, "files": entries}).encode()
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])
    assert keep.decides_by_tags

    calls = {"n": 0}
    real_parse = page.parse_filename

    def counting(filename: str) -> object:
        calls["n"] += 1
        return real_parse(filename)

    monkeypatch.setattr(page, "parse_filename", counting)
    slow = parse_project_page(body, JSON_TYPE, BASE, project="bigpkg", keep=_SlowFilter(keep))
    slow_calls, calls["n"] = calls["n"], 0
    fast = parse_project_page(body, JSON_TYPE, BASE, project="bigpkg", keep=keep)
    assert [dist_row(d) for d in fast] == [dist_row(d) for d in slow]
    assert slow_calls == len(entries)
    # Of each version's three other-platform wheels, the first after the version is settled
    # is parsed (it teaches its halves); the others of 39 versions are dropped unparsed.
    assert slow_calls - calls["n"] >= 60
    kept = {d.filename for d in fast}
    assert "bigpkg-1.0-cp312-cp312-manylinux_2_17_x86_64.whl" not in kept  # bad requires-python
    assert "bigpkg-1.4-cp312-cp312-manylinux_2_17_x86_64.whl" in kept


@pytest.mark.parametrize("separator", [", ", ",", ",\n  "])
def test_an_entry_the_fast_drop_would_skip_is_still_checked(separator: str) -> None:
    """Another platform's wheel of a settled version is dropped before any other work, but
    an entry that is not a valid file entry (a URL that is not a string) still makes the
    page unreadable, as the full checks say, whatever the separators between entries."""
    plat = "cp39-cp39-win32"
    names = [f"bigpkg-1.{v}.tar.gz" for v in range(3)]
    names += [f"bigpkg-1.{v}-{plat}.whl" for v in range(3)]
    entries = [{"filename": n, "url": f"../../files/{n}"} for n in names]
    keep = TargetFilter([make_target("3.12", "linux_x86_64")])

    def page_of(items: list[dict]) -> bytes:
        return (
            '{"meta": {"api-version": "1.1"}, "files": ['
            + separator.join(json.dumps(e) for e in items)
            + "]}"
        ).encode()

    good = parse_project_page(page_of(entries), JSON_TYPE, BASE, project="bigpkg", keep=keep)
    assert [d.filename for d in good] == names[:3]
    entries.append({"filename": f"bigpkg-1.1-{plat}.whl", "url": 42})
    with pytest.raises(simple.PageError, match=r"files\[6\] lacks a string 'filename' and 'url'"):
        parse_project_page(page_of(entries), JSON_TYPE, BASE, project="bigpkg", keep=keep)
