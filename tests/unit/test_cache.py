"""The persistent HTTP cache: freshness, revalidation, secrets, corruption, concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
from pathlib import Path

import pytest
from support.mock_transport import MockTransport, respond
from support.sinks import Summarized

from indexgate.index import cache as cache_mod
from indexgate.index.cache import FileCache
from indexgate.index.http import HttpClient, Response
from indexgate.index.transport.base import RawResponse, Request
from indexgate.index.transport.headers import Headers

PAGE = "https://pkgs.example/simple/flask/"
ACCEPT = {"Accept": "application/vnd.pypi.simple.v1+json"}
SECRET = "s3cr3t-Pa55word"


def page(status: int = 200, body: bytes = b"<html>flask</html>", **headers: str) -> Response:
    hdrs = Headers({k.replace("_", "-"): v for k, v in headers.items()})
    return Response(PAGE, status, "OK", hdrs, body)


def all_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


# --- freshness and revalidation -------------------------------------------------------


def test_page_without_cache_control_is_revalidated_with_its_validators(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh
    assert hit.validators == {
        "If-None-Match": '"v1"',
        "If-Modified-Since": "Mon, 01 Jan 2024 00:00:00 GMT",
    }
    assert hit.response.content == b"<html>flask</html>" and hit.response.from_cache


def test_keys_include_accept_and_range(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    assert c.lookup("GET", PAGE, {"Accept": "text/html"}) is None
    assert c.lookup("GET", PAGE, {**ACCEPT, "Range": "bytes=-10"}) is None
    assert c.lookup("HEAD", PAGE, ACCEPT) is None


def test_max_age_is_fresh_until_it_expires(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(cache_control="max-age=600", etag='"v1"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.fresh
    later = time.time() + 601
    monkeypatch.setattr(cache_mod.time, "time", lambda: later)
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh


def test_age_header_counts_against_max_age(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(cache_control="max-age=600", age="700", etag='"v"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh


@pytest.mark.parametrize("age", ["-100", "-inf", "nan"])
def test_an_age_that_is_no_age_makes_nothing_fresh(tmp_path: Path, age: str) -> None:
    # A negative Age once made an entry with no freshness at all fresh for that long, and
    # "-inf" for ever: never revalidated again.
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(age=age, etag='"v"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh


@pytest.mark.parametrize(
    "expires",
    [
        "Mon, 01 Jan 2024 01:00:00 GMT",
        # Without a zone ("-0000"): UTC too, as Retry-After reads it (headers.http_date),
        # not a naive date that cannot be compared with Date (which made the answer stale).
        "Mon, 01 Jan 2024 01:00:00 -0000",
        "Monday, 01-Jan-24 01:00:00 GMT",  # RFC 850's form, which RFC 9110 still allows
    ],
)
def test_expires_gives_freshness(tmp_path: Path, expires: str) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(date="Mon, 01 Jan 2024 00:00:00 GMT", expires=expires))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.fresh


def test_an_expires_that_is_no_date_means_revalidate(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(date="Mon, 01 Jan 2024 00:00:00 GMT", expires="0", etag="x"))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh


def test_no_cache_stores_but_always_revalidates(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(cache_control="no-cache, max-age=600", etag='"v1"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh


def test_immutable_is_fresh_forever(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(cache_control="public, immutable"))
    later = time.time() + 10 * 365 * 86400
    monkeypatch.setattr(cache_mod.time, "time", lambda: later)
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.fresh


def test_no_store_is_not_stored_and_drops_an_old_entry(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    c.store("GET", PAGE, ACCEPT, page(cache_control="no-store", etag='"v2"'))
    assert c.lookup("GET", PAGE, ACCEPT) is None


def test_nothing_to_revalidate_with_is_not_kept(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page())
    assert c.lookup("GET", PAGE, ACCEPT) is None


@pytest.mark.parametrize("status", [401, 403, 429, 500, 503, 301])
def test_auth_failures_blocks_and_errors_are_never_cached(tmp_path: Path, status: int) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(status, etag='"v1"', cache_control="max-age=600"))
    c.store("GET", PAGE, ACCEPT, page(status), digest="sha256:" + "ab" * 32)
    assert c.lookup("GET", PAGE, ACCEPT) is None
    assert c.lookup("GET", PAGE, ACCEPT, "sha256:" + "ab" * 32) is None


def test_a_404_with_validators_is_kept(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(404, etag='"gone"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.response.status == 404


def test_304_refresh_keeps_the_body_and_takes_new_validators(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None
    refreshed = c.refresh(hit, page(304, b"", etag='"v2"', cache_control="max-age=60"))
    assert refreshed.status == 200 and refreshed.content == b"<html>flask</html>"
    again = c.lookup("GET", PAGE, ACCEPT)
    assert again is not None and again.fresh
    assert again.validators["If-None-Match"] == '"v2"'


def streamed(summary: bytes | None, **headers: str) -> Response:
    """A page answer whose body went to a sink: its hash, no bytes."""
    hdrs = Headers({k.replace("_", "-"): v for k, v in headers.items()})
    return Response(PAGE, 200, "OK", hdrs, b"", sink=Summarized(summary), body_sha256="cd" * 32)


def test_a_streamed_answer_keeps_its_sinks_summary_in_its_one_entry(tmp_path: Path) -> None:
    """Headers, the body's hash and what the sink made of the body: one file, handed back
    by a lookup and by a 304's refresh (which keeps it in the rewritten entry)."""
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, streamed(b"the parse", etag='"v1"'))
    assert len([p for p in (tmp_path / "v1" / "answers").rglob("*") if p.is_file()]) == 1
    assert not (tmp_path / "v1" / "blob").exists()
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.response.summary == b"the parse"
    assert hit.response.content == b"" and hit.response.body_sha256 == "cd" * 32
    refreshed = c.refresh(hit, page(304, b"", etag='"v2"'))
    assert refreshed.summary == b"the parse" and refreshed.body_sha256 == "cd" * 32
    again = FileCache(tmp_path).lookup("GET", PAGE, ACCEPT)
    assert again is not None and again.validators["If-None-Match"] == '"v2"'
    assert again.response.summary == b"the parse" and again.response.content == b""
    c.store("GET", PAGE, ACCEPT, streamed(None, etag='"v3"'))  # nothing to keep: the hash
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.response.summary is None
    assert hit.response.body_sha256 == "cd" * 32 and hit.validators["If-None-Match"] == '"v3"'


