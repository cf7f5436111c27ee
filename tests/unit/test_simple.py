"""Project pages: PEP 691 JSON, PEP 503 HTML, find-links pages and local folders."""

from __future__ import annotations

import json
import random
from contextlib import suppress
from pathlib import Path

import pytest

from indexgate.index.client_types import ACCEPT
from indexgate.index.simple import (
    PageError,
    PageParser,
    files_for_project,
    list_local_folder,
    parse_flat_page,
    parse_project_page,
)

BASE = "https://idx.example.com/simple/foo/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"

JSON_PAGE = {
    "meta": {"api-version": "1.1"},
    "name": "foo",
    "files": [
        {
            "filename": "foo-1.0.tar.gz",
            "url": "../../packages/foo-1.0.tar.gz",
            "hashes": {"sha256": "AB12"},
            "requires-python": ">=3.8",
            "yanked": "broken build",
            "core-metadata": {"sha256": "cc"},
            "dist-info-metadata": {"sha256": "dd"},
            "upload-time": "2024-01-01T00:00:00.000000Z",
            "size": 123,
        },
        {
            "filename": "foo-1.0-py3-none-any.whl",
            "url": "https://files.example.com/foo-1.0-py3-none-any.whl",
            "hashes": {},
            "yanked": False,
            "core-metadata": True,
        },
        {
            "filename": "foo-0.9-py3-none-any.whl",
            "url": "foo-0.9-py3-none-any.whl",
            "hashes": {},
            "dist-info-metadata": True,
            "yanked": True,
        },
        {"filename": "foo-0.8.win32.exe", "url": "foo-0.8.win32.exe", "hashes": {}},
    ],
}


def json_body(page: object = JSON_PAGE) -> bytes:
    return json.dumps(page).encode()


def test_accept_header_prefers_json_then_html() -> None:
    assert ACCEPT.startswith("application/vnd.pypi.simple.v1+json,")
    assert "application/vnd.pypi.simple.v1+html;q=0.2" in ACCEPT
    assert ACCEPT.endswith("text/html;q=0.01")


def test_json_page_fields() -> None:
    sdist, wheel, old = parse_project_page(json_body(), JSON_TYPE, BASE)
    assert sdist.filename == "foo-1.0.tar.gz"
    assert sdist.url == "https://idx.example.com/packages/foo-1.0.tar.gz"  # relative to base
    assert sdist.hashes == {"sha256": "ab12"}
    assert sdist.requires_python == ">=3.8"
    assert (sdist.yanked, sdist.yanked_reason) == (True, "broken build")
    assert sdist.upload_time == "2024-01-01T00:00:00.000000Z"
    assert sdist.size == 123
    assert sdist.metadata_url == sdist.url + ".metadata"
    assert wheel.url == "https://files.example.com/foo-1.0-py3-none-any.whl"
    assert (wheel.yanked, wheel.yanked_reason) == (False, None)
    assert (old.yanked, old.yanked_reason) == (True, None)


def test_json_core_metadata_is_preferred_over_dist_info_metadata() -> None:
    sdist, wheel, old = parse_project_page(json_body(), JSON_TYPE, BASE)
    assert sdist.metadata_hashes == {"sha256": "cc"}  # PEP 714
    assert wheel.metadata_hashes == {}  # true: offered without hash
    assert old.metadata_hashes == {}  # only the old key: still honoured


def test_json_files_that_are_not_dists_are_skipped() -> None:
    names = [f.filename for f in parse_project_page(json_body(), JSON_TYPE, BASE)]
    assert "foo-0.8.win32.exe" not in names


