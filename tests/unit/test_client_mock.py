"""Edge cases of the HTTP layer and the index client that real servers do not produce on
demand (connection resets, hosts that ignore Accept or Range, cross-host redirects), with
a mock transport at the seam production's router sits at (tests/support/mock_transport.py):
the requests seen are the ones a real transport would carry. The real-server behaviour is
covered by tests/integration."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from support.mock_transport import MockTransport, respond

from indexgate.demo.firewall_responses import nexus_response, xray_response
from indexgate.demo.wheels import build_wheel, read_core_metadata
from indexgate.dists.models import DistFile
from indexgate.errors import IndexUnreachable
from indexgate.index.client import FetchError, IndexClient
from indexgate.index.http import HttpClient
from indexgate.index.transport.base import ConnectError, RawResponse, ReadTimeout, Request
from indexgate.settings import IndexConfig

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/", username="u", password="pw")
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
Handler = Callable[[Request], RawResponse]


_MOCK: dict[str, MockTransport] = {}


@pytest.fixture
def mock(monkeypatch):
    """Route every request of ``run``'s HTTP client to ``handler`` (through the client's
    ``transport`` seam, so retries, auth and redirects are HttpClient's own); log them."""
    seen: list[Request] = []

    def install(handler: Handler) -> list[Request]:
        def recording(request: Request) -> RawResponse:
            seen.append(request)
            return handler(request)

        monkeypatch.setitem(_MOCK, "transport", MockTransport(recording))
        return seen

    return install


def run(coro_factory):
    async def main():
        http = HttpClient(backoff=0.0, transport=_MOCK.get("transport"))
        try:
            return await coro_factory(http)
        finally:
            await http.aclose()

    return asyncio.run(main())


