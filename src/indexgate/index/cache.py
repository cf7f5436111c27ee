"""A persistent HTTP cache for index answers, safe for concurrent runs and free of secrets.

Three kinds of entries:

- ``answers/``: project pages and files without a known hash, keyed by method, URL
  (without userinfo or fragment), ``Accept`` and ``Range``. They follow ``Cache-Control``:
  fresh while ``max-age``/``Expires`` say so (or forever with ``immutable``), otherwise
  revalidated with ``If-None-Match``/``If-Modified-Since``; a 304 refreshes the entry. A
  static index sends no ``Cache-Control``, so every run revalidates its pages, as uv does.
- ``immutable/``: ``.metadata`` files and wheel byte ranges whose hash the page gave,
  stored under that hash: the bytes of a hash never change, so they are never revalidated.
  (Whether the file may still be downloaded is another question: the index client probes
  the file itself when its metadata came from here.)
- ``blob/<kind>/``: what the index client derived from immutable bytes, by their hash: the
  core metadata it read from a wheel's byte ranges (its header section: a warm run re-reads
  no zip, and no description it would not read either), and a reused run's outcome.

A streamed answer (a project page parsed as it arrived, never held whole) is kept in one
file: its headers, its body's sha256 (``body-sha256``) and, in the body's stead, what its
sink made of it (``BodySink.summary``: the page's parse), handed back with a 304
(``Response.summary``); the index client asks again without validators when that is not a
parse of those bytes for its target filter and project. Entries of the earlier layout
(``http/``, ``blob/page3/``) are never read again (nor ``answers/`` by an older indexgate
sharing the folder), and go first once the folder is past its bound (least recently used).

Only 200, 206 and 404 are kept: a 401/403 must be asked again next run (an auth failure
re-checked, a blocked artifact re-probed). Where credentials are on either side, nothing
is fresh (``authed``; a hashed file's bytes aside): a request with credentials is sent
every run, so an auth failure never hides behind the cache, and an answer to one is asked
for again by whoever comes next, with other credentials or none; only the server's 304 to
that request lets the body be reused. No credential enters a key or a file: keys are
hashes of userinfo-free URLs, and only an allowlist of response headers is written (never
``Authorization``, ``Set-Cookie`` or ``WWW-Authenticate``). Each entry is one file written
to a temporary name and renamed into place, so two runs sharing the folder never see half
an entry; anything unreadable is a miss. Least recently used entries go past
``max_bytes``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
import struct
import time
import zlib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from urllib.parse import urldefrag

from indexgate.index.cache_writer import Writer
from indexgate.index.responses import CachedResponse, Response
from indexgate.index.transport.headers import Headers, cache_directives, freshness_lifetime
from indexgate.redact import strip_userinfo

log = logging.getLogger("indexgate.cache")

CACHEABLE = frozenset({200, 206, 404})
KEPT_HEADERS = (
    "content-type",
    "content-range",
    "etag",
    "last-modified",
    "cache-control",
    "expires",
    "date",
    "age",
    "vary",
    "accept-ranges",
)
_REFRESHED_BY_304 = ("etag", "last-modified", "cache-control", "expires", "date", "age")
_MAGIC = b"IGC1"
_HEAD = struct.Struct(">4sII")  # magic, header length, crc32 of header + body
_VERSION = "v1"
_NOT_HEX = re.compile("[^0-9a-f]")  # dropped from a digest before it names a file
_SEP = os.sep
_PRUNE_EVERY = 3600.0
_TMP_MAX_AGE = 3600.0


class FileCache:
    """The ``HttpCache`` of ``indexgate.index.responses``, in a folder."""

    def __init__(self, root: Path, *, max_bytes: int = 1 << 30, background: bool = False) -> None:
        """``background``: entries are written by a thread of their own, off the run's
        path (a cold run writes hundreds, each a file, a rename and often a new folder:
        a quarter of a second on a real run); ``close`` waits for them. Until then this
        cache reads them from memory."""
        self.root = Path(root) / _VERSION
        self._base = str(self.root)  # entry paths are strings: a pathlib join costs ~3 us
        self.max_bytes = max_bytes
        self.enabled = True
        self._writer = Writer(_write, _remove) if background else None
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            self._maybe_prune()
        except OSError as exc:  # a read-only home, say: run without a cache
            log.warning("cache disabled: %s: %s", root, exc.strerror or exc)
            self.enabled = False

    # -- the HttpCache protocol -----------------------------------------------------

    def lookup(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        digest: str | None = None,
        *,
        authed: bool = False,
    ) -> CachedResponse | None:
        if not self.enabled or method != "GET":
            return None
        path = self._path(url, headers, digest)
        entry = self._read(path)
        if entry is None:
            return None
        meta, body = entry
        try:
            stored_headers = Headers(meta["headers"])
            status, reason = int(meta["status"]), str(meta["reason"])
            immutable = bool(meta.get("immutable", False))
            stored_authed = bool(meta.get("authed", False))
            # Credentials on either side: asked again, whatever the freshness (module doc).
            private = authed or stored_authed
            fresh = immutable or (
                not private and _age(meta, stored_headers) < freshness_lifetime(stored_headers)
            )
        except (KeyError, TypeError, ValueError):
            self._remove(path)
            return None
        sha = meta.get("body-sha256")
        if isinstance(sha, str):  # streamed: the body slot keeps its sink's summary
            summary = body or None
            response = Response(
                url, status, reason, stored_headers, b"", True, body_sha256=sha, summary=summary
            )
        else:
            response = Response(url, status, reason, stored_headers, body, True)
        validators = {}
        if "etag" in stored_headers:
            validators["If-None-Match"] = stored_headers["etag"]
        if "last-modified" in stored_headers:
            validators["If-Modified-Since"] = stored_headers["last-modified"]
        if not fresh and not validators:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: pruned last
        return CachedResponse(response, fresh, validators, path, stored_authed)

    def store(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        response: Response,
        digest: str | None = None,
        *,
        authed: bool = False,
    ) -> None:
        if not self.enabled or method != "GET":
            return
        immutable = digest is not None and response.status in (200, 206)
        path = self._path(url, headers, digest if immutable else None)
        streamed = response.body_sha256 is not None and not response.content
        if streamed and immutable:  # a hashed file's entry is its bytes: never a hash alone
            return
        directives = cache_directives(response.headers)
        if (
            response.status not in CACHEABLE
            or "no-store" in directives
            or response.headers.get("vary", "").strip() == "*"
        ):
            self._remove(path)
            return
        if not immutable and not (
            "etag" in response.headers
            or "last-modified" in response.headers
            or freshness_lifetime(response.headers, directives) > 0
        ):
            return  # could never be used again
        kept = [(k, v) for k, v in response.headers.items() if k.lower() in KEPT_HEADERS]
        meta = {
            "status": response.status,
            "reason": response.reason,
            "headers": kept,
            "stored": time.time(),
            "immutable": immutable,
            "authed": authed,
        }
        body = response.content
        if streamed:  # in the body's stead: what its sink made of it
            meta["body-sha256"] = response.body_sha256
            body = (response.sink.summary(response) if response.sink else None) or b""
        self._write(path, meta, body)

    def refresh(self, cached: CachedResponse, not_modified: Response) -> Response:
        """Merge a 304's validators and freshness into the entry; the stored body stands."""
        old = cached.response
        updates: dict[str, str] = {}
        for name in _REFRESHED_BY_304:
            value = not_modified.headers.get(name)
            if value is not None and old.headers.get(name) != value:
                updates[name] = value
        changed = any(name not in ("date", "age") for name in updates)
        headers = old.headers
        if updates:
            kept = [(k, v) for k, v in old.headers.multi_items() if k not in updates]
            headers = Headers(kept + list(updates.items()))
        path = cached.key
        directives = cache_directives(headers)
        if "no-store" in directives:
            self._remove(path)
        elif changed or freshness_lifetime(headers, directives) > 0:  # else no run reads it
            meta = {
                "status": old.status,
                "reason": old.reason,
                "headers": [(k, v) for k, v in headers.items() if k.lower() in KEPT_HEADERS],
                "stored": time.time(),
                "immutable": False,
                "authed": cached.authed,
            }
            if old.body_sha256 is not None:
                meta["body-sha256"] = old.body_sha256
            self._write(path, meta, old.content if old.body_sha256 is None else old.summary or b"")
        return replace(old, headers=headers)

    # -- derived, immutable data ---------------------------------------------------

    def get_blob(self, kind: str, key: str) -> bytes | None:
        """Bytes stored under a content hash (see ``put_blob``); None when absent."""
        path = self._blob_path(kind, key)
        entry = self._read(path) if path is not None else None
        if path is None or entry is None:
            return None
        with contextlib.suppress(OSError):
            os.utime(path)
        return entry[1]

    def put_blob(self, kind: str, key: str, data: bytes) -> None:
        """Keep ``data``, which depends only on the content ``key`` hashes."""
        path = self._blob_path(kind, key)
        if path is not None:
            self._write(path, {"kind": kind, "stored": time.time()}, data)

    def _blob_path(self, kind: str, key: str) -> str | None:
        if not self.enabled or not kind.isalnum() or not key.isalnum() or len(key) < 32:
            return None
        return f"{self._base}{_SEP}blob{_SEP}{kind}{_SEP}{key[:1]}{_SEP}{key}"

    # -- writing behind -------------------------------------------------------------

    def _write(self, path: str, meta: dict, body: bytes) -> None:
        writer = self._writer
        if writer is None:
            _write(path, meta, body)
        else:
            writer.put(path, meta, body)

    def _read(self, path: str) -> tuple[dict, bytes] | None:
        writer = self._writer
        pending = writer.get(path) if writer is not None else None
        if pending is not None:  # written behind, not on disk yet: read as it will be
            meta, body = pending
            return {**meta, "length": len(body)}, body
        return _read(path)

    def _remove(self, path: str) -> None:
        if self._writer is not None:
            self._writer.cancel(path)
        _remove(path)

    def close(self) -> None:
        """Wait until every entry written behind is on disk (``background``)."""
        if self._writer is not None:
            self._writer.close()

    # -- layout ---------------------------------------------------------------------
    # One hex digit of fan-out: 16 folders per kind. A cold run of the benchmark creates
    # about 450 entries, and with two digits also about 460 folders, each as costly to
    # create as a file (0.25-1 ms of system time apiece on the development VM).

    def _path(self, url: str, headers: Mapping[str, str], digest: str | None) -> str:
        accept = range_ = ""
        for name, value in headers.items():  # a request names one or two headers, if any
            lowered = name.lower()
            if lowered == "accept":
                accept = value
            elif lowered == "range":
                range_ = value
        clean = strip_userinfo(url) if "@" in url else url  # no "@": no userinfo
        if "#" in clean:  # urldefrag leaves a URL without "#" as it is, unparsed
            clean = urldefrag(clean)[0]
        key = hashlib.sha256(f"{clean}\0{accept}\0{range_}".encode()).hexdigest()
        if digest is not None:
            algo, _, value = digest.partition(":")
            value = _NOT_HEX.sub("", value.lower())[:128]
            if algo.isalnum() and len(value) >= 32:
                name = f"{algo}-{value}-{key[:16]}"
                return f"{self._base}{_SEP}immutable{_SEP}{value[:1]}{_SEP}{name}"
        return f"{self._base}{_SEP}answers{_SEP}{key[:1]}{_SEP}{key}"

    # -- size bound -----------------------------------------------------------------

    def _maybe_prune(self) -> None:
        stamp = self.root / ".pruned"
        with contextlib.suppress(OSError):
            if time.time() - stamp.stat().st_mtime < _PRUNE_EVERY:
                return
        self.prune()
        stamp.touch()

    def prune(self) -> int:
        """Drop stale temporary files, then least recently used entries past the bound."""
        entries: list[tuple[float, int, Path]] = []
        now = time.time()
        for top in ("answers", "immutable", "blob", "http"):  # http/: an earlier layout
            for dirpath, _, filenames in os.walk(self.root / top):
                for name in filenames:
                    path = Path(dirpath) / name
                    try:
                        st = path.stat()
                    except OSError:
                        continue
                    if name.endswith(".tmp"):
                        if now - st.st_mtime > _TMP_MAX_AGE:
                            _remove(path)
                        continue
                    entries.append((st.st_mtime, st.st_size, path))
        total = sum(size for _, size, _ in entries)
        removed = 0
        if total > self.max_bytes:
            for _, size, path in sorted(entries):
                _remove(path)
                removed += 1
                total -= size
                if total <= self.max_bytes * 0.8:
                    break
        return removed