# --- immutable file bytes ------------------------------------------------------------


def test_hashed_file_bytes_are_fresh_without_validators_and_stored_by_hash(
    tmp_path: Path,
) -> None:
    c = FileCache(tmp_path)
    url = "https://pkgs.example/files/flask-3.1.0-py3-none-any.whl"
    digest = "sha256:" + "0f" * 32
    rng = {"Range": "bytes=-65536"}
    c.store("GET", url, rng, Response(url, 206, "Partial", Headers(), b"zip"), digest)
    hit = c.lookup("GET", url, rng, digest)
    assert hit is not None and hit.fresh and hit.response.content == b"zip"
    assert any("0f" * 32 in p.name for p in (tmp_path / "v1" / "immutable").rglob("*"))
    # Another server's file that claims the same hash gets nothing from this one.
    other = "https://evil.example/files/flask-3.1.0-py3-none-any.whl"
    assert c.lookup("GET", other, rng, digest) is None


def test_blobs_round_trip_and_refuse_odd_keys(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    key = "ab" * 32
    c.put_blob("metadata", key, b"Metadata-Version: 2.1\n")
    assert c.get_blob("metadata", key) == b"Metadata-Version: 2.1\n"
    assert c.get_blob("page", key) is None
    c.put_blob("metadata", "../../etc/passwd", b"x")
    assert c.get_blob("metadata", "../../etc/passwd") is None
    assert not list(tmp_path.rglob("passwd"))


# --- secrets ---------------------------------------------------------------------------


def test_credentials_never_reach_keys_or_files(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    with_userinfo = f"https://ci:{SECRET}@pkgs.example/simple/flask/"
    response = Response(
        with_userinfo,
        200,
        "OK",
        Headers(
            [
                ("ETag", '"v1"'),
                ("Set-Cookie", f"session={SECRET}"),
                ("WWW-Authenticate", f'Basic realm="{SECRET}"'),
                ("Authorization", f"Basic {SECRET}"),
                ("X-JFrog-Token", SECRET),
            ]
        ),
        b"<html>flask</html>",
    )
    c.store("GET", with_userinfo, {**ACCEPT, "Authorization": f"Basic {SECRET}"}, response)
    hit = c.lookup("GET", PAGE, ACCEPT)  # the same entry, found without the userinfo
    assert hit is not None
    c.refresh(hit, page(304, b"", etag='"v2"', set_cookie=f"s={SECRET}"))
    blob = all_bytes(tmp_path)
    assert SECRET.encode() not in blob
    assert b"ci:" not in blob
    assert b"set-cookie" not in blob.lower() and b"authorization" not in blob.lower()
    assert all(SECRET not in str(p) for p in tmp_path.rglob("*"))


# --- robustness ----------------------------------------------------------------------


def _only_entry(root: Path) -> Path:
    (entry,) = [p for p in (root / "v1" / "answers").rglob("*") if p.is_file()]
    return entry


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],  # a partial write
        lambda b: b[:-1] + bytes([b[-1] ^ 1]),  # a flipped bit in the body
        lambda b: b"",  # an empty file
        lambda b: b"IGC1" + b"\xff" * 20,  # garbage after the magic
        lambda b: b"not a cache entry at all",
    ],
)
def test_a_damaged_entry_is_a_miss_and_is_removed(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    entry = _only_entry(tmp_path)
    entry.write_bytes(damage(entry.read_bytes()))
    assert c.lookup("GET", PAGE, ACCEPT) is None
    assert not entry.exists()
    c.store("GET", PAGE, ACCEPT, page(etag='"v2"'))
    assert c.lookup("GET", PAGE, ACCEPT) is not None


def test_an_unusable_folder_disables_the_cache(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    c = FileCache(blocker / "cache")
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    assert c.lookup("GET", PAGE, ACCEPT) is None


def test_prune_drops_least_recently_used_past_the_bound(tmp_path: Path) -> None:
    c = FileCache(tmp_path, max_bytes=10_000)
    for i in range(10):
        url = f"https://pkgs.example/simple/p{i}/"
        hdrs = Headers({"ETag": '"x"'})
        c.store("GET", url, ACCEPT, Response(url, 200, "OK", hdrs, b"x" * 2000))
        entry = c._path(url, ACCEPT, None)
        os.utime(entry, (1_000_000 + i, 1_000_000 + i))  # p0 least recently used
    assert c.prune() > 0
    left = [p for p in (tmp_path / "v1" / "answers").rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in left) <= 10_000
    assert Path(c._path("https://pkgs.example/simple/p9/", ACCEPT, None)) in left
    assert Path(c._path("https://pkgs.example/simple/p0/", ACCEPT, None)) not in left


def test_answers_of_the_earlier_layout_are_never_read_and_are_pruned(tmp_path: Path) -> None:
    """``http/`` held answers whose streamed body slot was empty, and an older indexgate
    still reads it: this layout's answers are in ``answers/``, so neither reads the
    other's (an older one would take a page's summary for its body); pruning removes the
    old ones."""
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, streamed(b"the parse", etag='"v1"'))
    entry = _only_entry(tmp_path)
    assert entry.parent.parent == tmp_path / "v1" / "answers"
    old = tmp_path / "v1" / "http" / entry.parent.name / entry.name
    old.parent.mkdir(parents=True)
    entry.rename(old)
    assert FileCache(tmp_path).lookup("GET", PAGE, ACCEPT) is None
    assert old.exists()
    assert FileCache(tmp_path, max_bytes=1).prune() == 1 and not old.exists()


def _writer(root: str, n: int) -> None:
    c = FileCache(Path(root))
    for i in range(200):
        body = bytes([n]) * (1000 + 37 * n) + str(i).encode()
        c.store("GET", PAGE, ACCEPT, page(body=body, etag=f'"{n}-{i}"'))
        hit = c.lookup("GET", PAGE, ACCEPT)
        if hit is not None:  # whatever it found is one writer's complete entry
            content = hit.response.content
            writer = content[0]
            assert content[: 1000 + 37 * writer] == bytes([writer]) * (1000 + 37 * writer)
            assert hit.validators["If-None-Match"].startswith(f'"{writer}-')


def test_concurrent_runs_sharing_the_folder_never_see_half_an_entry(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), n)) for n in range(1, 5)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    assert not [p for p in tmp_path.rglob("*.tmp")]
    assert FileCache(tmp_path).lookup("GET", PAGE, ACCEPT) is not None