@pytest.fixture(scope="module")
def wheel_file(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheels"), "pkg", "1.0", requires_dist=["dep>=2"])


# --- retries ----------------------------------------------------------------------------------


def test_5xx_is_retried_then_succeeds(mock) -> None:
    answers = iter([503, 502, 200])
    seen = mock(lambda r: respond(next(answers), text="ok"))
    response = run(lambda http: http.request("GET", "https://idx.example/simple/x/"))
    assert response.status == 200
    assert len(seen) == 3


def test_connection_errors_are_retried(mock) -> None:
    calls = {"n": 0}

    def handler(request: Request) -> RawResponse:
        calls["n"] += 1
        if calls["n"] < 3:
            raise ConnectError("connection refused")
        return respond(200)

    mock(handler)
    assert run(lambda http: http.request("GET", "https://idx.example/")).status == 200
    assert calls["n"] == 3


def test_retries_are_bounded(mock) -> None:
    seen = mock(lambda r: respond(503))
    with pytest.raises(IndexUnreachable, match="after 3 attempts"):
        run(lambda http: http.request("GET", "https://idx.example/simple/x/"))
    assert len(seen) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_is_never_retried(mock, status) -> None:
    seen = mock(lambda r: respond(status))
    assert run(lambda http: http.request("GET", "https://idx.example/x")).status == status
    assert len(seen) == 1


def test_timeouts_are_retried_and_reported_without_credentials(mock) -> None:
    def handler(request: Request) -> RawResponse:
        raise ReadTimeout("slow")

    mock(handler)
    with pytest.raises(IndexUnreachable) as info:
        run(lambda http: http.request("GET", "https://u:secret-pw@idx.example/simple/"))
    assert "secret-pw" not in str(info.value)
    assert "ReadTimeout" in str(info.value)


# --- credentials --------------------------------------------------------------------------


def _auth(request: Request) -> str | None:
    return request.header("authorization")


def test_credentials_only_for_their_own_origin(mock) -> None:
    seen = mock(lambda r: respond(200))

    async def go(http: HttpClient) -> None:
        http.add_credentials(INDEX.url, INDEX.auth)
        await http.request("GET", "https://idx.example/simple/a/")
        await http.request("GET", "https://files.example/a.whl")
        await http.request("GET", "http://idx.example/simple/a/")  # another scheme
        await http.request("GET", "https://idx.example:8443/simple/a/")  # another port

    run(go)
    assert _auth(seen[0]) is not None
    assert [_auth(r) for r in seen[1:]] == [None, None, None]


def test_a_redirect_to_another_host_drops_the_credentials(mock) -> None:
    def handler(request: Request) -> RawResponse:
        if (
            urlsplit(request.url).hostname == "idx.example"
            and urlsplit(request.url).path == "/simple/a/"
        ):
            return respond(302, headers={"Location": "/simple/b/"})
        if urlsplit(request.url).hostname == "idx.example":
            return respond(307, headers={"Location": "https://cdn.example/b/"})
        return respond(200, text="here")

    seen = mock(handler)

    async def go(http: HttpClient):
        http.add_credentials(INDEX.url, INDEX.auth)
        return await http.request("GET", "https://idx.example/simple/a/")

    response = run(go)
    assert response.status == 200 and response.url == "https://cdn.example/b/"
    assert [(urlsplit(r.url).hostname, _auth(r) is not None) for r in seen] == [
        ("idx.example", True),
        ("idx.example", True),  # same origin: kept
        ("cdn.example", False),  # another host: dropped
    ]


def test_redirect_loops_are_bounded(mock) -> None:
    mock(lambda r: respond(302, headers={"Location": r.url}))
    with pytest.raises(IndexUnreachable, match="redirects"):
        run(lambda http: http.request("GET", "https://idx.example/loop/"))


# --- project pages -------------------------------------------------------------------------


def _page_json(files: list[dict]) -> RawResponse:
    body = {"meta": {"api-version": "1.1"}, "name": "pkg", "files": files}
    return respond(200, json=body, headers={"Content-Type": JSON_TYPE})


def test_json_page_with_content_negotiation(mock) -> None:
    def handler(request: Request) -> RawResponse:
        assert JSON_TYPE in (request.header("accept") or "")
        return _page_json(
            [
                {
                    "filename": "pkg-1.0-py3-none-any.whl",
                    "url": "../../files/pkg-1.0-py3-none-any.whl",
                    "hashes": {"sha256": "ab" * 32},
                    "requires-python": ">=3.9",
                    "yanked": "bad",
                    "core-metadata": {"sha256": "cd" * 32},
                },
                {"filename": "other-1.0.tar.gz", "url": "other-1.0.tar.gz", "hashes": {}},
            ]
        )

    mock(handler)
    page = run(lambda http: IndexClient(http, (INDEX,)).project_page(INDEX, "PKG"))
    assert page.status == 200
    (f,) = page.files  # files of another project are dropped
    assert f.url == "https://idx.example/files/pkg-1.0-py3-none-any.whl"
    assert (f.requires_python, f.yanked, f.yanked_reason) == (">=3.9", True, "bad")
    assert f.metadata_url == f.url + ".metadata"


def test_html_page_when_the_mirror_ignores_accept(mock) -> None:
    html = (
        '<html><body><a href="/files/pkg-1.0-py3-none-any.whl#sha256=' + "ab" * 32 + '" '
        'data-requires-python="&gt;=3.9">pkg-1.0-py3-none-any.whl</a></body></html>'
    )
    mock(lambda r: respond(200, text=html, headers={"Content-Type": "text/html"}))
    page = run(lambda http: IndexClient(http, (INDEX,)).project_page(INDEX, "pkg"))
    (f,) = page.files
    assert f.requires_python == ">=3.9"
    assert f.hashes == {"sha256": "ab" * 32}


def test_an_unreadable_page_is_an_error_not_an_empty_project(mock) -> None:
    mock(lambda r: respond(200, content=b"{not json", headers={"Content-Type": JSON_TYPE}))
    with pytest.raises(FetchError) as info:
        run(lambda http: IndexClient(http, (INDEX,)).project_page(INDEX, "pkg"))
    assert info.value.kind == "index-unreachable"


def test_a_page_is_fetched_once_per_run(mock) -> None:
    seen = mock(lambda r: _page_json([]))

    async def go(http: HttpClient):
        client = IndexClient(http, (INDEX,))
        return await asyncio.gather(
            client.project_page(INDEX, "pkg"),
            client.project_page(INDEX, "Pkg"),
            client.project_page(INDEX, "pkg"),
        )

    run(go)
    assert len(seen) == 1


# --- metadata and probes --------------------------------------------------------------------


def _file(url: str, data: bytes, metadata: bytes | None = None) -> DistFile:
    return DistFile(
        filename=url.rsplit("/", 1)[-1],
        url=url,
        hashes={"sha256": hashlib.sha256(data).hexdigest()},
        metadata_hashes=None
        if metadata is None
        else {"sha256": hashlib.sha256(metadata).hexdigest()},
    )


def _serve_ranges(data: bytes, request: Request) -> RawResponse:
    spec = request.header("range") or ""
    if not spec.startswith("bytes="):
        return respond(200, content=data)
    first, _, last = spec[6:].partition("-")
    if not first:
        start, end = max(len(data) - int(last), 0), len(data) - 1
    else:
        start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
    return respond(
        206,
        content=data[start : end + 1],
        headers={"Content-Range": f"bytes {start}-{end}/{len(data)}"},
    )


URL = "https://idx.example/files/pkg-1.0-py3-none-any.whl"


def test_wheel_metadata_through_range_requests(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    seen = mock(lambda r: _serve_ranges(data, r))
    result = run(lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data)))
    assert result.metadata is not None
    assert [str(r) for r in result.metadata.requires_dist] == ["dep>=2"]
    assert all(r.header("range") is not None for r in seen)