@pytest.mark.parametrize(
    "content_type",
    [JSON_TYPE, "application/json; charset=utf-8", "text/html", None],
)
def test_json_is_detected_by_type_or_by_sniffing(content_type: str | None) -> None:
    assert len(parse_project_page(json_body(), content_type, BASE)) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"{}", "no 'files' list"),
        (b'{"files": {}}', "no 'files' list"),
        (b"[]", "not valid JSON|not an object"),
        (b'{"files": [42]}', r"files\[0\] is not an object"),
        (b'{"files": [{"url": "x"}]}', "lacks a string 'filename'"),
        (b"\xff\xfe\x00garbage", "not valid JSON"),
        (b"[" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_json_is_a_page_error(body: bytes, message: str) -> None:
    with pytest.raises(PageError, match=message):
        parse_project_page(body, "application/json", BASE)
    with pytest.raises(PageError, match=message):  # fed in pieces: the same error
        parser = PageParser("application/json", BASE)
        for at in range(0, len(body), 3):
            parser.feed(body[at : at + 3])
        parser.close()


@pytest.mark.parametrize(
    "body",
    [
        b'{"files": [], "files": []}',
        b'{"files": []} x',
        b'{"files": [{}, ]}',
        b'{"files": [] "meta": {}}',
        b'{"files": []',
        b'{"files": [],}',
    ],
)
def test_json_the_streaming_reader_refuses(body: bytes) -> None:
    with pytest.raises(PageError):
        parse_project_page(body, "application/json", BASE)


def test_json_keys_in_any_order_and_values_of_any_kind() -> None:
    page = {"versions": ["1.0", {"x": [1, 2.5e3, None]}], "files": JSON_PAGE["files"]}
    page = {**page, "name": "foo", "meta": {"api-version": "1.4"}, "extra": -12}
    assert len(parse_project_page(json_body(page), JSON_TYPE, BASE)) == 3


def test_json_a_malformed_requires_python_drops_that_file_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = [
        {"filename": "foo-1.0.tar.gz", "url": "a", "requires-python": ">= '2.7'"},
        {"filename": "foo-2.0.tar.gz", "url": "b", "requires-python": ">=3.6.*"},
        {"filename": "foo-3.0.tar.gz", "url": "c", "requires-python": ">=3.8"},
    ]
    with caplog.at_level("INFO", logger="indexgate.index"):
        parsed = parse_project_page(json_body({"files": files}), JSON_TYPE, BASE)
    assert [(f.filename, f.requires_python) for f in parsed] == [
        ("foo-2.0.tar.gz", ">=3.6"),  # the pre-PEP 440 spelling, read as uv reads it
        ("foo-3.0.tar.gz", ">=3.8"),
    ]
    assert "skipping foo-1.0.tar.gz: invalid requires-python \">= '2.7'\"" in caplog.text


def test_html_a_malformed_requires_python_drops_that_file_only() -> None:
    body = (
        b'<a href="foo-1.0.tar.gz" data-requires-python="&gt;= \'2.7\'">x</a>'
        b'<a href="foo-2.0.tar.gz" data-requires-python="&gt;=3.8">x</a>'
    )
    assert [f.filename for f in parse_project_page(body, "text/html", BASE)] == ["foo-2.0.tar.gz"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("yanked", 3),
        ("hashes", ["sha256", "x"]),
        ("hashes", {"sha256": 1}),
        ("core-metadata", "yes"),
        ("size", "12"),
        ("requires-python", 3.8),
    ],
)
def test_wrongly_typed_json_fields_are_page_errors(field: str, value: object) -> None:
    entry = {"filename": "foo-1.0.tar.gz", "url": "x", "hashes": {}, field: value}
    with pytest.raises(PageError, match=f"foo-1.0.tar.gz.*'{field}'"):
        parse_project_page(json_body({"files": [entry]}), JSON_TYPE, BASE)


def test_unknown_major_api_version_is_refused() -> None:
    with pytest.raises(PageError, match="unsupported simple API version"):
        parse_project_page(json_body({"meta": {"api-version": "2.0"}, "files": []}), None, BASE)


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><meta name="pypi:repository-version" content="1.1"></head><body>
<h1>Links for foo</h1>
<a href="../../packages/foo-1.0.tar.gz#sha256=ABCDEF"
   data-requires-python="&gt;=3.8,&lt;4"
   data-yanked="bad &amp; broken">foo-1.0.tar.gz</a><br/>
<a href="https://cdn.example.com/foo-1.0-py3-none-any.whl#md5=abc"
   data-core-metadata="sha256=CC" data-dist-info-metadata="sha256=dd">x</a>
