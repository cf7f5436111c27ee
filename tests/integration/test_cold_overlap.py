"""The cold run's round trips (issue 15), seen in a local index's request log: the next
level's page is asked for while a probe of the level above is still unanswered; a probe
that answers 403 after the resolver moved on is still reported blocked and backtracked
from; and a wheel read by byte ranges (no PEP 658) gets no separate probe, since the
range read itself proves the file downloadable.

The index is the tests' scripted server; a held answer waits for a request the test names
(with a guard so a wrong order cannot hang the test). Nothing asserts a duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.packages import Dist, wheel
from support.scripted_server import ScriptedServer, Seen, answer

from indexgate.demo.wheels import read_core_metadata

GUARD = 20.0  # seconds a held answer waits at most (only reached when the order is wrong)
_SCRUBBED = ("PIP_", "UV_", "INDEXGATE_", "GITHUB_")


@dataclass
class Index:
    """A PEP 503 index of built wheels on a ScriptedServer, with an ordered event log."""

    server: ScriptedServer
    events: list[tuple[str, str, str]] = field(default_factory=list)  # (what, method, path)
    _waits: dict[str, asyncio.Event] = field(default_factory=dict)  # path -> "asked for"

    def asked(self, path: str) -> asyncio.Event:
        """Set once ``path`` is asked for (created on the server's loop)."""
        return self._waits.setdefault(path, asyncio.Event())

    def position(self, what: str, method: str, path: str) -> int:
        return self.events.index((what, method, path))


def build_index(server: ScriptedServer, folder: Path, dists: list[Dist], pep658: bool) -> Index:
    index = Index(server)
    by_project: dict[str, list[tuple[str, str, str]]] = {}
    for dist in dists:
        built = dist.build(folder)
        data = built.read_bytes()
        meta = read_core_metadata(built) or b""
        path = f"/files/{built.name}"
        server.routes[path] = _file(index, data)
        server.routes[path + ".metadata"] = _fixed(index, meta)
        by_project.setdefault(dist.name, []).append(
            (path, hashlib.sha256(data).hexdigest(), hashlib.sha256(meta).hexdigest())
        )
    for project, files in by_project.items():
        links = "".join(
            f'<a href="{html.escape(p)}#sha256={d}"'
            + (f' data-core-metadata="sha256={m}"' if pep658 else "")
            + f">{html.escape(p.rsplit('/', 1)[1])}</a>\n"
            for p, d, m in files
        )
        page = f"<!DOCTYPE html><html><body>\n{links}</body></html>\n".encode()
        server.routes[f"/simple/{project}/"] = _fixed(index, page, "text/html")
    return index


def _note(index: Index, what: str, seen: Seen) -> None:
    index.events.append((what, seen.method, seen.path))
    if what == "asked":
        index.asked(seen.path).set()


def _fixed(index: Index, body: bytes, content_type: str = "application/octet-stream") -> Any:
    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        _note(index, "asked", seen)
        answer(writer, seen.method, 200, body, {"Content-Type": content_type}, "OK")
        _note(index, "answered", seen)
        return True

    return handler


def _file(index: Index, data: bytes) -> Any:
    """The wheel, with single byte ranges (``bytes=A-B`` and ``bytes=-N``), as nginx."""

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        _note(index, "asked", seen)
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", seen.headers.get("range", ""))
        if m is None:
            answer(writer, seen.method, 200, data, {"Accept-Ranges": "bytes"}, "OK")
        else:
            first, last = m.groups()
            start = len(data) - int(last) if not first else int(first)
            end = len(data) - 1 if not first or not last else min(int(last), len(data) - 1)
            start = max(start, 0)
            part = data[start : end + 1]
            head = {"Content-Range": f"bytes {start}-{end}/{len(data)}"}
            answer(writer, seen.method, 206, part, head, "Partial Content")
        _note(index, "answered", seen)
        return True

    return handler


def hold(index: Index, path: str, until: str, status: int = 200) -> None:
    """The file at ``path`` answers its probes (HEAD, or a one-byte GET) only once
    ``until`` was asked for, then with ``status``; other reads of it as usual."""
    usual = index.server.routes[path]

    async def handler(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        probe = seen.method == "HEAD" or seen.headers.get("range") == "bytes=0-0"
        if not probe:
            return await usual(seen, writer)  # type: ignore[no-any-return]
        _note(index, "asked", seen)
        with contextlib.suppress(TimeoutError):  # the order is wrong: answer anyway,
            await asyncio.wait_for(index.asked(until).wait(), GUARD)  # the asserts say so
        if status == 200:
            answer(writer, seen.method, 200, b"", {}, "OK")
        else:
            body = b"REQUESTED ITEM IS QUARANTINED"
            answer(writer, seen.method, status, body, {"Content-Type": "text/plain"}, "Forbidden")
        _note(index, "answered", seen)
        return True

    index.server.routes[path] = handler


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def check(
    tmp_path: Path, url: str, requirement: str, *args: str
) -> tuple[int, dict[str, Any], str]:
    """``indexgate check`` as a process, cold (no cache), against the index at ``url``."""
    (tmp_path / "requirements.txt").write_text(requirement + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["HOME"] = str(tmp_path)
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "indexgate", "check", "--no-cache", "-r", "requirements.txt"]
    command += ["--index", f"local={url}simple/", "--report-json", str(report)]
    command += ["--python-version", "3.12", "--platform", "linux_x86_64", *args]
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,  # a guard against a hang, not an expectation
    )
    assert report.is_file(), done.stderr
    return done.returncode, json.loads(report.read_text()), done.stderr


def pins(report: dict[str, Any]) -> dict[str, str]:
    return {r["name"]: r["version"] for r in report["targets"][0]["resolution"]}


TOP_2 = "/files/top-2.0-py3-none-any.whl"


def test_the_next_levels_page_is_asked_for_before_the_probe_above_answers(
    server: ScriptedServer, tmp_path: Path
) -> None:
    dists = [wheel("top", "2.0", "mid"), wheel("top", "1.0"), wheel("mid", "1.0", "leaf")]
    dists.append(wheel("leaf", "1.0"))
    index = build_index(server, tmp_path / "wheels", dists, pep658=True)
    # top 2.0's probe is answered only once leaf's page, two levels down, was asked for.
    hold(index, TOP_2, until="/simple/leaf/")
    code, report, err = check(tmp_path, server.url, "top")
    assert code == 0, err
    assert pins(report) == {"top": "2.0", "mid": "1.0", "leaf": "1.0"}
    probe = ("HEAD", TOP_2)
    assert index.position("asked", "GET", "/simple/mid/") < index.position("answered", *probe)
    assert index.position("asked", "GET", "/simple/leaf/") < index.position("answered", *probe)


def test_a_probe_that_answers_403_after_the_resolver_moved_on_is_still_backtracked_from(
    server: ScriptedServer, tmp_path: Path
) -> None:
    dists = [wheel("top", "2.0", "mid"), wheel("top", "1.0"), wheel("mid", "1.0", "leaf")]
    dists.append(wheel("leaf", "1.0"))
    index = build_index(server, tmp_path / "wheels", dists, pep658=True)
    # The firewall serves top 2.0's metadata but blocks the file; its answer comes late:
    # after the level below top 2.0 was read and the resolver had taken it.
    hold(index, TOP_2, until="/files/leaf-1.0-py3-none-any.whl.metadata", status=403)
    code, report, err = check(tmp_path, server.url, "top", "-v")
    assert code == 0, err
    assert "found a block: resolving again" in err  # taken first, dropped when the 403 came
    target = report["targets"][0]
    assert pins(report) == {"top": "1.0"}  # top 1.0 needs neither mid nor leaf
    [blocked] = target["blocked"]
    assert blocked["file"] == "top-2.0-py3-none-any.whl"
    assert blocked["status_code"] == 403 and blocked["fallback"] == "1.0"
    leaf_read = index.position("asked", "GET", "/files/leaf-1.0-py3-none-any.whl.metadata")
    assert leaf_read < index.position("answered", "HEAD", TOP_2)


def test_a_wheel_read_by_ranges_gets_no_separate_probe(
    server: ScriptedServer, tmp_path: Path
) -> None:
    dists = [wheel("top", "2.0", "mid"), wheel("mid", "1.0")]
    index = build_index(server, tmp_path / "wheels", dists, pep658=False)
    code, report, err = check(tmp_path, server.url, "top")
    assert code == 0, err
    assert pins(report) == {"top": "2.0", "mid": "1.0"}
    files = [(m, p) for what, m, p in index.events if what == "asked" and p.startswith("/files/")]
    assert all(method == "GET" for method, _ in files), files  # no HEAD, no .metadata
    assert {p for _, p in files} == {TOP_2, "/files/mid-1.0-py3-none-any.whl"}
    ranged = [s for s in server.requests if s.path.startswith("/files/")]
    assert all(s.headers.get("range", "").startswith("bytes=-") for s in ranged), ranged


def test_a_wheel_that_answers_403_to_its_range_read_is_blocked_without_a_probe(
    server: ScriptedServer, tmp_path: Path
) -> None:
    dists = [wheel("top", "2.0", "mid"), wheel("top", "1.0"), wheel("mid", "1.0")]
    index = build_index(server, tmp_path / "wheels", dists, pep658=False)

    async def forbidden(seen: Seen, writer: asyncio.StreamWriter) -> bool:
        _note(index, "asked", seen)
        body = b"REQUESTED ITEM IS QUARANTINED"
        answer(writer, seen.method, 403, body, {"Content-Type": "text/plain"}, "Forbidden")
        return True

    server.routes[TOP_2] = forbidden
    code, report, err = check(tmp_path, server.url, "top")
    assert code == 0, err
    assert pins(report) == {"top": "1.0"}
    [blocked] = report["targets"][0]["blocked"]
    assert blocked["file"] == "top-2.0-py3-none-any.whl" and blocked["status_code"] == 403
    assert [m for what, m, p in index.events if p == TOP_2] == ["GET"]  # the range read only