def _read(path: str) -> tuple[dict, bytes] | None:
    """The entry's metadata and body; None when missing, partial or corrupt."""
    try:
        raw = _read_all(path)
        magic, head_len, crc = _HEAD.unpack_from(raw)
        if magic != _MAGIC or zlib.crc32(memoryview(raw)[_HEAD.size :]) != crc:
            raise ValueError("bad checksum")
        meta = json.loads(raw[_HEAD.size : _HEAD.size + head_len])
        body = raw[_HEAD.size + head_len :]
        if not isinstance(meta, dict) or len(body) != meta["length"]:
            raise ValueError("bad length")
        float(meta["stored"])
        return meta, body
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, struct.error) as exc:
        log.debug("cache entry %s unusable (%s): ignored", os.path.basename(path), exc)
        _remove(path)
        return None


def _read_all(path: str) -> bytes:
    """The file's bytes by open, fstat, read, close: ``open()`` and ``readall`` cost two
    ``fstat``, an ``lseek`` and a second ``read`` more per entry (a warm run: one a page)."""
    fd = os.open(path, _OPEN)
    try:
        size = os.fstat(fd).st_size
        raw = os.read(fd, size + 1)  # one byte more: the end of the file is seen
        if len(raw) != size:  # it changed since, or a short read: read on to the end
            rest = [raw]
            while chunk := os.read(fd, 1 << 16):
                rest.append(chunk)
            raw = b"".join(rest)
        return raw
    finally:
        os.close(fd)


