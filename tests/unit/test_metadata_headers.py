"""The direct core-metadata header reader gives what the email package gave (compat32
policy, as before): same fields, same order, same values, on real-shaped METADATA and on
odd and fuzzed input."""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import random
from pathlib import Path

import pytest

from indexgate.dists.metadata import _headers

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def reference(data: bytes) -> dict[str, list[str]]:
    """The previous implementation, on the email package."""
    message = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(data)
    result: dict[str, list[str]] = {}
    for key, value in message.items():
        result.setdefault(key.lower(), []).append(_text(value).strip())
    return result


def _text(value: str | email.header.Header) -> str:
    if isinstance(value, str):
        return value
    parts = []
    for chunk, _charset in email.header.decode_header(value):
        if isinstance(chunk, str):
            parts.append(chunk)
            continue
        try:
            parts.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            parts.append(chunk.decode("latin-1"))
    return "".join(parts)


REAL = """\
Metadata-Version: 2.3
Name: Foo_Bar
Version: 1.2.0rc1
Summary: Ünïcode summary
Author: Jörg Müller
Author-email: Jörg <j@example.org>
License: Copyright (c) 2024
        Permission is hereby granted, free of charge, to any person
        obtaining a copy of this software
Classifier: Programming Language :: Python :: 3
Classifier: License :: OSI Approved :: MIT License
Requires-Python: >=3.8
Requires-Dist: requests>=2.0
Requires-Dist: tomli; python_version < "3.11"
Requires-Dist: pytest[testing]>=7
 ; extra == "Dev_Tools"
Provides-Extra: Dev_Tools
Provides-Extra: docs
Project-URL: Homepage, https://example.org
Dynamic: Description
Description-Content-Type: text/markdown

# Foo

Requires-Dist: not-a-header
Name: not-the-name
"""

ODD = [
    b"",
    b"\n",
    b"Name: a",
    b"Name: a\nVersion: 1\n",
    b"Name: a\r\nVersion: 1\r\n\r\nRequires-Dist: body\r\n",
    b"Name: a\rVersion: 1\r\rRequires-Dist: body\r",
    b"Name: a\r\n continued\r\n\tagain\r\nVersion: 1\r\n",
    b"Name:a\nName:   b  \nname: c\n",
    b"Name:\nVersion: \t\n",
    b" leading continuation\nName: a\n",
    b"From somebody Mon Jan 1\nName: a\nVersion: 1\n",
    b"Name: a\nFrom the middle\n continued\nVersion: 1\n",
    b"Name: a\nVersion: 1\nFrom the end",
    b": no name\n continued\nName: a\n",
    b"Name: a\nBad Header: space in name\nVersion: 1\n",
    b"Name: a\nno colon here\nVersion: 1\n",
    b"Name: a\n\nVersion: 1\n",
    b"Summary: caf\xc3\xa9\nAuthor: caf\xe9\nName: \xff\xfe\n continued \xc3\xa9\n",
    b"Summary: =?utf-8?q?caf=C3=A9?=\nName: a\n",
    b"Name: a\x00b\nVersion: 1\x0b2\x0c\x1c\n",
    b"Name: a\n\x0cVersion: 1\n",
    b"Name: a  \r\n \r\n\r\nVersion: 1",
    b"Name: a\n\r\nVersion: 1\n",
    b"Name: a\r\r\nVersion: 1\n",
    b"N\xc3\xa4me: a\nVersion: 1\n",
    b"Name:: a\nVersion:1:2\n",
]


@pytest.mark.parametrize("data", [REAL.encode(), *ODD])
def test_same_headers_as_the_email_package(data: bytes) -> None:
    assert _headers(data) == reference(data)


def test_real_metadata_gives_the_fields_in_order() -> None:
    headers = _headers(REAL.encode())
    assert headers["requires-dist"] == [
        "requests>=2.0",
        'tomli; python_version < "3.11"',
        'pytest[testing]>=7\n ; extra == "Dev_Tools"',
    ]
    assert headers["author"] == ["Jörg Müller"]
    assert "not-the-name" not in headers["name"]


def fuzzed_metadata(rng: random.Random) -> bytes:
    """Lines of every kind the header reader distinguishes, with mixed line ends."""
    words = [b"x", b"1.0", b"caf\xc3\xa9", b"caf\xe9", b" ", b"\t", b":", b"=", b"\x0b", b""]
    names = [b"Name", b"Requires-Dist", b"requires-dist", b"X"] * 3 + [b"Bad Name", b"N\xc3\xa4me"]

    def value() -> bytes:
        return b"".join(rng.choice(words) for _ in range(rng.randint(0, 4)))

    kinds = [
        lambda: rng.choice(names) + b":" + value(),
        lambda: rng.choice(names) + b": " + value(),
        lambda: rng.choice([b" ", b"\t"]) + value(),
        lambda: b"From " + value(),
        lambda: b":" + value(),
        lambda: value(),
    ]
    weights = [5, 5, 3, 1, 1, 1]  # mostly fields, so that the odd lines come after some
    lines = [rng.choices(kinds, weights)[0]() for _ in range(rng.randint(0, 12))]
    return b"".join(line + rng.choice([b"\n", b"\r\n", b"\r", b"\n"]) for line in lines)


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_headers_match_the_email_package(seed: int) -> None:
    rng = random.Random(seed)
    several = 0
    for _ in range(500):
        data = fuzzed_metadata(rng)
        expected = reference(data)
        assert _headers(data) == expected, data
        several += sum(map(len, expected.values())) > 2
    assert several > 100, "the fuzzed input must mostly be headers"


def test_benchmark_metadata_matches_the_email_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """The benchmark's generated METADATA (every reached package's versions, built in memory
    by ``benchmarks/genindex.py`` as it builds the index) reads as the email package reads it."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import genindex

    packages, _ = genindex.plan()
    rng = random.Random(7)
    checked = 0
    for package in packages[:120]:
        for version in package.versions[-3:]:
            data = genindex.metadata(package, version, rng)
            assert _headers(data) == reference(data), (package.name, version)
            checked += 1
    assert checked > 200, "the benchmark plan must give a few hundred METADATA files"