def test_metadata_is_read_once_per_file_and_again_for_a_file_replaced_in_place(
    mock, wheel_file
) -> None:
    """A stored page read for speculation may list a URL whose file was since replaced: the
    same URL with other hashes is another file, never answered from the first read."""
    data = wheel_file.read_bytes()
    seen = mock(lambda r: _serve_ranges(data, r))
    old = _file(URL, b"the file this URL held last run")

    async def main(http: HttpClient) -> list[int]:
        client = IndexClient(http, (INDEX,))
        first = client.metadata(INDEX, old)
        assert client.metadata(INDEX, _file(URL, b"the file this URL held last run")) is first
        await first
        counts = [len(seen)]
        await client.metadata(INDEX, _file(URL, b"the file this URL held last run"))
        counts.append(len(seen))  # same file: answered from the first read
        await client.metadata(INDEX, _file(URL, data))
        counts.append(len(seen))  # same URL, other hashes: read again
        return counts

    after_first, after_same, after_replaced = run(main)
    assert after_first > 0
    assert after_same == after_first
    assert after_replaced > after_same


def test_wheel_metadata_when_the_server_ignores_range(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    mock(lambda r: respond(200, content=data))
    result = run(lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data)))
    assert result.metadata is not None and result.metadata.name == "pkg"


def test_a_whole_wheel_with_the_wrong_hash_is_unusable(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    mock(lambda r: respond(200, content=data + b"tampered"))
    result = run(lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data)))
    assert result.metadata is None and result.block is None
    assert "pkg-1.0-py3-none-any.whl" in (result.unusable or "")


def test_pep658_metadata_hash_is_checked(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    metadata = read_core_metadata(wheel_file)
    assert metadata is not None
    mock(lambda r: respond(200, content=metadata + b"Requires-Dist: evil\n"))
    result = run(
        lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data, metadata))
    )
    assert result.metadata is None
    assert result.unusable


def test_an_advertised_metadata_file_that_is_missing_falls_back_to_the_wheel(
    mock, wheel_file
) -> None:
    data = wheel_file.read_bytes()
    metadata = read_core_metadata(wheel_file)

    def handler(request: Request) -> RawResponse:
        if urlsplit(request.url).path.endswith(".metadata"):
            return respond(404)
        return _serve_ranges(data, request)

    mock(handler)
    result = run(
        lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data, metadata))
    )
    assert result.metadata is not None and result.metadata.name == "pkg"


def test_a_blocked_metadata_file_is_a_block_at_stage_metadata(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    metadata = read_core_metadata(wheel_file)
    blocked = nexus_response("https://iq.example/ui/links/x")
    seen = mock(lambda r: respond(403, content=blocked.body, headers=blocked.headers))
    result = run(
        lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data, metadata))
    )
    assert result.block is not None
    assert (result.block.stage, result.block.status, result.block.version) == (
        "metadata",
        403,
        "1.0",
    )
    assert result.block.info.vendor == "nexus-firewall"  # from the HTML body
    assert len(seen) == 1


@pytest.mark.parametrize("status", [401, 404, 410])
def test_a_listed_file_that_fails_is_an_error(mock, wheel_file, status) -> None:
    data = wheel_file.read_bytes()
    mock(lambda r: respond(status))
    with pytest.raises(FetchError) as info:
        run(lambda http: IndexClient(http, (INDEX,)).metadata(INDEX, _file(URL, data)))
    expected = {401: "auth-failure", 404: "missing-pin", 410: "missing-pin"}[status]
    assert (info.value.kind, info.value.status, info.value.package) == (expected, status, "pkg")


