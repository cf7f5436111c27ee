"""Core metadata parsing, PEP 643 sdist trust, sdist archives and hash checks."""

from __future__ import annotations

import gzip
import hashlib
import io
import random
import tarfile
import zipfile
from contextlib import suppress

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from indexgate.dists import metadata as metadata_module
from indexgate.dists.metadata import (
    HashMismatch,
    MetadataError,
    check_hash,
    parse_core_metadata,
    read_sdist_pkg_info,
    static_sdist_metadata,
)

WHEEL_METADATA = """\
Metadata-Version: 2.1
Name: Foo_Bar
Version: 1.2.0rc1
Summary: Ünïcode summary
Author: Jörg Müller
Requires-Python: >=3.8
Requires-Dist: requests>=2.0
Requires-Dist: tomli; python_version < "3.11"
Requires-Dist: pytest[testing]>=7; extra == "Dev_Tools"
Provides-Extra: Dev_Tools
Provides-Extra: docs
Dynamic: Description

Requires-Dist: not-a-header (this is the description body)
""".encode()

PKG_INFO_22 = b"""\
Metadata-Version: 2.2
Name: foo
Version: 1.0
Requires-Dist: bar>=1
Dynamic: Summary
"""


def test_parses_the_fields_the_resolver_needs() -> None:
    meta = parse_core_metadata(WHEEL_METADATA)
    assert meta.name == "foo-bar"
    assert meta.version == Version("1.2.0rc1")
    assert [str(r) for r in meta.requires_dist] == [
        "requests>=2.0",
        'tomli; python_version < "3.11"',
        'pytest[testing]>=7; extra == "dev-tools"',  # packaging normalizes extras
    ]
    assert meta.requires_python == SpecifierSet(">=3.8")
    assert meta.provides_extra == frozenset({"dev-tools", "docs"})
    assert meta.metadata_version == "2.1"
    assert meta.dynamic == frozenset({"description"})


def test_body_lines_are_not_headers() -> None:
    meta = parse_core_metadata(WHEEL_METADATA)
    assert all(r.name != "not-a-header" for r in meta.requires_dist)


def test_non_utf8_header_bytes_do_not_break_parsing() -> None:
    meta = parse_core_metadata(b"Name: foo\nVersion: 1\nAuthor: J\xf6rg\n")  # latin-1 byte
    assert (meta.name, meta.version) == ("foo", Version("1"))


def test_missing_metadata_version_reads_as_1_0() -> None:
    assert parse_core_metadata(b"Name: foo\nVersion: 1\n").metadata_version == "1.0"


@pytest.mark.parametrize(
    "data",
    [b"Version: 1.0\n", b"Name: foo\n", b"", b"Name:\nVersion: 1\n", b"\x00\xff garbage"],
)
def test_missing_name_or_version_is_an_error(data: bytes) -> None:
    with pytest.raises(MetadataError, match="no Name or no Version"):
        parse_core_metadata(data)


def test_invalid_version_and_name_are_errors() -> None:
    with pytest.raises(MetadataError, match="invalid Version 'one'"):
        parse_core_metadata(b"Name: foo\nVersion: one\n")
    with pytest.raises(MetadataError, match="invalid Name"):
        parse_core_metadata(b"Name: foo bar!\nVersion: 1\n")


def test_bad_requires_dist_names_the_line() -> None:
    data = b"Name: foo\nVersion: 1\nRequires-Dist: ok>=1\nRequires-Dist: bad>>=1;;\n"
    with pytest.raises(MetadataError, match=r"invalid Requires-Dist 'bad>>=1;;' for foo"):
        parse_core_metadata(data)


@pytest.mark.parametrize(
    "marker", ['os_name ~= "nt"', 'python_version < "3.8" or platform_system ~= "Linux"']
)
def test_a_marker_that_cannot_be_evaluated_is_a_metadata_error(marker: str) -> None:
    """It parses, but packaging raises on evaluating it, on every target: the version
    whose metadata carries it is unusable (as any malformed field), never a crash later."""
    data = f"Name: foo\nVersion: 1\nRequires-Dist: bar; {marker}\n".encode()
    with pytest.raises(MetadataError, match="its marker cannot be evaluated"):
        parse_core_metadata(data)


