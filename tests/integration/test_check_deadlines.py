"""``indexgate check`` as a process against a misbehaving index of the tests' own (issue 13's
drip, endless body and huge METADATA; issue 16's throttling): each run ends within its
deadline with the right exit code, and its message names the index, the URL and the limit
that ran out, or what a throttling index said.

Deadlines are tiny (``--timeout 1``, ``--max-time 2``); the subprocess ``timeout=`` is only
a guard against a hang. Nothing asserts a duration.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from check_support import Run, run_subprocess
from support.packages import wheel
from support.scripted_server import (
    ScriptedServer,
    WheelRoutes,
    drip,
    endless_chunks,
    http_date_in,
    huge,
    throttle,
)


@pytest.fixture(scope="module")
def demo_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return wheel("demo-pkg", "1.0").build(tmp_path_factory.mktemp("wheels"))


@pytest.fixture
def index(demo_wheel: Path) -> Iterator[tuple[ScriptedServer, WheelRoutes]]:
    from support.scripted_server import serve_wheel

    with ScriptedServer() as server:
        yield server, serve_wheel(server, "demo-pkg", demo_wheel)


def gate(
    tmp_path: Path,
    server: ScriptedServer,
    *args: str,
    config: str | None = None,
    command: str = "check",
    requirement: str = "demo-pkg",
) -> Run:
    """``indexgate check`` of ``demo-pkg`` against the scripted index, in a clean env."""
    (tmp_path / "requirements.txt").write_text(requirement + "\n")
    if config is not None:
        (tmp_path / "indexgate.yml").write_text(config)
    report = tmp_path / "report.json"
    argv = [command, "--no-cache", "--index", f"scripted={server.url}simple/"]
    argv += ["--report-json", str(report), *args, "-r", "requirements.txt"]
    # The timeout is a guard against a hang, not an expectation.
    done = run_subprocess(argv, cwd=tmp_path, env={"HOME": str(tmp_path)}, timeout=120)
    data = json.loads(report.read_text()) if report.is_file() else None
    return Run(done.returncode, done.stdout, done.stderr, data)


# --- deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize("hostile", [drip(0.2), endless_chunks()], ids=["drip", "endless-chunked"])
def test_a_page_that_never_ends_is_exit_3_naming_the_request_deadline(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes], hostile: Any
) -> None:
    server, routes = index
    server.routes[routes.page] = hostile
    run = gate(tmp_path, server, "--timeout", "1")
    assert run.code == 3, run.err
    assert run.report is not None and run.report["status"] == "error"
    assert f"index 'scripted': GET {server.url}simple/demo-pkg/" in run.messages
    assert "the request deadline (--timeout 1 s) ran out" in run.messages
    assert run.messages in run.out  # the text report says it too


def test_the_run_deadline_ends_a_run_whose_requests_are_each_in_time(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    server.routes[routes.metadata] = drip(0.2)
    run = gate(tmp_path, server, "--timeout", "60", "--max-time", "2")
    assert run.code == 3, run.err
    assert f"index 'scripted': GET {server.url}files/" in run.messages
    assert "the run deadline (--max-time 2 s) ran out" in run.messages


def test_drift_meets_the_same_deadlines(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    server.routes[routes.page] = drip(0.2)
    run = gate(tmp_path, server, "--timeout", "1", command="drift", requirement="demo-pkg==1.0")
    assert run.code == 3, run.err
    assert f"index 'scripted': GET {server.url}simple/demo-pkg/" in run.messages
    assert "(--timeout 1 s) ran out" in run.messages


def test_deadlines_from_the_config_file(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    server.routes[routes.page] = drip(0.2)
    run = gate(tmp_path, server, config="timeout: 1\nmax-time: 30\n")
    assert run.code == 3, run.err
    assert "(--timeout 1 s)" in run.messages


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("timeout: 0", "`timeout` must be a number of seconds above 0 (got 0)"),
        ("max-time: soon", "`max-time` must be a number of seconds above 0 (got a string)"),
        ("max-body-size: lots", "`max-body-size` must be a size such as 200M"),
    ],
)
def test_a_bad_limit_in_the_config_is_exit_2_with_its_line(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes], line: str, problem: str
) -> None:
    server, _ = index
    run = gate(tmp_path, server, config=f"pre: false\n{line}\n")
    assert run.code == 2
    assert f"indexgate.yml:2: {problem}" in run.err
    assert "Traceback" not in run.err
    assert server.requests == []


def test_a_bad_limit_on_the_command_line_is_exit_2(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, _ = index
    for args in (["--timeout", "-1"], ["--max-time", "x"], ["--max-body-size", "0"]):
        run = gate(tmp_path, server, *args)
        assert run.code == 2, args
        assert args[0] in run.err and "Traceback" not in run.err


# --- caps -----------------------------------------------------------------------------------


def test_a_huge_metadata_file_is_refused_at_its_cap_and_not_retried(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    server.routes[routes.metadata] = endless_chunks(b"Requires-Dist: x\n" * 4096, pause=0)
    run = gate(tmp_path, server)
    assert run.code == 3, run.err
    assert f"GET {server.url}files/demo_pkg-1.0-py3-none-any.whl.metadata" in run.messages
    assert "larger than 20 MiB (the cap of metadata files); refused, not retried" in run.messages
    assert server.hits[routes.metadata] == 1


def test_a_page_over_the_configured_cap_is_refused(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    server.routes[routes.page] = huge(3 << 20)
    run = gate(tmp_path, server, "--max-body-size", "1M")
    assert run.code == 3, run.err
    assert "index 'scripted'" in run.messages
    assert "larger than 1 MiB (raise --max-body-size" in run.messages
    assert server.hits[routes.page] == 1


# --- throttling -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "1"), (429, "http-date"), (503, "0")],
    ids=["429-seconds", "429-http-date", "503-seconds"],
)
def test_throttling_is_waited_out_and_the_gate_passes(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes], status: int, retry_after: str
) -> None:
    server, routes = index
    value = http_date_in(1) if retry_after == "http-date" else retry_after
    server.routes[routes.page] = throttle(
        1, status=status, retry_after=value, then=server.routes[routes.page]
    )
    run = gate(tmp_path, server, "--timeout", "10")
    assert run.code == 0, run.out + run.err
    assert run.report is not None
    assert [r["version"] for r in run.report["targets"][0]["resolution"]] == ["1.0"]
    assert server.hits[routes.page] == 2


def test_throttled_until_the_deadline_is_exit_3_with_the_index_words(
    tmp_path: Path, index: tuple[ScriptedServer, WheelRoutes]
) -> None:
    server, routes = index
    said = {"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota)."}}
    server.routes[routes.page] = throttle(
        None, retry_after="1", body=json.dumps(said).encode(), content_type="application/json"
    )
    run = gate(tmp_path, server, "--timeout", "2")
    assert run.code == 3, run.err
    assert "index 'scripted'" in run.messages and "throttled" in run.messages
    assert 'HTTP 429 Too Many Requests: "Resource has been exhausted (e.g. check quota)."' in (
        run.messages
    )
    assert "(--timeout 2 s)" in run.messages
    assert server.hits[routes.page] >= 2, "one Retry-After was waited out first"
