"""The central directory's quick walk (``_walk``) against the exact one (``_walk_exactly``)."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import pytest

from indexgate.dists import wheelzip
from indexgate.dists.metadata import MetadataError
from indexgate.dists.wheelzip import MetadataLocation, extract_member, locate_metadata

METADATA = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n\n" + b"text " * 40


def build(members: list[zipfile.ZipInfo | str], data: bytes = METADATA) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member in members:
            zf.writestr(member, data if "METADATA" in str(member) else b"x = 1\n")
    return buf.getvalue()


def directory(data: bytes) -> tuple[bytes, int, int]:
    """The central directory's bytes, its entry count and its offset."""
    _sig, _d, _cd, _n, count, size, offset, _c = struct.unpack_from(
        "<4sHHHHIIH", data, len(data) - 22
    )
    return data[offset : offset + size], count, offset


def outcome(walk: object, *args: object) -> object:
    try:
        return walk(*args)  # type: ignore[operator]
    except MetadataError as exc:
        return f"error: {exc}"


MEMBERS: list[zipfile.ZipInfo | str] = [
    "foo/__init__.py",
    "foo/_vendor/bar-1.0.dist-info/METADATA",
    "foo-1.0.dist-info/METADATA",
    "foo-1.0.dist-info/RECORD",
]


def test_quick_walk_is_taken_and_agrees_on_a_plain_wheel() -> None:
    cd, count, offset = directory(build(MEMBERS))
    quick = wheelzip._walk(cd, count)
    assert quick is not None
    assert quick == wheelzip._walk_exactly(cd, count, offset)
    assert [e.name for e in quick[0]] == [
        "foo/_vendor/bar-1.0.dist-info/METADATA",
        "foo-1.0.dist-info/METADATA",
    ]


@pytest.mark.parametrize("seed", range(200))
def test_quick_walk_agrees_with_the_exact_walk_on_damaged_directories(seed: int) -> None:
    """Whatever bytes change, the answer or the error is the exact walk's."""
    rng = random.Random(seed)
    cd, count, offset = directory(build(MEMBERS))
    damaged = bytearray(cd)
    for _ in range(rng.randint(1, 3)):
        damaged[rng.randrange(len(damaged))] = rng.choice([0, 1, 0x20, 0xFF, rng.randrange(256)])
    cut = rng.choice([len(damaged), len(damaged) - 1, len(damaged) - 30, rng.randrange(80)])
    args = (bytes(damaged[:cut]), rng.choice([count, count - 1, count + 1, 0]), offset)
    assert outcome(wheelzip._central_entries, *args) == outcome(wheelzip._walk_exactly, *args)


def test_metadata_text_in_a_comment_or_a_longer_name_is_no_candidate() -> None:
    commented = zipfile.ZipInfo("foo/data.txt")
    commented.comment = b"see foo-1.0.dist-info/METADATA"
    extra = zipfile.ZipInfo("foo/more.txt")
    extra.extra = struct.pack("<HH", 0x7777, 26) + b"x-1.0.dist-info/METADATA\n\n"
    members: list[zipfile.ZipInfo | str] = [
        commented,
        extra,
        "foo-1.0.dist-info/METADATA.orig",
        "foo-1.0.dist-info/METADATA",
    ]
    data = build(members)
    cd, count, offset = directory(data)
    quick = wheelzip._walk(cd, count)
    assert quick is not None
    assert [e.name for e in quick[0]] == ["foo-1.0.dist-info/METADATA"]
    assert quick == wheelzip._walk_exactly(cd, count, offset)
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert extract_member(data, 0, loc) == METADATA


def test_a_name_ending_in_a_newline_is_a_candidate_on_both_walks() -> None:
    data = build(["foo/__init__.py", "foo-1.0.dist-info/METADATA\n"])
    cd, count, offset = directory(data)
    quick = wheelzip._walk(cd, count)
    assert quick is not None
    assert quick == wheelzip._walk_exactly(cd, count, offset)
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert loc.name == "foo-1.0.dist-info/METADATA\n"


def test_ffffffff_outside_the_zip64_fields_takes_the_exact_walk() -> None:
    """Four 0xFF bytes (here the external attributes) send the walk to the exact one,
    which finds no ZIP64 value and reads the wheel as usual."""
    odd = zipfile.ZipInfo("foo/__init__.py")
    odd.external_attr = 0xFFFFFFFF
    data = build([odd, "foo-1.0.dist-info/METADATA"])
    cd, count, _offset = directory(data)
    assert wheelzip._walk(cd, count) is None
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert extract_member(data, 0, loc) == METADATA


def test_span_end_is_the_nearest_later_member_whatever_the_directory_order() -> None:
    data = build(["a.py", "foo-1.0.dist-info/METADATA", "b.py", "c.py"])
    cd, count, offset = directory(data)
    entries = []
    pos = 0
    for _ in range(count):  # reverse the directory's order: offsets are no longer sorted
        n, e, c = struct.unpack_from("<HHH", cd, pos + 28)
        entries.append(cd[pos : pos + 46 + n + e + c])
        pos += 46 + n + e + c
    reordered = b"".join(reversed(entries))
    tail = data[:offset] + reordered + data[offset + len(cd) :]
    loc = locate_metadata(tail, 0, len(tail), "foo")
    expected = zipfile.ZipFile(io.BytesIO(data)).getinfo("b.py").header_offset
    assert isinstance(loc, MetadataLocation)
    assert loc.span_end == expected
    assert extract_member(tail, 0, loc) == METADATA