def test_markers_that_evaluate_are_kept() -> None:
    data = (
        b"Name: foo\nVersion: 1\n"
        b'Requires-Dist: a; extra == "Test"\n'
        b'Requires-Dist: b; platform_release >= "5" and "3.x" < python_version\n'
    )
    assert len(parse_core_metadata(data).requires_dist) == 2


def test_nul_byte_in_a_marker_string_is_a_metadata_error() -> None:
    # packaging itself raises SyntaxError here (ast.literal_eval on the quoted string).
    data = b'Name: foo\nVersion: 1\nRequires-Dist: bar; os_name == "x\x00"\n'
    with pytest.raises(MetadataError, match="invalid Requires-Dist"):
        parse_core_metadata(data)


def test_legacy_requires_python_wildcard_is_repaired() -> None:
    meta = parse_core_metadata(b"Name: foo\nVersion: 1\nRequires-Python: >=3.6.*, !=3.7.*\n")
    assert meta.requires_python == SpecifierSet(">=3.6, !=3.7.*")


def test_garbage_requires_python_is_an_error() -> None:
    with pytest.raises(MetadataError, match="invalid Requires-Python"):
        parse_core_metadata(b"Name: foo\nVersion: 1\nRequires-Python: python3 please\n")


def test_static_sdist_metadata_accepts_metadata_2_2_without_dynamic_deps() -> None:
    meta = static_sdist_metadata(PKG_INFO_22)
    assert [str(r) for r in meta.requires_dist] == ["bar>=1"]
    assert meta.dynamic == frozenset({"summary"})


def test_static_sdist_metadata_rejects_metadata_2_1() -> None:
    with pytest.raises(MetadataError, match=r"Metadata-Version 2\.1 predates PEP 643"):
        static_sdist_metadata(PKG_INFO_22.replace(b"2.2", b"2.1"))
    with pytest.raises(MetadataError, match=r"Metadata-Version 1\.0"):
        static_sdist_metadata(b"Name: foo\nVersion: 1\n")


@pytest.mark.parametrize("field", ["Requires-Dist", "requires-python"])
def test_static_sdist_metadata_rejects_dynamic_dependencies(field: str) -> None:
    data = PKG_INFO_22 + f"Dynamic: {field}\n".encode()
    with pytest.raises(MetadataError, match=f"{field.lower()} declared Dynamic"):
        static_sdist_metadata(data)


def test_static_sdist_metadata_rejects_garbage_metadata_version() -> None:
    with pytest.raises(MetadataError, match="invalid Metadata-Version"):
        static_sdist_metadata(PKG_INFO_22.replace(b"2.2", b"two"))


def make_tar_gz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


SDIST_MEMBERS = {
    "foo-1.0/setup.py": b"raise SystemExit('never run')\n",
    "foo-1.0/src/foo.egg-info/PKG-INFO": b"Name: wrong\n",
    "foo-1.0/PKG-INFO": PKG_INFO_22,
}


def test_reads_top_level_pkg_info_from_tar_gz() -> None:
    assert read_sdist_pkg_info(make_tar_gz(SDIST_MEMBERS), "foo-1.0.tar.gz") == PKG_INFO_22


def test_reads_top_level_pkg_info_from_zip() -> None:
    assert read_sdist_pkg_info(make_zip(SDIST_MEMBERS), "foo-1.0.zip") == PKG_INFO_22


def test_dot_slash_member_names_are_top_level() -> None:
    data = make_tar_gz({"./foo-1.0/PKG-INFO": PKG_INFO_22})
    assert read_sdist_pkg_info(data, "foo-1.0.tar.gz") == PKG_INFO_22


def test_directory_named_like_the_file_wins() -> None:
    data = make_tar_gz({"aaa/PKG-INFO": b"Name: other\n", "foo-1.0/PKG-INFO": PKG_INFO_22})
    assert read_sdist_pkg_info(data, "foo-1.0.tar.gz") == PKG_INFO_22


def test_sdist_without_top_level_pkg_info_is_an_error() -> None:
    data = make_tar_gz({"foo-1.0/foo.egg-info/PKG-INFO": PKG_INFO_22})
    with pytest.raises(MetadataError, match="no top-level PKG-INFO"):
        read_sdist_pkg_info(data, "foo-1.0.tar.gz")