def test_403_on_a_file_is_an_auth_failure_when_not_a_quarantine_code(mock, wheel_file) -> None:
    index = IndexConfig(name="idx", url=INDEX.url, quarantine_codes=frozenset())
    data = wheel_file.read_bytes()
    mock(lambda r: respond(403))
    with pytest.raises(FetchError) as info:
        run(lambda http: IndexClient(http, (index,)).metadata(index, _file(URL, data)))
    assert info.value.kind == "auth-failure"


def test_probe_falls_back_to_a_one_byte_get_when_head_is_refused(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()

    def handler(request: Request) -> RawResponse:
        if request.method == "HEAD":
            return respond(405)
        return _serve_ranges(data, request)

    seen = mock(handler)
    result = run(lambda http: IndexClient(http, (INDEX,)).probe(INDEX, _file(URL, data)))
    assert result.block is None
    assert [(r.method, r.header("range")) for r in seen] == [
        ("HEAD", None),
        ("GET", "bytes=0-0"),
    ]


def test_probe_reads_the_body_of_a_block_whose_head_says_nothing(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    blocked = xray_response("pypi-remote-cache/pkg-1.0-py3-none-any.whl", "pypi-remote")

    def handler(request: Request) -> RawResponse:
        return respond(403, content=blocked.body, headers=blocked.headers)

    seen = mock(handler)

    async def go(http: HttpClient):
        client = IndexClient(http, (INDEX,))
        first = await client.probe(INDEX, _file(URL, data))
        again = await client.probe(INDEX, _file(URL, data))
        return first, again

    first, again = run(go)
    assert first.block is not None and first.block.info.vendor == "jfrog-xray"
    assert first.block.stage == "download"
    assert again is first  # remembered for the run
    assert [r.method for r in seen] == ["HEAD", "GET"]


def test_probe_trusts_a_nexus_reason_phrase_on_head(mock, wheel_file) -> None:
    data = wheel_file.read_bytes()
    phrase = nexus_response("https://iq.example/ui/links/abc").reason_phrase

    def handler(request: Request) -> RawResponse:
        return respond(403, reason=phrase)

    seen = mock(handler)
    result = run(lambda http: IndexClient(http, (INDEX,)).probe(INDEX, _file(URL, data)))
    assert result.block is not None
    assert result.block.info.details_url == "https://iq.example/ui/links/abc"
    assert [r.method for r in seen] == ["HEAD"]


def test_local_folders_are_flat_indexes(tmp_path, wheel_file) -> None:
    (tmp_path / "wheels").mkdir()
    (tmp_path / "wheels" / wheel_file.name).write_bytes(wheel_file.read_bytes())
    index = IndexConfig(name="local", url=(tmp_path / "wheels").as_uri() + "/", format="flat")

    async def go(http: HttpClient):
        client = IndexClient(http, (index,))
        page = await client.project_page(index, "pkg")
        missing = await client.project_page(index, "nothing")
        meta = await client.metadata(index, page.files[0])
        return page, missing, meta

    page, missing, meta = run(go)
    assert [f.filename for f in page.files] == [wheel_file.name]
    assert missing.status == 404
    assert meta.metadata is not None and meta.metadata.name == "pkg"


def test_fetches_cancelled_before_their_first_step_leave_no_coroutine_unawaited(
    mock, wheel_file
) -> None:
    """A run that ends (a failed target, an interrupt) cancels fetches that never started;
    Python would warn, on stderr, of each inner coroutine already made for them."""
    import gc
    import warnings

    data = wheel_file.read_bytes()
    seen = mock(lambda r: respond(200))

    async def start_and_cancel(http: HttpClient) -> None:
        client = IndexClient(http, (INDEX,))
        fetches = [
            client.probe(INDEX, _file(URL, data)),
            client.metadata(INDEX, _file(URL, data)),
            client.project_page(INDEX, "pkg"),
        ]
        for fetch in fetches:
            fetch.cancel()  # before the loop ever runs them
        await asyncio.gather(*fetches, return_exceptions=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(start_and_cancel)
        gc.collect()
    assert seen == []
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