# --- the HTTP client with the cache -----------------------------------------------------


def _mocked_client(handler, **kwargs) -> HttpClient:  # type: ignore[no-untyped-def]
    """An ``HttpClient`` whose requests all go to ``handler`` (its documented test seam)."""
    return HttpClient(transport=MockTransport(handler), **kwargs)


def _serve(seen: list[Request], cache_control: str = ""):  # type: ignore[no-untyped-def]
    def handler(request: Request) -> RawResponse:
        seen.append(request)
        headers = {"ETag": '"v1"'}
        if cache_control:
            headers["Cache-Control"] = cache_control
        if request.header("If-None-Match") == '"v1"':
            return respond(304, headers=headers)
        return respond(200, headers=headers, content=b"<html>flask</html>")

    return handler


def _get(client: HttpClient, url: str = PAGE) -> Response:
    async def go() -> Response:
        try:
            return await client.request("GET", url, headers=ACCEPT, cacheable=True)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_second_run_revalidates_and_gets_the_stored_page(tmp_path: Path) -> None:
    seen: list[Request] = []
    first = _get(_mocked_client(_serve(seen), cache=FileCache(tmp_path)))
    second_client = _mocked_client(_serve(seen), cache=FileCache(tmp_path))
    second = _get(second_client)
    assert first.content == second.content == b"<html>flask</html>"
    assert seen[1].header("If-None-Match") == '"v1"'
    assert second.from_cache and second_client.stats.revalidated == 1