def test_unknown_sdist_extension_is_an_error() -> None:
    with pytest.raises(MetadataError, match=r"not a \.tar\.gz or \.zip"):
        read_sdist_pkg_info(b"", "foo-1.0.tar.bz2")


@pytest.mark.parametrize("filename", ["foo-1.0.tar.gz", "foo-1.0.zip"])
def test_garbage_archive_is_an_error(filename: str) -> None:
    with pytest.raises(MetadataError, match="unreadable sdist"):
        read_sdist_pkg_info(b"this is not an archive", filename)


def test_truncated_tar_gz_is_an_error() -> None:
    members = {"foo-1.0/big.bin": random.Random(0).randbytes(50_000), **SDIST_MEMBERS}
    data = make_tar_gz(members)
    with pytest.raises(MetadataError, match="unreadable sdist"):
        read_sdist_pkg_info(data[: len(data) // 2], "foo-1.0.tar.gz")


def test_absurdly_large_pkg_info_is_refused() -> None:
    huge = b"\0" * (metadata_module.MAX_PKG_INFO_SIZE + 1)
    with pytest.raises(MetadataError, match="claims"):
        read_sdist_pkg_info(make_tar_gz({"foo-1.0/PKG-INFO": huge}), "foo-1.0.tar.gz")
    with pytest.raises(MetadataError, match="claims"):
        read_sdist_pkg_info(make_zip({"foo-1.0/PKG-INFO": huge}), "foo-1.0.zip")


def test_gzip_bomb_stops_at_the_unpack_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata_module, "MAX_SDIST_UNPACKED", 100_000)
    data = make_tar_gz({"foo-1.0/zeros": b"\0" * 1_000_000, **SDIST_MEMBERS})
    assert len(data) < 10_000
    with pytest.raises(MetadataError, match="unpacks to more than"):
        read_sdist_pkg_info(data, "foo-1.0.tar.gz")


def test_plain_gzip_that_is_not_a_tar_is_an_error() -> None:
    with pytest.raises(MetadataError, match="unreadable sdist"):
        read_sdist_pkg_info(gzip.compress(b"hello" * 200), "foo-1.0.tar.gz")


DATA = b"some file"


def test_matching_sha256_passes() -> None:
    check_hash(DATA, {"sha256": hashlib.sha256(DATA).hexdigest().upper()})


def test_sha256_mismatch_raises_hash_mismatch() -> None:
    with pytest.raises(HashMismatch, match="sha256 mismatch") as info:
        check_hash(DATA, {"sha256": "00" * 32})
    assert isinstance(info.value, MetadataError)


def test_strongest_hash_is_the_one_checked() -> None:
    good512 = hashlib.sha512(DATA).hexdigest()
    check_hash(DATA, {"sha256": "00" * 32, "sha512": good512})  # sha256 not consulted
    with pytest.raises(HashMismatch, match="sha512"):
        check_hash(DATA, {"sha256": hashlib.sha256(DATA).hexdigest(), "sha512": "00"})
    with pytest.raises(HashMismatch, match="sha384"):
        check_hash(DATA, {"SHA384": "00", "sha256": hashlib.sha256(DATA).hexdigest()})


def test_no_known_hash_passes() -> None:
    check_hash(DATA, {})
    check_hash(DATA, {"md5": "00", "blake2b": "00"})


@pytest.mark.parametrize("seed", range(200))
def test_random_and_mutated_input_raises_only_metadata_error(seed: int) -> None:
    rng = random.Random(seed)
    text = bytearray(WHEEL_METADATA)
    for _ in range(rng.randint(1, 8)):
        text[rng.randrange(len(text))] = rng.randrange(256)
    with suppress(MetadataError):  # anything else fails the test
        parse_core_metadata(bytes(text))
    with suppress(MetadataError):
        static_sdist_metadata(bytes(text))
    archive = bytearray(make_tar_gz(SDIST_MEMBERS) if seed % 2 else make_zip(SDIST_MEMBERS))
    for _ in range(rng.randint(1, 4)):
        archive[rng.randrange(len(archive))] = rng.randrange(256)
    with suppress(MetadataError):
        read_sdist_pkg_info(bytes(archive), "foo-1.0.tar.gz" if seed % 2 else "foo-1.0.zip")