# One encoder for every entry's metadata (``json.dumps`` with options makes one per call);
# the metadata is plain data built here, with no cycle to look for.
_META_JSON = json.JSONEncoder(separators=(",", ":"), check_circular=False)
_MADE: set[str] = set()  # folders this process made or found: no mkdir per entry
_TMP_TOKEN = os.urandom(4).hex()  # with the pid and a counter: a temporary name nobody else has
_TMP_COUNT = itertools.count()
_OPEN = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
_CREATE = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


def _write(path: str, meta: dict, body: bytes) -> None:
    """One entry: a temporary file written with one ``writev``, then renamed into place.

    Plain ``os`` calls, not ``open()``: a buffered file costs an ``fstat``, an ``ioctl``
    and an ``lseek`` more per entry, and three ``write`` calls instead of one.
    """
    meta = {**meta, "length": len(body)}
    head = _META_JSON.encode(meta).encode()
    crc = zlib.crc32(body, zlib.crc32(head))
    parts = [_HEAD.pack(_MAGIC, len(head), crc), head, body]
    folder = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.{_TMP_TOKEN}{next(_TMP_COUNT)}.tmp"
    try:
        if folder not in _MADE:
            os.makedirs(folder, exist_ok=True)
            _MADE.add(folder)
        try:
            fd = os.open(tmp, _CREATE, 0o666)
        except FileNotFoundError:  # the folder went away since: made again
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, _CREATE, 0o666)
        try:
            _write_all(fd, parts)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:  # a full disk must not fail the gate
        log.debug("cache write failed: %s", exc)
        _remove(tmp)


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Every byte of ``parts``: ``writev`` may write fewer (a signal, a nearly full disk)."""
    writev = getattr(os, "writev", None)  # not on Windows
    written = writev(fd, parts) if writev is not None else 0
    if written == sum(map(len, parts)):
        return
    rest = memoryview(b"".join(parts))[written:]
    while rest:
        rest = rest[os.write(fd, rest) :]


def _remove(path: Path | str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _age(meta: dict, headers: Headers) -> float:
    ages = headers.get_list("age")
    try:
        initial = float(ages[-1]) if ages else 0.0
    except ValueError:
        initial = 0.0
    if not initial >= 0.0:  # negative or NaN: no age (a negative one made anything fresh)
        initial = 0.0
    return max(0.0, time.time() - float(meta["stored"])) + initial
