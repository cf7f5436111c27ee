"""How a cache entry reaches the disk: one ``writev`` of a temporary file renamed into
place; short writes completed, failed writes leaving nothing behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from indexgate.index.cache import FileCache

KEY = "ab" * 32
DATA = b"Metadata-Version: 2.1\nName: foo\n" * 100


def files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p.name != ".pruned"]


def test_an_entry_round_trips_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    cache = FileCache(tmp_path)
    cache.put_blob("metadata", KEY, DATA)
    assert cache.get_blob("metadata", KEY) == DATA
    (entry,) = files(tmp_path)
    assert entry.name == KEY
    probe = tmp_path / "probe"
    probe.write_bytes(b"")  # what open(..., "wb") makes under this umask
    assert entry.stat().st_mode == probe.stat().st_mode


def test_a_short_writev_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def short_writev(fd: int, parts: list[bytes]) -> int:
        calls.append(fd)
        return os.write(fd, parts[0][:5])  # a signal, say, after five bytes

    monkeypatch.setattr(os, "writev", short_writev, raising=False)
    cache = FileCache(tmp_path)
    cache.put_blob("metadata", KEY, DATA)
    assert calls
    assert FileCache(tmp_path).get_blob("metadata", KEY) == DATA


def test_without_writev_entries_are_written_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "writev", raising=False)  # as on Windows
    cache = FileCache(tmp_path)
    cache.put_blob("metadata", KEY, DATA)
    assert FileCache(tmp_path).get_blob("metadata", KEY) == DATA


def test_a_failed_write_leaves_neither_entry_nor_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, parts: list[bytes]) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "writev", full, raising=False)
    cache = FileCache(tmp_path)
    cache.put_blob("metadata", KEY, DATA)  # no exception: a full disk never fails the gate
    assert files(tmp_path) == []
    assert cache.get_blob("metadata", KEY) is None


def test_entries_written_behind_are_all_on_disk_after_close(tmp_path: Path) -> None:
    cache = FileCache(tmp_path, background=True)
    keys = [f"{i:064x}" for i in range(40)]
    for key in keys:
        cache.put_blob("metadata", key, key.encode() * 10)
    cache.close()
    assert sorted(p.name for p in files(tmp_path)) == sorted(keys)
    fresh = FileCache(tmp_path)
    assert all(fresh.get_blob("metadata", key) == key.encode() * 10 for key in keys)
