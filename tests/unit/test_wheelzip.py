"""Reading a wheel's METADATA through range requests, against wheels built in memory."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from contextlib import suppress
from unittest import mock

import pytest

from indexgate.dists.metadata import MetadataError
from indexgate.dists.wheelzip import (
    MAX_METADATA_SIZE,
    TAIL_SIZE,
    MetadataLocation,
    NeedRange,
    extract_member,
    locate_metadata,
    metadata_from_whole_wheel,
    tail_range,
)

METADATA = (
    b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\nRequires-Dist: bar>=1\n\n"
    + b"A long description. " * 50
)


def build_wheel(
    members: list[tuple[str, bytes]] | None = None,
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    comment: bytes = b"",
) -> bytes:
    if members is None:
        members = [
            ("foo/__init__.py", b"x = 1\n" * 100),
            ("foo-1.0.dist-info/METADATA", METADATA),
            ("foo-1.0.dist-info/RECORD", b""),
        ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members:
            zf.writestr(name, data)
        zf.comment = comment
    return buf.getvalue()


def random_bytes(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def fetch_metadata(
    data: bytes, project: str | None = "foo", tail_size: int = TAIL_SIZE
) -> tuple[bytes, list[NeedRange]]:
    """What the index client does: ranges on demand, recording every request."""
    size = len(data)
    requests: list[NeedRange] = []

    def fetch(r: NeedRange) -> bytes:
        assert 0 <= r.start < r.end <= size
        requests.append(r)
        return data[r.start : r.end]

    first = NeedRange(max(0, size - tail_size), size)
    tail, start = fetch(first), first.start
    loc = locate_metadata(tail, start, size, project)
    while isinstance(loc, NeedRange):
        assert loc.start < start, "each NeedRange is a strictly longer tail"
        assert loc.end == size, "a NeedRange from locate_metadata runs to the end of file"
        assert len(requests) < 10
        tail, start = fetch(loc), loc.start
        loc = locate_metadata(tail, start, size, project)
    out = extract_member(tail, start, loc)
    if isinstance(out, NeedRange):
        out = extract_member(fetch(out), out.start, loc)
    assert isinstance(out, bytes)
    return out, requests


def test_small_deflated_wheel_needs_one_request() -> None:
    data = build_wheel()
    out, requests = fetch_metadata(data)
    assert out == METADATA
    assert requests == [NeedRange(0, len(data))]


def test_stored_metadata_is_returned_verbatim() -> None:
    data = build_wheel(compression=zipfile.ZIP_STORED)
    loc = locate_metadata(data, 0, len(data))
    assert isinstance(loc, MetadataLocation)
    assert loc.method == 0
    assert extract_member(data, 0, loc) == METADATA


def test_deflate_method_is_reported() -> None:
    data = build_wheel()
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert (loc.method, loc.uncompressed_size) == (8, len(METADATA))
    assert loc.compressed_size < len(METADATA)


def test_metadata_outside_the_tail_costs_exactly_one_more_range() -> None:
    big = random_bytes(200_000)  # incompressible: pushes METADATA far from the end
    data = build_wheel(
        [
            ("foo-1.0.dist-info/METADATA", METADATA),
            ("foo/blob.bin", big),
            ("foo-1.0.dist-info/RECORD", b""),
        ]
    )
    out, requests = fetch_metadata(data)
    assert out == METADATA
    assert len(requests) == 2
    loc = locate_metadata(data[-TAIL_SIZE:], len(data) - TAIL_SIZE, len(data))
    assert isinstance(loc, MetadataLocation)
    assert requests[1] == loc.range
    assert loc.range.end <= len(data) - len(big)  # only the member, not the blob after it


def test_central_directory_larger_than_the_tail_is_fetched_in_one_range() -> None:
    members = [(f"foo/{'deep/' * 8}module_{i:05d}.py", b"") for i in range(2000)]
    members.append(("foo-1.0.dist-info/METADATA", METADATA))
    data = build_wheel(members)
    out, requests = fetch_metadata(data)
    assert out == METADATA
    cd_offset = zipfile.ZipFile(io.BytesIO(data)).start_dir
    tail_start = len(data) - TAIL_SIZE
    # tail, then a tail long enough for the whole central directory, then the member
    assert tail_start > cd_offset
    assert requests[1] == NeedRange(cd_offset, len(data))
    assert len(requests) == 3
    assert requests[2].end == cd_offset


def test_tiny_tail_first_asks_for_the_end_of_central_directory() -> None:
    data = build_wheel()
    result = locate_metadata(data[-10:], len(data) - 10, len(data))
    assert result == NeedRange(0, len(data))  # the file is smaller than a max EOCD
    out, requests = fetch_metadata(data, tail_size=10)
    assert out == METADATA
    assert len(requests) >= 2


def test_long_zip_comment_puts_eocd_before_the_default_tail() -> None:
    data = build_wheel(comment=b"c" * 0xFFFF)
    first = locate_metadata(data[-TAIL_SIZE:], len(data) - TAIL_SIZE, len(data))
    assert isinstance(first, NeedRange)
    out, _ = fetch_metadata(data)
    assert out == METADATA


def test_eocd_signature_inside_the_comment_is_not_mistaken_for_the_record() -> None:
    fake = b"PK\x05\x06" + b"\xff" * 18  # a plausible but wrong EOCD in the comment
    data = build_wheel(comment=fake + b"tail of comment")
    out, requests = fetch_metadata(data)
    assert out == METADATA
    assert len(requests) == 1


def build_zip64_wheel(members: list[tuple[str, bytes]] | None = None) -> bytes:
    # Lower zipfile's limits while writing so a small archive gets every ZIP64 structure:
    # EOCD64 record + locator, and 64-bit sizes/offsets in the central directory extras.
    with (
        mock.patch.object(zipfile, "ZIP_FILECOUNT_LIMIT", 1),
        mock.patch.object(zipfile, "ZIP64_LIMIT", 10),
    ):
        data = bytearray(build_wheel(members))
    # zipfile keeps small counts in the EOCD; a real ZIP64 archive has the sentinels there.
    data[-14:-2] = struct.pack("<HHII", 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).testzip() is None
    return bytes(data)


def test_zip64_archive_is_read_through_the_zip64_records() -> None:
    data = build_zip64_wheel()
    eocd = data[-22:]
    assert eocd[:4] == b"PK\x05\x06"
    assert struct.unpack("<HII", eocd[10:20]) == (0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
    assert data[-42:-38] == b"PK\x06\x07"
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert extract_member(data, 0, loc) == METADATA


def test_zip64_with_a_tail_too_small_for_the_locator_asks_for_more() -> None:
    data = build_zip64_wheel()
    result = locate_metadata(data[-22:], len(data) - 22, len(data))
    assert result == NeedRange(len(data) - 42, len(data))
    out, _ = fetch_metadata(data, tail_size=22)
    assert out == METADATA


def test_local_header_extra_longer_than_central_extra_is_honoured() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("foo/__init__.py", b"")
        with zf.open("foo-1.0.dist-info/METADATA", "w", force_zip64=True) as member:
            member.write(METADATA)  # zip64 extra in the local header only
    data = buf.getvalue()
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("foo-1.0.dist-info/METADATA")
    local_extra_len = struct.unpack_from("<H", data, info.header_offset + 28)[0]
    assert local_extra_len != len(info.extra)
    out, _ = fetch_metadata(data)
    assert out == METADATA


class _Unseekable(io.RawIOBase):
    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, b: bytes) -> int:  # type: ignore[override]
        self.data += b
        return len(b)


def test_data_descriptor_entries_use_central_directory_sizes() -> None:
    sink = _Unseekable()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("foo-1.0.dist-info/METADATA", METADATA)
    data = bytes(sink.data)
    flags, _m, _t, _d, _crc, csize = struct.unpack_from("<HHHHII", data, 6)
    assert flags & 0x8 and csize == 0  # sizes only after the data
    out, _ = fetch_metadata(data)
    assert out == METADATA


def test_project_name_picks_between_several_dist_info_directories() -> None:
    other = b"Metadata-Version: 2.1\nName: bar\nVersion: 2.0\n"
    data = build_wheel(
        [
            ("bar-2.0.dist-info/METADATA", other),
            ("Foo_Bar-1.0.dist-info/METADATA", METADATA),
        ]
    )
    assert fetch_metadata(data, project="foo.bar")[0] == METADATA
    assert fetch_metadata(data, project="bar")[0] == other
    with pytest.raises(MetadataError, match="several METADATA"):
        fetch_metadata(data, project=None)


def test_nested_dist_info_is_not_the_wheels_metadata() -> None:
    data = build_wheel(
        [
            ("foo/_vendor/baz-1.0.dist-info/METADATA", b"Name: baz\n"),
            ("foo-1.0.dist-info/METADATA", METADATA),
        ]
    )
    assert fetch_metadata(data, project=None)[0] == METADATA


def test_single_metadata_is_used_even_if_the_name_differs() -> None:
    # The caller compares the Name field with what it asked for; a lone METADATA is it.
    data = build_wheel([("foo-1.0.dist-info/METADATA", METADATA)])
    assert fetch_metadata(data, project="other")[0] == METADATA


def test_wheel_without_metadata_is_an_error() -> None:
    data = build_wheel([("foo/__init__.py", b"")])
    with pytest.raises(MetadataError, match=r"no \.dist-info/METADATA"):
        fetch_metadata(data)


def test_not_a_zip_is_an_error() -> None:
    with pytest.raises(MetadataError, match="not a zip"):
        locate_metadata(b"hello, not a zip", 0, 16)
    with pytest.raises(MetadataError, match="not a zip"):
        fetch_metadata(random_bytes(300_000))  # large: first asks for more, then gives up


def test_truncated_zip_is_an_error() -> None:
    data = build_wheel()
    with pytest.raises(MetadataError):
        fetch_metadata(data[: len(data) // 2])
    with pytest.raises(MetadataError):
        fetch_metadata(data[:-5])  # EOCD cut short


def test_corrupt_central_directory_is_an_error() -> None:
    data = bytearray(build_wheel())
    cd = data.rfind(b"PK\x01\x02")
    data[cd : cd + 4] = b"XXXX"
    with pytest.raises(MetadataError, match="central directory"):
        fetch_metadata(bytes(data))


def test_corrupt_compressed_data_is_an_error() -> None:
    data = bytearray(build_wheel())
    loc = locate_metadata(bytes(data), 0, len(data))
    assert isinstance(loc, MetadataLocation)
    start = loc.header_offset + 30 + len(loc.name)
    data[start + 5 : start + 15] = b"\x00" * 10
    with pytest.raises(MetadataError, match="METADATA"):
        extract_member(bytes(data), 0, loc)


def test_tail_not_ending_at_file_size_is_rejected() -> None:
    data = build_wheel()
    with pytest.raises(MetadataError, match="does not end at file size"):
        locate_metadata(data[:-1], 0, len(data))


def test_oversized_metadata_is_refused_before_download() -> None:
    data = build_wheel([("foo-1.0.dist-info/METADATA", b"\0" * (MAX_METADATA_SIZE + 1))])
    with pytest.raises(MetadataError, match="over the limit"):
        locate_metadata(data, 0, len(data))


def test_deflate_bomb_with_lying_size_is_capped() -> None:
    data = build_wheel([("foo-1.0.dist-info/METADATA", b"\0" * (MAX_METADATA_SIZE + 1))])
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("foo-1.0.dist-info/METADATA")
    loc = MetadataLocation(
        name=info.filename,
        header_offset=info.header_offset,
        compressed_size=info.compress_size,
        uncompressed_size=100,
        method=8,
        crc32=info.CRC,
        span_end=len(data) - 22 - 46 - len(info.filename),
    )
    with pytest.raises(MetadataError, match="inflates past"):
        extract_member(data, 0, loc)


def test_extract_asks_for_the_member_range_when_buffer_misses_it() -> None:
    data = build_wheel()
    loc = locate_metadata(data, 0, len(data))
    assert isinstance(loc, MetadataLocation)
    assert extract_member(data[-30:], len(data) - 30, loc) == loc.range
    assert extract_member(data[: loc.header_offset + 40], 0, loc) == loc.range
    member = data[loc.range.start : loc.range.end]
    assert extract_member(member, loc.range.start, loc) == METADATA


def test_range_helpers_use_exclusive_ends_and_inclusive_http_header() -> None:
    assert tail_range(100) == NeedRange(0, 100)
    assert tail_range(100_000) == NeedRange(100_000 - TAIL_SIZE, 100_000)
    assert NeedRange(10, 20).header == "bytes=10-19"


def test_whole_wheel_fallback_reads_metadata() -> None:
    assert metadata_from_whole_wheel(build_wheel(), "foo") == METADATA
    assert metadata_from_whole_wheel(build_zip64_wheel()) == METADATA


def test_whole_wheel_fallback_rejects_garbage_and_missing_metadata() -> None:
    with pytest.raises(MetadataError, match="unreadable wheel"):
        metadata_from_whole_wheel(b"garbage", "foo")
    with pytest.raises(MetadataError, match=r"no \.dist-info/METADATA"):
        metadata_from_whole_wheel(build_wheel([("foo/__init__.py", b"")]), "foo")


@pytest.mark.parametrize("seed", range(300))
def test_corrupted_wheels_raise_only_metadata_error(seed: int) -> None:
    rng = random.Random(seed)
    data = bytearray(build_wheel() if seed % 2 else build_zip64_wheel())
    for _ in range(rng.randint(1, 4)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    tail = rng.choice([22, 60, 200, TAIL_SIZE])
    with suppress(MetadataError):  # anything else fails the test
        fetch_metadata(bytes(data), tail_size=tail)
    with suppress(MetadataError):
        metadata_from_whole_wheel(bytes(data), "foo")
