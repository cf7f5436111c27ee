"""The central directory reader decodes only names that may be the METADATA: on wheels
with many members and awkward names it finds what zipfile finds, or fails as it did."""

from __future__ import annotations

import io
import zipfile

import pytest

from indexgate.dists import wheelzip
from indexgate.dists.metadata import MetadataError
from indexgate.dists.wheelzip import (
    MetadataLocation,
    NeedRange,
    extract_member,
    locate_metadata,
    metadata_from_whole_wheel,
)

METADATA = b"Metadata-Version: 2.1\nName: foo\nVersion: 1.0\n\n"


def zip_of(members: list[tuple[str | bytes, bytes]]) -> bytes:
    """A zip of the members; a name given as bytes is written raw (cp437, flag 0x800 off),
    which zipfile itself never does for non-ASCII names."""
    raw_names = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for i, (name, data) in enumerate(members):
            if isinstance(name, bytes):
                placeholder = f"{i:0{len(name)}d}"  # ASCII, as long as the raw name
                raw_names[placeholder.encode()] = name
                name = placeholder
            zf.writestr(name, data)
    out = buf.getvalue()
    for placeholder, raw in raw_names.items():
        assert out.count(placeholder) == 2  # local header and central directory
        out = out.replace(placeholder, raw)
    return out


def by_ranges(data: bytes, project: str | None) -> bytes:
    size = len(data)
    start = max(0, size - wheelzip.TAIL_SIZE)
    loc = locate_metadata(data[start:], start, size, project)
    while isinstance(loc, NeedRange):
        loc = locate_metadata(data[loc.start :], loc.start, size, project)
    assert isinstance(loc, MetadataLocation)
    out = extract_member(data[loc.header_offset : loc.span_end], loc.header_offset, loc)
    assert isinstance(out, bytes)
    return out


def many(n: int, start: int = 0) -> list[tuple[str | bytes, bytes]]:
    return [(f"foo/module_{i}.py", b"x = %d\n" % i) for i in range(start, start + n)]


CASES: dict[str, list[tuple[str | bytes, bytes]]] = {
    "thousands of members": [*many(3000), ("foo-1.0.dist-info/METADATA", METADATA)],
    "metadata first": [("foo-1.0.dist-info/METADATA", METADATA), *many(500)],
    "non-ascii names around": [
        ("foo/d\u00e9j\u00e0.py", b""),
        (b"foo/caf\x82.py", b""),
        (b"foo-1.0.dist-info/caf\x82", b""),
        ("foo-1.0.dist-info/METADATA", METADATA),
        ("foo-1.0.dist-info/METADATA.bak", b"no"),
        ("foo/x.dist-info/METADATA", b"nested, not it"),
    ],
    "non-ascii dist-info name": [("f\u00f6\u00f6-1.0.dist-info/METADATA", METADATA)],
    "cp437 dist-info name": [(b"f\x94\x94-1.0.dist-info/METADATA", METADATA)],
    # The name pattern's "$" also matches before a final newline, as it always did.
    "newline after the name": [*many(10), ("foo-1.0.dist-info/METADATA\n", METADATA)],
    "two, the project decides": [
        ("foo-1.0.dist-info/METADATA", METADATA),
        ("bar-1.0.dist-info/METADATA", b"Name: bar\n"),
        *many(50),
    ],
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_metadata_as_zipfile(case: str) -> None:
    data = zip_of(CASES[case])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
    for name, _ in CASES[case]:  # the names are in the file as intended
        assert (name if isinstance(name, str) else name.decode("cp437")) in names
    assert by_ranges(data, "foo") == metadata_from_whole_wheel(data, "foo")


@pytest.mark.parametrize(
    "members",
    [
        [*many(100)],
        [("a-1.dist-info/METADATA", METADATA), ("b-1.dist-info/METADATA", METADATA)],
        [("foo/x.dist-info/METADATA", METADATA), ("foo-1.0.dist-info/METADATA.orig", b"")],
    ],
)
def test_same_failures_as_zipfile(members: list[tuple[str | bytes, bytes]]) -> None:
    data = zip_of(members)
    with pytest.raises(MetadataError) as by_zipfile:
        metadata_from_whole_wheel(data, None)
    with pytest.raises(MetadataError) as ours:
        by_ranges(data, None)
    assert str(ours.value) == str(by_zipfile.value)


def test_the_member_after_metadata_still_bounds_it() -> None:
    data = zip_of([*many(20), ("foo-1.0.dist-info/METADATA", METADATA), *many(20, 20)])
    size = len(data)
    loc = locate_metadata(data, 0, size, "foo")
    assert isinstance(loc, MetadataLocation)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        offsets = sorted(i.header_offset for i in zf.infolist())
    assert loc.span_end == offsets[offsets.index(loc.header_offset) + 1]
