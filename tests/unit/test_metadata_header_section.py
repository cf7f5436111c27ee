"""The header section a cache keeps of a METADATA: all that a parse reads, so parsing it
gives what parsing the whole file gives, on any mix of header lines."""

from __future__ import annotations

import random

import pytest

from indexgate.dists import metadata as md
from indexgate.dists.metadata import MetadataError, header_section, parse_core_metadata

LINES = [
    b"Metadata-Version: 2.1",
    b"Name: foo",
    b"NAME:Foo.Bar",
    b"name:\tfoo",
    b"Version: 1.0",
    b"version:   2.0  ",
    b"Requires-Dist: bar>=1",
    b"requires-dist: baz; extra == 'x'",
    b"Requires-Dist:",
    b"Requires-Python: >=3.8",
    b"Provides-Extra: x",
    b"Dynamic: Requires-Dist",
    b"Summary: a summary: with a colon",
    b"Classifier: Programming Language :: Python",
    b"X-Name: not the name",
    b"Names: not the name either",
    b"Author: J\xf6rg",  # latin-1
    b"Summary: caf\xc3\xa9",  # UTF-8
    b"Keywords: \xc2\xa0padded\xc2\xa0",  # no-break spaces: str.strip removes them
    b"Provides-Extra: caf\xe9\x80",  # latin-1 (not cp1252) in a field that is read
    b"Provides-Extra: \xc2\xa0caf\xc3\xa9\xe2\x80\x83",  # UTF-8, Unicode spaces around
]
ODD = [
    b"  a continuation line",
    b"\tanother continuation",
    b"From someone@example.invalid",
    b"From: someone",
    b": a line starting with a colon",
    b"not a header line",
    b"Na me: a space in the name",
    b"N\xe4me: a byte outside ASCII",
    b"Version\x00: NUL",
]
ENDS = [b"\n", b"\n", b"\n", b"\r\n", b"\r"]


def outcome(data: bytes) -> object:
    try:
        return repr(parse_core_metadata(data))
    except MetadataError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("seed", range(300))
def test_the_header_section_parses_as_the_whole_file(seed: int) -> None:
    rng = random.Random(seed)
    kind = seed % 3  # 0: plain lines only, 1: one odd line among them, 2: any lines
    pool, ends = (LINES, [b"\n"]) if kind < 2 else (LINES + ODD, ENDS)
    lines = [rng.choice(pool) + rng.choice(ends) for _ in range(rng.randint(0, 12))]
    if kind == 1:
        lines.insert(rng.randint(0, len(lines)), rng.choice(ODD) + b"\n")
    data = b"".join(lines) + rng.choice([b"", b"\n", b"\nBody\nName: body\n", b"\r\n\r\nBody"])
    assert md._headers(header_section(data)) == md._headers(data)
    assert outcome(header_section(data)) == outcome(data)


def test_a_line_that_ends_the_section_early_hides_the_fields_after_it() -> None:
    data = b"Name: foo\nVersion: 1.0\nnot a header\nRequires-Dist: bar\n"
    assert md._headers(data) == {"name": ["foo"], "version": ["1.0"]}
    assert parse_core_metadata(data).requires_dist == ()


@pytest.mark.parametrize(
    ("data", "section"),
    [
        (b"Name: a\n\nbody\r\n\r\n", b"Name: a\n"),
        (b"Name: a\r\n\r\nbody\n\n", b"Name: a\r\n"),
        (b"Name: a\r\nVersion: 1\n\nbody", b"Name: a\r\nVersion: 1\n"),
        (b"Name: a\nVersion: 1", b"Name: a\nVersion: 1"),
        (b"Name: a\r\n\r\n", b"Name: a\r\n"),
        (b"Name: a\r\n\r\n\nbody", b"Name: a\r\n"),  # the CRLF blank line comes first
        (b"", b""),
    ],
)
def test_header_section_ends_at_the_first_blank_line_of_either_kind(
    data: bytes, section: bytes
) -> None:
    assert header_section(data) == section
