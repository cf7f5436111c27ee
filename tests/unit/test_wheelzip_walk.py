"""The central directory's walk (``_central_entries``): METADATA candidates by name only,
every entry's offset, and on any damage an answer or a ``MetadataError``, nothing else."""

from __future__ import annotations

import io
import random
import struct
import zipfile
from unittest import mock

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


def reference_walk(cd: bytes, count: int, cd_offset: int) -> tuple[list[object], list[int]]:
    """The walk as it was before it read the METADATA names and ZIP64 values apart: every
    field of every entry in turn, one entry after the other (the oracle of the test below)."""
    candidates: list[object] = []
    offsets: list[int] = []
    pos = 0
    while pos < len(cd) and len(offsets) < count:
        if pos + 46 > len(cd):
            raise MetadataError(f"corrupt central directory at offset {cd_offset + pos}")
        fields = struct.unpack_from("<4sHHHHHHIIIHHHHHII", cd, pos)
        sig, flags, method, crc, csize, usize = fields[0], *fields[3:5], *fields[7:10]
        name_len, extra_len, comment_len, offset = *fields[10:13], fields[16]
        if sig != b"PK\x01\x02":
            raise MetadataError(f"corrupt central directory at offset {cd_offset + pos}")
        end = pos + 46 + name_len + extra_len + comment_len
        if end > len(cd):
            raise MetadataError(f"truncated central directory at offset {cd_offset + pos}")
        if 0xFFFFFFFF in (usize, csize, offset):
            extra = cd[pos + 46 + name_len : pos + 46 + name_len + extra_len]
            usize, csize, offset = wheelzip._zip64_values(extra, usize, csize, offset)
        offsets.append(offset)
        raw = cd[pos + 46 : pos + 46 + name_len]
        if raw.endswith((b".dist-info/METADATA", b".dist-info/METADATA\n")):
            name = wheelzip._decode_name(raw, flags)
            candidates.append(wheelzip._Entry(name, flags, method, crc, csize, usize, offset))
        pos = end
    if len(offsets) < count:
        raise MetadataError(f"central directory lists {len(offsets)} of {count} entries")
    return candidates, offsets


def zip64_directory() -> tuple[bytes, int, int]:
    """A directory whose entries keep their sizes and offsets in ZIP64 extra fields."""
    with mock.patch.object(zipfile, "ZIP64_LIMIT", 10):
        return directory(build([*MEMBERS, "foo-1.0.dist-info/METADATA\n"]))


@pytest.mark.parametrize("seed", range(300))
def test_a_damaged_directory_gives_what_a_field_by_field_walk_gives(seed: int) -> None:
    """The same candidates and offsets, or the same MetadataError (the first damage met
    in the directory's order, a short ZIP64 extra field included), as the oracle."""
    rng = random.Random(seed)
    cd, count, offset = zip64_directory() if seed % 2 else directory(build(MEMBERS))
    for _ in range(20):
        damaged = bytearray(cd)
        for _ in range(rng.randint(0, 4)):
            damaged[rng.randrange(len(damaged))] = rng.choice(
                [0, 1, 0x0A, 0x20, 0xFF, rng.randrange(256)]
            )
        cut = rng.choice([len(cd), len(cd) - 1, len(cd) - 30, rng.randrange(len(cd))])
        args = (bytes(damaged[:cut]), rng.choice([count, count - 1, count + 1, 0, 1]), offset)
        assert outcome(wheelzip._central_entries, *args) == outcome(reference_walk, *args)


def test_a_short_zip64_extra_field_is_reported_before_later_damage() -> None:
    cd, count, offset = zip64_directory()
    second = 46 + len(MEMBERS[0])  # the first entry has no extra field (its offset is 0)
    extra = second + 46 + len(MEMBERS[1])  # the second's ZIP64 field: tag, size, 3 values
    assert struct.unpack_from("<HH", cd, extra) == (1, 24)
    damaged = bytearray(cd)
    damaged[extra + 2] = 16  # too short for the three values it should hold
    damaged[-46:-42] = b"XXXX"  # and the last entry is no entry
    with pytest.raises(MetadataError, match="ZIP64 extra field is too short"):
        wheelzip._central_entries(bytes(damaged), count, offset)


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
