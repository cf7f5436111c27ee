"""A wheel's METADATA from a few byte ranges instead of the whole file.

The caller does the HTTP range requests; these functions only say which bytes they need
next (``NeedRange``) and parse what they are given. Typical use::

    tail = fetch(tail_range(size))                      # the last TAIL_SIZE bytes
    loc = locate_metadata(tail, size - len(tail), size, project)
    while isinstance(loc, NeedRange):                   # EOCD or central directory earlier
        tail = fetch(loc)                               # a longer tail, still up to EOF
        loc = locate_metadata(tail, loc.start, size, project)
    data = extract_member(tail, size - len(tail), loc)  # often already inside the tail
    if isinstance(data, NeedRange):
        data = extract_member(fetch(data), data.start, loc)

Each ``NeedRange`` is self-contained: the next call needs only the bytes it names, so a
caller never stitches buffers (it may re-fetch up to a tail's worth of bytes it had).

Every offset here is absolute in the file; every ``end`` is exclusive.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from bisect import bisect_right
from dataclasses import dataclass

from packaging.utils import canonicalize_name

from indexgate.dists.metadata import MetadataError

__all__ = [
    "MAX_METADATA_SIZE",
    "TAIL_SIZE",
    "MetadataError",
    "MetadataLocation",
    "NeedRange",
    "extract_member",
    "locate_metadata",
    "metadata_from_whole_wheel",
    "tail_range",
]

TAIL_SIZE = 65536
MAX_METADATA_SIZE = 10 * 1024 * 1024

_EOCD = struct.Struct("<4sHHHHIIH")  # end of central directory, then the comment
_EOCD_SIG = b"PK\x05\x06"
_EOCD_MAX = _EOCD.size + 0xFFFF  # the record plus the longest comment
_Z64_LOCATOR = struct.Struct("<4sIQI")
_Z64_LOCATOR_SIG = b"PK\x06\x07"
_Z64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_Z64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_CENTRAL_SIG = b"PK\x01\x02"
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIG = b"PK\x03\x04"
_METADATA_NAME = re.compile(r"^([^/]+)\.dist-info/METADATA$")
_STORED, _DEFLATED = 0, 8


@dataclass(frozen=True)
class NeedRange:
    """Bytes ``[start, end)`` the caller must fetch before calling again."""

    start: int
    end: int

    @property
    def header(self) -> str:
        """The HTTP ``Range`` header value (inclusive end)."""
        return f"bytes={self.start}-{self.end - 1}"


@dataclass(frozen=True)
class MetadataLocation:
    """Where the METADATA member lives, from the central directory."""

    name: str  # e.g. "foo-1.0.dist-info/METADATA"
    header_offset: int  # absolute offset of its local file header
    compressed_size: int
    uncompressed_size: int
    method: int  # 0 stored, 8 deflate
    crc32: int
    span_end: int  # next member's local header (or the central directory): member ends before

    @property
    def range(self) -> NeedRange:
        """One range that certainly holds the local header and the data."""
        return NeedRange(self.header_offset, self.span_end)


def tail_range(file_size: int) -> NeedRange:
    """The first range to fetch: the last ``TAIL_SIZE`` bytes of the file."""
    return NeedRange(max(0, file_size - TAIL_SIZE), file_size)


def locate_metadata(
    tail: bytes, tail_start: int, file_size: int, project: str | None = None
) -> MetadataLocation | NeedRange:
    """Find METADATA in the central directory of a zip, given its last bytes.

    ``tail`` must run from ``tail_start`` to the end of the file. A ``NeedRange`` is a
    longer tail (it always ends at ``file_size``): fetch it and call again with it alone.
    """
    if tail_start < 0 or tail_start + len(tail) != file_size:
        raise MetadataError(
            f"tail [{tail_start}, {tail_start + len(tail)}) does not end at file size {file_size}"
        )
    eocd_at = _find_eocd(tail)
    if eocd_at is None:
        if tail_start == 0 or len(tail) >= _EOCD_MAX + _Z64_LOCATOR.size:
            raise MetadataError("not a zip file: no end of central directory record")
        return NeedRange(max(0, file_size - _EOCD_MAX - _Z64_LOCATOR.size), file_size)

    _sig, disk, cd_disk, _n_disk, entries, cd_size, cd_offset, _clen = _EOCD.unpack_from(
        tail, eocd_at
    )
    if disk != 0 or cd_disk != 0:
        raise MetadataError("multi-disk zip files are not supported")
    cd_end_limit = tail_start + eocd_at
    loc_at = eocd_at - _Z64_LOCATOR.size
    if loc_at < 0 and tail_start > 0 and (entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset)):
        return NeedRange(max(0, tail_start + loc_at), file_size)  # a ZIP64 locator may be there
    if loc_at >= 0 and tail[loc_at : loc_at + 4] == _Z64_LOCATOR_SIG:
        _sig, _disk, z64_offset, _disks = _Z64_LOCATOR.unpack_from(tail, loc_at)
        if not 0 <= z64_offset <= tail_start + loc_at - _Z64_EOCD.size:
            raise MetadataError("ZIP64 locator points outside the file")
        if z64_offset < tail_start:
            return NeedRange(z64_offset, file_size)
        rel = z64_offset - tail_start
        if tail[rel : rel + 4] != _Z64_EOCD_SIG:
            raise MetadataError("ZIP64 end of central directory record not found")
        fields = _Z64_EOCD.unpack_from(tail, rel)
        entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
        cd_end_limit = z64_offset

    if cd_offset + cd_size > cd_end_limit:
        raise MetadataError("central directory runs past the end of the file")
    if cd_offset < tail_start:
        return NeedRange(cd_offset, file_size)
    rel = cd_offset - tail_start
    found, offsets = _central_entries(tail[rel : rel + cd_size], entries, cd_offset)
    return _choose(found, offsets, cd_offset, project)


def extract_member(buf: bytes, buf_start: int, loc: MetadataLocation) -> bytes | NeedRange:
    """The uncompressed METADATA from bytes starting at absolute offset ``buf_start``."""
    rel = loc.header_offset - buf_start
    if rel < 0 or rel + _LOCAL.size > len(buf):
        return loc.range
    sig, _v, flags, _m, _t, _d, _crc, _cs, _us, name_len, extra_len = _LOCAL.unpack_from(buf, rel)
    if sig != _LOCAL_SIG:
        raise MetadataError(f"{loc.name}: no local file header at offset {loc.header_offset}")
    name = buf[rel + _LOCAL.size : rel + _LOCAL.size + name_len]
    if len(name) == name_len and _decode_name(name, flags) != loc.name:
        raise MetadataError(f"{loc.name}: local header names {_decode_name(name, flags)!r}")
    data_start = rel + _LOCAL.size + name_len + extra_len
    data_end = data_start + loc.compressed_size
    if buf_start + data_end > loc.span_end:
        raise MetadataError(f"{loc.name}: local header runs into the next member")
    if data_end > len(buf):
        return loc.range
    return _decompress(buf[data_start:data_end], loc)


def metadata_from_whole_wheel(data: bytes, project: str | None = None) -> bytes:
    """METADATA from a fully downloaded wheel, for servers without range support."""
    import zipfile  # only here: range requests need no zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = {i.filename: i for i in archive.infolist()}
            name = _choose_name(list(infos), project)
            info = infos[name]
            if info.file_size > MAX_METADATA_SIZE:
                raise MetadataError(f"{name} is {info.file_size} bytes, over the limit")
            with archive.open(info) as stream:
                content = stream.read(MAX_METADATA_SIZE + 1)
    except MetadataError:
        raise
    except (NotImplementedError, RuntimeError) as exc:  # odd compression, encryption
        raise MetadataError(f"unsupported wheel: {exc}") from exc
    except Exception as exc:  # zipfile fails on crafted input with many exception types
        raise MetadataError(f"unreadable wheel: {exc}") from exc
    if len(content) > MAX_METADATA_SIZE:
        raise MetadataError(f"{name} is over {MAX_METADATA_SIZE} bytes")
    return content


# --- helpers ------------------------------------------------------------------------------


def _find_eocd(tail: bytes) -> int | None:
    """Offset of the EOCD record: prefer one whose comment length ends exactly at EOF."""
    lowest = max(0, len(tail) - _EOCD_MAX)
    fallback = None
    at = tail.rfind(_EOCD_SIG, lowest, len(tail) - _EOCD.size + 4)
    while at != -1:
        comment_len = _EOCD.unpack_from(tail, at)[7]
        remaining = len(tail) - at - _EOCD.size
        if comment_len == remaining:
            return at
        if fallback is None and comment_len <= remaining:
            fallback = at  # trailing bytes after the comment: tolerated, as zipfile does
        at = tail.rfind(_EOCD_SIG, lowest, at)
    return fallback


@dataclass(frozen=True)
class _Entry:
    name: str
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    header_offset: int


# The end of every name ``_METADATA_NAME`` can match, as raw bytes (its ``$`` also
# matches before a final newline): with either encoding a name may have, ASCII comes only
# from the same ASCII bytes, so a name is read only where these bytes end it (wheels with
# thousands of files have one METADATA).
_METADATA_END = b".dist-info/METADATA"
_NEWLINE = ord("\n")

# Signature, name/extra/comment lengths and local header offset of a central entry: what
# the walk reads of every entry (a cold run walks a hundred thousand); the other fields
# (``_CENTRAL``) are read only for an entry whose name may be METADATA's.
_CENTRAL_WALK = struct.Struct("<I24xHHH8xI")
_CENTRAL_SIG_INT = int.from_bytes(_CENTRAL_SIG, "little")
_SIZES_AND_OFFSET = struct.Struct("<20xII14xI")  # compressed, uncompressed, header offset
_ZIP64_SENTINEL = b"\xff\xff\xff\xff"  # a 32-bit field whose value is in the ZIP64 extra


def _central_entries(cd: bytes, count: int, cd_offset: int) -> tuple[list[_Entry], list[int]]:
    """The entries that may be METADATA, and the local header offset of every entry.

    Each entry's lengths say where the next one begins, so every entry is visited (and a
    damaged one found), but the walk does the least per entry (``_walk``): the ZIP64
    values and the METADATA names, which few entries have, are looked for in the whole
    directory's bytes at once (``bytes.find``) and read only where they are. The errors
    are those of one walk reading every field in turn: a short ZIP64 extra field is
    reported before any damage further on.
    """
    starts, offsets, damage = _walk(cd, count, cd_offset)
    if _ZIP64_SENTINEL in cd:  # some entry may keep its sizes or offset in a ZIP64 extra
        for i, start in enumerate(starts):
            offsets[i] = _sizes_and_offset(cd, start)[2]
    if damage is not None:
        raise MetadataError(damage)
    return _metadata_entries(cd, starts), offsets


def _metadata_entries(cd: bytes, starts: list[int]) -> list[_Entry]:
    """The entries (starting at ``starts``, in order) whose name ends like METADATA's:
    where ``_METADATA_END`` occurs in ``cd``, the entry it falls in, if it ends its name."""
    candidates: list[_Entry] = []
    at = cd.find(_METADATA_END)
    while at >= 0 and starts:
        start = starts[bisect_right(starts, at) - 1]  # starts[0] is 0
        fields = _CENTRAL.unpack_from(cd, start)
        name_at = start + _CENTRAL.size
        name_end = name_at + fields[10]
        after = at + len(_METADATA_END)  # the name ends here, or after a newline here
        if name_at <= at and (
            name_end == after or (name_end == after + 1 and cd[after] == _NEWLINE)
        ):
            flags, method, crc = fields[3], fields[4], fields[7]
            csize, usize, offset = _sizes_and_offset(cd, start)
            name = _decode_name(cd[name_at:name_end], flags)
            candidates.append(_Entry(name, flags, method, crc, csize, usize, offset))
        at = cd.find(_METADATA_END, after)
    return candidates


def _walk(cd: bytes, count: int, cd_offset: int) -> tuple[list[int], list[int], str | None]:
    """The start of each of the first ``count`` entries in ``cd`` and its local header
    offset (as the 32-bit field says), up to the first damaged entry; then what is wrong
    with that one, or None. One unpack per entry: a ``struct.error`` says the bytes ran
    out, a sum over the lengths says where an entry ends (checked at the next one)."""
    starts: list[int] = []
    offsets: list[int] = []
    unpack, pos, total = _CENTRAL_WALK.unpack_from, 0, len(cd)
    try:
        for _ in range(count):
            sig, name_len, extra_len, comment_len, offset = unpack(cd, pos)
            if sig != _CENTRAL_SIG_INT:
                return starts, offsets, f"corrupt central directory at offset {cd_offset + pos}"
            starts.append(pos)
            offsets.append(offset)
            pos += _CENTRAL.size + name_len + extra_len + comment_len
    except struct.error:  # fewer bytes left at ``pos`` than an entry's fixed fields
        if pos < total:
            return starts, offsets, f"corrupt central directory at offset {cd_offset + pos}"
    if pos > total:  # the last entry's name, extra field or comment runs past the end
        last = starts.pop()
        offsets.pop()
        return starts, offsets, f"truncated central directory at offset {cd_offset + last}"
    if len(starts) < count:
        return starts, offsets, f"central directory lists {len(starts)} of {count} entries"
    return starts, offsets, None


def _sizes_and_offset(cd: bytes, start: int) -> tuple[int, int, int]:
    """Compressed and uncompressed size and local header offset of the entry at
    ``start``, from its ZIP64 extra field where the 32-bit field is 0xFFFFFFFF."""
    csize, usize, offset = _SIZES_AND_OFFSET.unpack_from(cd, start)
    if 0xFFFFFFFF in (usize, csize, offset):
        _sig, name_len, extra_len, _c, _o = _CENTRAL_WALK.unpack_from(cd, start)
        extra_at = start + _CENTRAL.size + name_len
        usize, csize, offset = _zip64_values(
            cd[extra_at : extra_at + extra_len], usize, csize, offset
        )
    return csize, usize, offset


def _zip64_values(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Replace 0xFFFFFFFF fields with their values from the ZIP64 extra field (id 1)."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + size]
        if tag == 1:
            values = [v[0] for v in struct.iter_unpack("<Q", body[: len(body) // 8 * 8])]
            result = []
            for original in (usize, csize, offset):
                if original == 0xFFFFFFFF:
                    if not values:
                        raise MetadataError("ZIP64 extra field is too short")
                    original = values.pop(0)
                result.append(original)
            return result[0], result[1], result[2]
        pos += 4 + size
    return usize, csize, offset


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")


def _choose_name(names: list[str], project: str | None) -> str:
    """Exactly one top-level ``X.dist-info/METADATA``; ``project`` breaks ties."""
    candidates = [n for n in names if _METADATA_NAME.match(n)]
    if project is not None and len(candidates) > 1:
        wanted = canonicalize_name(project)
        candidates = [
            n
            for n in candidates
            if canonicalize_name(n.split(".dist-info", 1)[0].partition("-")[0]) == wanted
        ]
    if not candidates:
        raise MetadataError("no .dist-info/METADATA in the wheel" + _for(project))
    if len(candidates) > 1:
        raise MetadataError(f"several METADATA files in the wheel{_for(project)}: {candidates}")
    return candidates[0]


def _for(project: str | None) -> str:
    return f" for {project}" if project else ""


def _choose(
    entries: list[_Entry], offsets: list[int], cd_offset: int, project: str | None
) -> MetadataLocation:
    name = _choose_name([e.name for e in entries], project)
    entry = next(e for e in entries if e.name == name)
    if entry.flags & 0x1:
        raise MetadataError(f"{name} is encrypted")
    if entry.method not in (_STORED, _DEFLATED):
        raise MetadataError(f"{name}: unsupported compression method {entry.method}")
    if entry.uncompressed_size > MAX_METADATA_SIZE:
        raise MetadataError(f"{name} is {entry.uncompressed_size} bytes, over the limit")
    # A member ends before the next one begins (``filter``: no Python loop over entries).
    span_end = min(cd_offset, min(filter(entry.header_offset.__lt__, offsets), default=cd_offset))
    if entry.header_offset + _LOCAL.size + entry.compressed_size > span_end:
        raise MetadataError(f"{name} overlaps the next member or the central directory")
    return MetadataLocation(
        name=name,
        header_offset=entry.header_offset,
        compressed_size=entry.compressed_size,
        uncompressed_size=entry.uncompressed_size,
        method=entry.method,
        crc32=entry.crc32,
        span_end=span_end,
    )


def _decompress(raw: bytes, loc: MetadataLocation) -> bytes:
    if loc.method == _STORED:
        data = raw
    else:
        inflater = zlib.decompressobj(-15)
        try:
            data = inflater.decompress(raw, MAX_METADATA_SIZE + 1)
        except zlib.error as exc:
            raise MetadataError(f"{loc.name}: corrupt deflate data: {exc}") from exc
        if len(data) > MAX_METADATA_SIZE:
            raise MetadataError(f"{loc.name} inflates past {MAX_METADATA_SIZE} bytes")
        if not inflater.eof:
            raise MetadataError(f"{loc.name}: truncated deflate data")
    if len(data) != loc.uncompressed_size or zlib.crc32(data) != loc.crc32:
        raise MetadataError(f"{loc.name}: size or CRC does not match the central directory")
    return data
