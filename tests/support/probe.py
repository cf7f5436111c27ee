"""Run ``indexgate`` as a process of its own and see what it imported.

Start-up is paid on every CI run, so tests assert which modules a kind of run leaves out;
only a fresh process shows that (the test process has imported everything long before).
The child runs the package as ``python -m indexgate`` does (the console script's path),
then prints, after a marker, the exit code, the modules the run imported (not those the
interpreter's start-up had, such as a ``.pth`` file's: a machine's site-packages is not
indexgate's start-up) and the number of objects start-up froze; everything before the
marker is the run's own output.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import indexgate

MARKER = "@@probe@@"
PROBE = f"""
import gc, json, runpy, sys
before = set(sys.modules)
sys.argv = ["indexgate", *json.loads(sys.argv[1])]
try:
    runpy.run_module("indexgate", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
print("{MARKER}" + json.dumps(
    {{"code": code, "modules": sorted(set(sys.modules) - before), "frozen": gc.get_freeze_count(),
     "threshold": gc.get_threshold()[0]}}
))
"""


def run_probe(
    cwd: Path, argv: list[str], *, netrc: str = "no-such-netrc"
) -> tuple[dict[str, Any], str]:
    """``indexgate *argv`` in ``cwd``, from the code under test, with none of the caller's
    ``INDEXGATE_``, ``UV_`` or ``PIP_`` variables and ``cwd/netrc`` as the netrc file.
    Returns ``{"code", "modules", "frozen", "threshold"}`` and the process's stderr (its log)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INDEXGATE_", "UV_", "PIP_"))}
    env["NETRC"] = str(cwd / netrc)
    env["PYTHONPATH"] = str(Path(indexgate.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(argv)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert MARKER in done.stdout, done.stderr
    return json.loads(done.stdout.split(MARKER, 1)[1]), done.stderr
