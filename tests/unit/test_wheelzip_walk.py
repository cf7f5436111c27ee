"""The central directory's walk (``_central_entries``): METADATA candidates by name only,
every entry's offset, and on any damage an answer or a ``MetadataError``, nothing else."""

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


def test_the_walk_finds_every_metadata_name_and_every_offset() -> None:
    data = build(MEMBERS)
    cd, count, offset = directory(data)
    walked = wheelzip._central_entries(cd, count, offset)
    infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    assert walked[1] == [i.header_offset for i in infos]
    assert [e.name for e in walked[0]] == [
        "foo/_vendor/bar-1.0.dist-info/METADATA",
        "foo-1.0.dist-info/METADATA",
    ]


@pytest.mark.parametrize("seed", range(200))
def test_a_damaged_directory_gives_an_answer_or_a_metadata_error(seed: int) -> None:
    """Whatever bytes change, the walk lists ``count`` offsets and only METADATA names,
    or says what is wrong (a MetadataError, never another exception)."""
    rng = random.Random(seed)
    cd, count, offset = directory(build(MEMBERS))
    damaged = bytearray(cd)
    for _ in range(rng.randint(1, 3)):
        damaged[rng.randrange(len(damaged))] = rng.choice([0, 1, 0x20, 0xFF, rng.randrange(256)])
    cut = rng.choice([len(damaged), len(damaged) - 1, len(damaged) - 30, rng.randrange(80)])
    args = (bytes(damaged[:cut]), rng.choice([count, count - 1, count + 1, 0]), offset)
    answer = outcome(wheelzip._central_entries, *args)
    if not isinstance(answer, str):
        candidates, offsets = answer
        assert len(offsets) == args[1]
        assert all(e.name.rstrip("\n").endswith(".dist-info/METADATA") for e in candidates)


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
    walked = wheelzip._central_entries(cd, count, offset)
    assert [e.name for e in walked[0]] == ["foo-1.0.dist-info/METADATA"]
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert extract_member(data, 0, loc) == METADATA


def test_a_name_ending_in_a_newline_is_a_candidate() -> None:
    data = build(["foo/__init__.py", "foo-1.0.dist-info/METADATA\n"])
    cd, count, offset = directory(data)
    walked = wheelzip._central_entries(cd, count, offset)
    assert [e.name for e in walked[0]] == ["foo-1.0.dist-info/METADATA\n"]
    loc = locate_metadata(data, 0, len(data), "foo")
    assert isinstance(loc, MetadataLocation)
    assert loc.name == "foo-1.0.dist-info/METADATA\n"


def test_ffffffff_outside_the_zip64_fields_is_no_zip64_value() -> None:
    """Four 0xFF bytes in a field ZIP64 does not extend (here the external attributes):
    the wheel reads as usual."""
    odd = zipfile.ZipInfo("foo/__init__.py")
    odd.external_attr = 0xFFFFFFFF
    data = build([odd, "foo-1.0.dist-info/METADATA"])
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
