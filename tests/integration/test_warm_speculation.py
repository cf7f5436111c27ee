"""A warm run walks the pages its cache holds while they revalidate, so the deep pages are
asked for at once instead of one round trip per level; it still resolves only from the
pages as the index serves them now.

The server holds one page's answer back until another page has been asked for (at most
``HOLD_SECONDS``) and logs, in order, when each request arrived and was answered.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from check_support import clean_env

from indexgate.cli import main
from indexgate.demo import IndexServer
from indexgate.demo.wheels import build_wheel

pytestmark = pytest.mark.integration

HOLD_SECONDS = 5.0


class _GatedHandler(IndexServer.handler_class):  # type: ignore[name-defined,misc]
    def do_GET(self) -> None:
        owner: GatedServer = self.owner  # type: ignore[assignment]
        path = urlsplit(self.path).path
        owner.note(f"ask {self.command} {path}")
        hold = owner.hold
        if hold is not None and path == hold[1]:
            owner.released.set()
        if hold is not None and path == hold[0] and not owner.released.wait(owner.seconds):
            owner.note(f"gave up waiting for {hold[1]}")
        super().do_GET()
        owner.note(f"answer {self.command} {path}")

    do_HEAD = do_GET


class GatedServer(IndexServer):
    handler_class = _GatedHandler

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.hold: tuple[str, str] | None = None  # (held page, page that releases it)
        self.seconds = HOLD_SECONDS
        self.released = threading.Event()
        self.events: list[str] = []
        self._events_lock = threading.Lock()

    def note(self, event: str) -> None:
        with self._events_lock:
            self.events.append(event)

    def hold_until(self, held: str, until: str, seconds: float = HOLD_SECONDS) -> None:
        self.hold = (f"/simple/{held}/", f"/simple/{until}/")
        self.seconds = seconds
        self.released.clear()
        with self._events_lock:
            self.events.clear()


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clean_env(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    root = tmp_path / "files"
    root.mkdir()
    build_wheel(root, "app", "1.0", requires_dist=["lib-b"])
    build_wheel(root, "lib-b", "1.0", requires_dist=["lib-c"])
    build_wheel(root, "lib-c", "1.0")
    with GatedServer(root) as srv:
        yield srv


def _check(server: GatedServer, tmp_path: Path, name: str) -> dict[str, str]:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("app\n")
    report = tmp_path / f"{name}.json"
    code = main(
        [
            "check", "-r", str(reqs), "--index-url", server.url,
            "--python-version", "3.11", "--platform", "linux_x86_64",
            "--cache-dir", str(tmp_path / "cache"), "--report-json", str(report), "-q",
        ]
    )  # fmt: skip
    assert code == 0
    (target,) = json.loads(report.read_text())["targets"]
    return {r["name"]: r["version"] for r in target["resolution"]}


def _before(events: list[str], first: str, then: str) -> bool:
    return events.index(first) < events.index(then)


def test_the_warm_run_asks_for_the_third_level_before_the_first_page_is_answered(
    server: GatedServer, tmp_path: Path
) -> None:
    first = _check(server, tmp_path, "cold")
    server.hold_until("app", "lib-c")
    second = _check(server, tmp_path, "warm")
    assert first == second == {"app": "1.0", "lib-b": "1.0", "lib-c": "1.0"}
    assert "gave up waiting for /simple/lib-c/" not in server.events
    assert _before(server.events, "ask GET /simple/lib-c/", "answer GET /simple/app/")


def test_a_cold_run_asks_level_by_level(server: GatedServer, tmp_path: Path) -> None:
    server.hold_until("app", "lib-c", seconds=0.3)  # nothing stored: the hold runs out
    assert _check(server, tmp_path, "cold") == {"app": "1.0", "lib-b": "1.0", "lib-c": "1.0"}
    assert "gave up waiting for /simple/lib-c/" in server.events
    assert _before(server.events, "answer GET /simple/app/", "ask GET /simple/lib-c/")


def test_the_warm_run_resolves_the_pages_as_they_are_now(
    server: GatedServer, tmp_path: Path
) -> None:
    _check(server, tmp_path, "cold")
    build_wheel(server.root, "lib-c", "2.0")  # published since the first run
    assert _check(server, tmp_path, "warm")["lib-c"] == "2.0"


def test_a_file_replaced_in_place_is_read_again(server: GatedServer, tmp_path: Path) -> None:
    _check(server, tmp_path, "cold")
    # Same file name, other bytes and dependencies: the stored page still lists the old
    # hashes. Holding lib-b's new page until the walk of the stored pages reached lib-c
    # makes sure the old file's metadata was read first.
    build_wheel(server.root, "lib-b", "1.0", requires_dist=["lib-d"])
    build_wheel(server.root, "lib-d", "1.0")
    server.hold_until("lib-b", "lib-c")
    versions = _check(server, tmp_path, "warm")
    assert "gave up waiting for /simple/lib-c/" not in server.events
    assert versions == {"app": "1.0", "lib-b": "1.0", "lib-d": "1.0"}