def test_a_fresh_page_is_still_asked_for_when_credentials_are_configured(tmp_path: Path) -> None:
    seen: list[Request] = []
    _get(_mocked_client(_serve(seen, "max-age=600"), cache=FileCache(tmp_path)))
    anonymous = _mocked_client(_serve(seen, "max-age=600"), cache=FileCache(tmp_path))
    _get(anonymous)
    assert len(seen) == 1 and anonymous.stats.cache_hits == 1
    private = _mocked_client(_serve(seen, "max-age=600"), cache=FileCache(tmp_path))
    private.add_credentials(PAGE, ("ci", SECRET))
    _get(private)
    assert len(seen) == 2, "an auth failure must never hide behind a fresh cache entry"
    assert seen[1].header("If-None-Match") == '"v1"' and seen[1].header("authorization")
    assert SECRET.encode() not in all_bytes(tmp_path)


def test_a_fresh_page_stored_for_credentials_is_asked_for_again_without_them(
    tmp_path: Path,
) -> None:
    """The cache never reuses an answer across credentials: a run without them (or with
    others) must hear the server say 401, not get the private page from the cache."""
    seen: list[Request] = []
    private = _mocked_client(_serve(seen, "max-age=600"), cache=FileCache(tmp_path))
    private.add_credentials(PAGE, ("ci", SECRET))
    _get(private)
    anonymous = _mocked_client(_serve(seen, "max-age=600"), cache=FileCache(tmp_path))
    _get(anonymous)
    assert len(seen) == 2 and anonymous.stats.cache_hits == 0
    assert seen[1].header("authorization") is None
    assert SECRET.encode() not in all_bytes(tmp_path)