<a href="foo-0.9-py3-none-any.whl" data-dist-info-metadata="true" data-yanked>y</a>
<a href="foo-0.8.zip#egg=foo" data-core-metadata="false">foo-0.8.zip</a>
<a href="foo-1.0%2Bcpu-cp311-cp311-linux_x86_64.whl">z</a>
<a href="README.txt">README</a>
<a name="no-href">nothing</a>
</body></html>
"""


def test_html_page_fields_and_entity_unescaping() -> None:
    files = parse_project_page(HTML_PAGE, "text/html; charset=utf-8", BASE)
    assert [f.filename for f in files] == [
        "foo-1.0.tar.gz",
        "foo-1.0-py3-none-any.whl",
        "foo-0.9-py3-none-any.whl",
        "foo-0.8.zip",
        "foo-1.0+cpu-cp311-cp311-linux_x86_64.whl",  # percent-decoded from the URL
    ]
    sdist = files[0]
    assert sdist.url == "https://idx.example.com/packages/foo-1.0.tar.gz"  # no fragment
    assert sdist.hashes == {"sha256": "abcdef"}
    assert sdist.requires_python == ">=3.8,<4"
    assert (sdist.yanked, sdist.yanked_reason) == (True, "bad & broken")
    assert sdist.metadata_hashes is None


def test_html_yanked_without_reason() -> None:
    old = parse_project_page(HTML_PAGE, "text/html", BASE)[2]
    assert (old.yanked, old.yanked_reason) == (True, None)


def test_html_metadata_attributes() -> None:
    files = parse_project_page(HTML_PAGE, "text/html", BASE)
    assert files[1].metadata_hashes == {"sha256": "cc"}  # data-core-metadata wins (PEP 714)
    assert files[2].metadata_hashes == {}  # "true" on the old attribute
    assert files[3].metadata_hashes is None  # "false"
    assert files[4].metadata_hashes is None  # absent


def test_html_non_hash_fragment_is_dropped_without_hashes() -> None:
    zip_sdist = parse_project_page(HTML_PAGE, "text/html", BASE)[3]
    assert zip_sdist.url == BASE + "foo-0.8.zip"
    assert zip_sdist.hashes == {}


def test_html_base_tag_sets_the_base_url() -> None:
    body = b"""<html><body>
    <a href="foo-1.0.tar.gz">foo-1.0.tar.gz</a>
    <base href="/mirror/files/"><base href="/ignored/">
    </body></html>"""
    (sdist,) = parse_project_page(body, "text/html", BASE)
    assert sdist.url == "https://idx.example.com/mirror/files/foo-1.0.tar.gz"


def test_html_anchor_text_names_a_file_whose_url_does_not() -> None:
    body = b'<a href="/download?id=7">foo-1.0-py3-none-any.whl</a>'
    (wheel,) = parse_project_page(body, "text/html", BASE)
    assert (wheel.filename, wheel.url) == (
        "foo-1.0-py3-none-any.whl",
        "https://idx.example.com/download?id=7",
    )


def test_html_charset_from_content_type() -> None:
    body = '<a href="foo-1.0.tar.gz" data-yanked="caf\u00e9">x</a>'.encode("latin-1")
    (sdist,) = parse_project_page(body, "text/html; charset=ISO-8859-1", BASE)
    assert sdist.yanked_reason == "caf\u00e9"
    (sdist,) = parse_project_page(body, "text/html; charset=bogus-codec", BASE)
    assert sdist.yanked_reason == "caf\ufffd"  # unknown charset: UTF-8 with replacement


def test_malformed_html_yields_what_it_can_without_raising() -> None:
    body = b'<a href="foo-1.0.tar.gz"<<>><a href="foo-2.0.tar.gz">unclosed <div <a href=">'
    names = [f.filename for f in parse_project_page(body, "text/html", BASE)]
    assert "foo-2.0.tar.gz" in names


def test_html_invalid_url_is_a_page_error() -> None:
    with pytest.raises(PageError, match="invalid URL"):
        parse_project_page(b'<a href="http://[::1/foo-1.0.tar.gz">x</a>', "text/html", BASE)


FLAT_PAGE = b"""<html><body>
<a href="foo-1.0-py3-none-any.whl">foo-1.0-py3-none-any.whl</a>
<a href="Foo_Bar-2.0.tar.gz">Foo_Bar-2.0.tar.gz</a>
<a href="foo.bar-2.1-py3-none-any.whl#sha256=aa">foo.bar-2.1-py3-none-any.whl</a>
<a href="subdir/">subdir/</a>
</body></html>"""


def test_flat_page_lists_every_dist_and_filters_by_project() -> None:
    files = parse_flat_page(FLAT_PAGE, "text/html", "https://host/wheels/")
    assert len(files) == 3
    selected = files_for_project(files, "FOO-bar")
    assert [f.filename for f in selected] == [
        "Foo_Bar-2.0.tar.gz",
        "foo.bar-2.1-py3-none-any.whl",
    ]
    assert selected[1].hashes == {"sha256": "aa"}
    assert [f.filename for f in files_for_project(files, "foo")] == ["foo-1.0-py3-none-any.whl"]


def test_local_folder_lists_dists_as_file_urls(tmp_path: Path) -> None:
    (tmp_path / "foo-1.0-py3-none-any.whl").write_bytes(b"wheel")
    (tmp_path / "foo-1.0-py3-none-any.whl.metadata").write_bytes(b"Name: foo\n")
    (tmp_path / "foo-0.9.tar.gz").write_bytes(b"sdist!")
    (tmp_path / "README.md").write_text("not a dist")
    (tmp_path / "bar-1.0.tar.gz").mkdir()  # a directory named like a dist
    sdist, wheel = list_local_folder(tmp_path)
    assert wheel.url == (tmp_path / "foo-1.0-py3-none-any.whl").resolve().as_uri()
    assert wheel.url.startswith("file://")
    assert wheel.metadata_hashes == {}  # the .metadata file is PEP 658 metadata
    assert wheel.metadata_url == wheel.url + ".metadata"
    assert sdist.metadata_hashes is None
    assert (sdist.filename, sdist.size) == ("foo-0.9.tar.gz", 6)


def test_missing_local_folder_is_a_page_error(tmp_path: Path) -> None:
    with pytest.raises(PageError, match="cannot list folder"):
        list_local_folder(tmp_path / "nope")


@pytest.mark.parametrize("seed", range(200))
def test_mutated_pages_raise_only_page_error(seed: int) -> None:
    rng = random.Random(seed)
    for base in (json_body(), HTML_PAGE):
        body = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        content_type = rng.choice([JSON_TYPE, "text/html", None])
        with suppress(PageError):  # anything else fails the test
            parse_project_page(bytes(body), content_type, BASE)
        with suppress(PageError):  # the same, as a streaming transport would feed it
            parser = PageParser(content_type, BASE)
            for at in range(0, len(body), 5):
                parser.feed(bytes(body[at : at + 5]))
            parser.close()
