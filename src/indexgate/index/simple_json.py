"""The JSON project page reader (PEP 691, 700, 714), incremental.

The top-level object is read key by key and the ``files`` array entry by entry, each
entry checked and handed to the page model (``page.Files``) as soon as it is complete.
"""

from __future__ import annotations

import codecs
import json
import re
from json.decoder import scanstring
from typing import Any

from indexgate.dists.models import new_dist
from indexgate.index.page import (
    HASH_KEYS,
    Files,
    PageError,
    split_url,
)

_JSON_WS = re.compile(r"[ \t\n\r]*")
_JSON_NEXT_ENTRY = re.compile(r"[ \t\n\r]*,[ \t\n\r]*(?=\{)")
_scan_once = json.JSONDecoder().scan_once
(_START, _KEY_FIRST, _KEY, _COLON, _VALUE, _FILES_FIRST, _FILE, _FILES_SEP, _NEXT, _DONE) = range(
    10
)


class _Incomplete(Exception):
    """The buffer ends inside the value being read: wait for more of the body."""


class JsonParser:
    """The top-level object read key by key; the ``files`` array entry by entry.

    Each value is read by the json module's own scanner (C) from a buffer that holds
    what is not yet read; a value cut by the end of the buffer is read again once the
    buffer has at least doubled, so an entry, however long, costs linear time.
    """

    def __init__(self, files: Files) -> None:
        self._files = files
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")("surrogatepass")
        self._buf = ""
        self._pos = 0
        self._pending: list[str] = []  # decoded, not yet in _buf
        self._pending_len = 0
        self._need = 0  # read again once this many characters are unread
        self._state = _START
        self._key = ""
        self._index = 0  # the next entry of files[]
        self._seen_files = False
        self._raw: list[bytes] | None = None  # not an object: kept whole for the message

    def feed(self, data: bytes | memoryview) -> None:
        if self._raw is not None:
            self._raw.append(bytes(data))
            return
        try:
            text = self._decoder.decode(data)
        except UnicodeDecodeError as exc:
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._pending.append(text)
        self._pending_len += len(text)
        if len(self._buf) - self._pos + self._pending_len >= self._need:
            self._take_pending()
            self._run(final=False)

    def _take_pending(self) -> None:
        self._buf = "".join([self._buf[self._pos :], *self._pending])
        self._pos = 0
        self._pending, self._pending_len = [], 0

    def close(self) -> None:
        if self._raw is not None:
            self._not_an_object(b"".join(self._raw))
        try:
            self._pending.append(self._decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._take_pending()
        self._run(final=True)
        if self._state != _DONE:
            raise PageError("project page is not valid JSON: it ends too early")
        if not self._seen_files:
            raise PageError("project page JSON has no 'files' list")

    def _not_an_object(self, body: bytes) -> None:
        try:
            json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError
            raise PageError(f"project page is not valid JSON: {exc}") from exc
        raise PageError("project page JSON is not an object")

    def _run(self, final: bool) -> None:
        s, pos, state = self._buf, self._pos, self._state
        end = len(s)
        ws = _JSON_WS.match
        try:
            while True:
                pos = ws(s, pos).end()
                if pos >= end:
                    break
                c = s[pos]
                if state == _FILE:
                    pos, state = self._entries(s, pos, final), _FILES_SEP
                elif state == _FILES_SEP:
                    if c == ",":
                        state = _FILE
                    elif c == "]":
                        state = _NEXT
                    else:
                        self._invalid(s, pos, "',' or ']'")
                    pos += 1
                elif state == _NEXT:
                    if c == ",":
                        state = _KEY
                    elif c == "}":
                        state = _DONE
                    else:
                        self._invalid(s, pos, "',' or '}'")
                    pos += 1
                elif state in (_KEY_FIRST, _KEY):
                    if c == "}" and state == _KEY_FIRST:
                        state, pos = _DONE, pos + 1
                    elif c == '"':
                        try:
                            self._key, pos = scanstring(s, pos + 1)
                        except ValueError:
                            if not final:
                                raise _Incomplete from None
                            raise
                        state = _COLON
                    else:
                        self._invalid(s, pos, "a key")
                elif state == _COLON:
                    if c != ":":
                        self._invalid(s, pos, "':'")
                    state, pos = _VALUE, pos + 1
                elif state == _VALUE:
                    if self._key == "files":
                        if self._seen_files:
                            raise PageError("project page JSON has two 'files' lists")
                        if c != "[":
                            raise PageError("project page JSON has no 'files' list")
                        self._seen_files = True
                        state, pos = _FILES_FIRST, pos + 1
                    else:
                        value, pos = self._value(s, pos, final)
                        if self._key == "meta":
                            _check_api_version(value)
                        state = _NEXT
                elif state == _FILES_FIRST:
                    if c == "]":
                        state, pos = _NEXT, pos + 1
                    else:
                        state = _FILE
                elif state == _START:
                    if c != "{":
                        self._raw = [s[pos:].encode("utf-8", "surrogatepass")]
                        self._buf, self._pos = "", 0
                        return
                    state, pos = _KEY_FIRST, pos + 1
                else:  # _DONE: only whitespace may follow
                    self._invalid(s, pos, "the end of the page")
        except _Incomplete as cut:
            if cut.args:  # where the entries stopped: the entry the buffer cuts
                pos = cut.args[0]
            self._need = 2 * (end - pos)
        except ValueError as exc:  # JSONDecodeError from scanstring
            if isinstance(exc, PageError):
                raise
            raise PageError(f"project page is not valid JSON: {exc}") from None
        self._buf, self._pos, self._state = s, pos, state

    def _entries(self, s: str, pos: int, final: bool) -> int:
        """The files array, entry after entry from ``pos`` (an entry's start), without a
        turn of the state machine per separator (a page may list tens of thousands).
        Returns where it stopped and the state there: after the array's ``]`` (``_NEXT``),
        or after an entry (``_FILES_SEP``: the state machine reads what follows). Raises
        _Incomplete with the cut entry's start when the buffer may cut it.

        Most entries of a page with native wheels are another platform's wheel of a
        version already settled: those are dropped here, by ``Files.dropped``, before any
        other work (``_entry`` would say the same)."""
        next_entry = _JSON_NEXT_ENTRY.match
        scan_once = _scan_once
        dropped = self._files.dropped
        dropped_tags = self._files.dropped_tags  # while empty, nothing is dropped
        end = len(s)
        while True:
            try:
                entry, after = scan_once(s, pos)
            except (StopIteration, ValueError):
                if not final:
                    raise _Incomplete(pos) from None  # cut (or wrong: read again, later)
                self._value(s, pos, final)  # says what is wrong
                raise
            except RecursionError:
                raise PageError("project page is not valid JSON: nested too deeply") from None
            if after >= end and not final:
                raise _Incomplete(pos)  # may be cut
            if (
                dropped_tags
                and type(entry) is dict
                and type(filename := entry.get("filename")) is str
                and dropped(filename)
                and type(entry.get("url")) is str
            ):
                self._index += 1
            else:
                self._entry(entry)
            if s.startswith(", {", after):  # json.dumps' separator: most pages
                pos = after + 2
                continue
            sep = next_entry(s, after)
            if sep is None:
                return after
            pos = sep.end()

    def _value(self, s: str, pos: int, final: bool) -> tuple[Any, int]:
        """One JSON value at ``pos`` and where it ends; _Incomplete when it may be cut."""
        try:
            value, after = _scan_once(s, pos)
        except StopIteration:
            if not final:
                raise _Incomplete from None
            self._invalid(s, pos, "a value")
        except ValueError:
            if not final:
                raise _Incomplete from None
            raise
        except RecursionError:
            raise PageError("project page is not valid JSON: nested too deeply") from None
        if after >= len(s) and not final:  # a number may go on in the next chunk
            raise _Incomplete
        return value, after

    def _invalid(self, s: str, pos: int, expected: str) -> None:
        raise PageError(f"project page is not valid JSON: expected {expected} at char {pos}")

    def _entry(self, entry: object) -> None:
        """One file of ``files[]`` (thousands per page: kept tight, messages built only
        for a page that is wrong)."""
        index = self._index
        self._index += 1
        if type(entry) is not dict:
            raise PageError(f"files[{index}] is not an object")
        get = entry.get
        filename, url = get("filename"), get("url")
        if type(filename) is not str or type(url) is not str:
            raise PageError(f"files[{index}] lacks a string 'filename' and 'url'")
        files = self._files
        admitted = files.admit(filename)
        if admitted is None:
            return
        requires_python, upload_time, size = get("requires-python"), get("upload-time"), get("size")
        if (
            (requires_python is not None and type(requires_python) is not str)
            or (upload_time is not None and type(upload_time) is not str)
            or (size is not None and type(size) is not int)
        ):
            where = f"files[{index}] ({filename})"
            for key, kind in (("requires-python", str), ("upload-time", str), ("size", int)):
                _optional(entry, key, kind, where)
        requires_python = files.requires_python(filename, requires_python)
        if requires_python is False:
            return
        url, in_url, _ = split_url(files.base_url, url)
        hashes = _hash_dict(get("hashes"), index, filename, "hashes") or {}
        if in_url:
            for key, value in in_url.items():
                hashes.setdefault(key, value)
        yanked, reason = get("yanked"), None
        if yanked is None:
            yanked = False
        elif yanked is not True and yanked is not False:
            yanked, reason = _json_yanked(yanked, f"files[{index}] ({filename})")
        key = "core-metadata" if "core-metadata" in entry else "dist-info-metadata"
        metadata = get(key)
        if metadata is True:
            metadata = {}
        elif metadata is False:
            metadata = None
        elif metadata is not None:
            metadata = _hash_dict(metadata, index, filename, key)
        dist = new_dist(
            filename, url, hashes, requires_python, yanked, reason, metadata, upload_time, size
        )
        files.add(admitted[0], admitted[1], dist)


def _check_api_version(meta: object) -> None:
    """PEP 691: a client must refuse a major API version it does not know."""
    if not isinstance(meta, dict) or "api-version" not in meta:
        return
    version = meta["api-version"]
    major = str(version).split(".", 1)[0]
    if major != "1":
        raise PageError(f"unsupported simple API version {version!r} (need 1.x)")


def _optional(entry: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = entry.get(key)
    if value is None:
        return None
    if type(value) is not kind:  # JSON gives exact types (and a bool is not an int here)
        raise PageError(f"{where} '{key}' is not a {kind.__name__}")
    return value


def _json_yanked(value: object, where: str) -> tuple[bool, str | None]:
    if value is None or value is False:
        return False, None
    if value is True:
        return True, None
    if isinstance(value, str):
        return True, value or None
    raise PageError(f"{where} 'yanked' is neither a boolean nor a reason string")


def _hash_dict(value: object, index: int, filename: str, key: str) -> dict[str, str] | None:
    if value is None:
        return None
    if type(value) is dict:
        if len(value) == 1:  # nearly always {"sha256": "<lower-case hex>"}: kept as it is
            digest = value.get("sha256")
            if type(digest) is str and digest.islower():
                return value
        out = {}
        for k, v in value.items():
            if type(k) is not str or type(v) is not str:
                break
            out[HASH_KEYS.get(k) or k.lower()] = v if v.islower() else v.lower()
        else:
            return out
    where = f"files[{index}] ({filename})"
    raise PageError(f"{where} '{key}' is not a mapping of hash names to strings")