def test_an_answer_to_credentials_stays_never_fresh_after_a_304(tmp_path: Path) -> None:
    c = FileCache(tmp_path)
    c.store("GET", PAGE, ACCEPT, page(cache_control="max-age=600", etag='"v"'), authed=True)
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and not hit.fresh and hit.authed
    c.refresh(hit, page(status=304, cache_control="max-age=900", etag='"v2"'))
    again = c.lookup("GET", PAGE, ACCEPT)
    assert again is not None and not again.fresh and again.validators["If-None-Match"] == '"v2"'


# --- writing behind (``background=True``, as a run opens its cache) ----------------------------


def test_entries_written_behind_are_read_back_at_once_and_on_disk_after_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's cache writes its entries from a thread of its own; until one is on disk the
    cache answers it from memory, and ``close`` waits until every one is written."""
    import threading

    gate = threading.Event()  # the writer thread waits here: nothing reaches the disk yet
    real_write = cache_mod._write

    def slow_write(path: Path, meta: dict, body: bytes) -> None:
        gate.wait(10)
        real_write(path, meta, body)

    monkeypatch.setattr(cache_mod, "_write", slow_write)
    c = FileCache(tmp_path, background=True)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    c.put_blob("metadata", "ab" * 32, b"Metadata-Version: 2.1")
    assert not any(p.is_file() for p in (tmp_path / "v1" / "answers").rglob("*"))
    hit = c.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.response.content == b"<html>flask</html>"
    assert c.get_blob("metadata", "ab" * 32) == b"Metadata-Version: 2.1"
    gate.set()
    c.close()
    again = FileCache(tmp_path)  # another run: only what is on disk
    assert again.lookup("GET", PAGE, ACCEPT) is not None
    assert again.get_blob("metadata", "ab" * 32) == b"Metadata-Version: 2.1"


def test_an_entry_removed_while_it_is_being_written_is_gone_from_disk_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    gate = threading.Event()
    real_write = cache_mod._write
    monkeypatch.setattr(cache_mod, "_write", lambda *a: (gate.wait(10), real_write(*a))[1])
    c = FileCache(tmp_path, background=True)
    c.store("GET", PAGE, ACCEPT, page(etag='"v1"'))
    time.sleep(0.2)  # the writer has taken the entry and waits to write it
    c.store("GET", PAGE, ACCEPT, page(cache_control="no-store"))  # removes the entry
    assert c.lookup("GET", PAGE, ACCEPT) is None
    gate.set()
    c.close()
    assert FileCache(tmp_path).lookup("GET", PAGE, ACCEPT) is None


def test_two_runs_sharing_a_new_folder_each_read_what_the_other_stores(tmp_path: Path) -> None:
    # The README: concurrent runs may share the cache. The run whose cache made the folder
    # once skipped the disk for every entry it had not written itself, so it never saw the
    # fresh page the other run had just stored.
    first = FileCache(tmp_path / "shared")  # makes the folder
    second = FileCache(tmp_path / "shared")  # finds it made
    second.store("GET", PAGE, ACCEPT, page(cache_control="max-age=600", etag='"v1"'))
    second.put_blob("metadata", "ab" * 32, b"Metadata-Version: 2.1")
    hit = first.lookup("GET", PAGE, ACCEPT)
    assert hit is not None and hit.fresh
    assert first.get_blob("metadata", "ab" * 32) == b"Metadata-Version: 2.1"
