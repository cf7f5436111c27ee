"""What the cache keeps of a wheel's METADATA read by range requests: its header section
only (all a parse reads), and a warm run's metadata from it is the cold run's."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from pathlib import Path

from support.mock_transport import MockTransport, respond

from indexgate.dists.metadata import header_section
from indexgate.dists.models import DistFile
from indexgate.index.cache import FileCache
from indexgate.index.client import IndexClient, MetadataResult
from indexgate.index.client_files import _metadata_key
from indexgate.index.http import HttpClient
from indexgate.index.transport.base import RawResponse, Request
from indexgate.settings import IndexConfig

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/")
URL = "https://idx.example/files/pkg-1.0-py3-none-any.whl"


METADATA = (
    b"Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\nRequires-Dist: dep>=2\n\n"
    + b"A long description that no parse reads.\n" * 200
)


def wheel_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pkg/__init__.py", b"")
        zf.writestr("pkg-1.0.dist-info/METADATA", METADATA)
        zf.writestr("pkg-1.0.dist-info/RECORD", b"")
    return buf.getvalue()


def dist_file(data: bytes) -> DistFile:
    hashes = {"sha256": hashlib.sha256(data).hexdigest()}
    return DistFile(filename=URL.rsplit("/", 1)[1], url=URL, hashes=hashes)


def serve_ranges(data: bytes, seen: list[str], request: Request) -> RawResponse:
    spec = request.header("range") or ""
    seen.append(spec)
    first, _, last = spec.removeprefix("bytes=").partition("-")
    if not first:
        start, end = max(len(data) - int(last), 0), len(data) - 1
    else:
        start, end = int(first), min(int(last), len(data) - 1)
    headers = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
    return respond(206, content=data[start : end + 1], headers=headers)


def read(cache_dir: Path, data: bytes, seen: list[str]) -> MetadataResult:
    file = dist_file(data)

    async def main() -> MetadataResult:
        transport = MockTransport(lambda r: serve_ranges(data, seen, r))
        http = HttpClient(backoff=0.0, transport=transport, cache=FileCache(cache_dir))
        try:
            return await IndexClient(http, (INDEX,)).metadata(INDEX, file)
        finally:
            await http.aclose()

    return asyncio.run(main())


def test_the_cache_keeps_the_header_section_and_a_warm_read_matches(tmp_path: Path) -> None:
    data = wheel_bytes()
    seen: list[str] = []
    cold = read(tmp_path / "cache", data, seen)
    assert cold.metadata is not None and not cold.from_cache
    assert [str(r) for r in cold.metadata.requires_dist] == ["dep>=2"]
    assert seen  # read by ranges

    key = _metadata_key(dist_file(data))
    assert key is not None
    stored = FileCache(tmp_path / "cache").get_blob("metadata", key)
    assert stored == header_section(METADATA) == METADATA[: METADATA.index(b"\n\n") + 1]

    seen.clear()
    warm = read(tmp_path / "cache", data, seen)
    assert seen == []  # no request: the metadata came from the cache
    assert warm.from_cache
    assert repr(warm.metadata) == repr(cold.metadata)
