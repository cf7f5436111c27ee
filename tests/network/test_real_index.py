"""Opt-in (``pytest -m network``): the real public index, through this machine's own network.

This machine's outbound TLS is re-signed by a local CA that only the system trust store
knows (as behind a company's TLS-inspecting proxy). indexgate must resolve a small real
requirements set there with no certificate variable set at all, and pin the same versions
as ``uv pip compile --native-tls`` (uv with the system store) asked the same question.

The index URL is pip's own default, read from pip at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.network

REQUIREMENTS = "requests>=2.31\nclick\npackaging\n"
# Every variable that could hand a CA bundle to indexgate, OpenSSL, pip, requests or uv.
CERT_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "PIP_CERT",
    "CURL_CA_BUNDLE",
    "INDEXGATE_CERT",
    "UV_NATIVE_TLS",
    "NIX_SSL_CERT_FILE",
)


def _index_url() -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "from pip._internal.models.index import PyPI; print(PyPI.simple_url)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def _clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in CERT_VARIABLES and not k.startswith(("PIP_", "UV_", "INDEXGATE_"))
    }
    env["XDG_CACHE_HOME"] = str(home / "cache")
    env["NETRC"] = str(home / "no-netrc")
    return env


def _uv() -> str:
    found = Path(sys.executable).with_name("uv")
    return str(found) if found.exists() else (shutil.which("uv") or "uv")


def test_real_index_with_the_system_store_pins_what_uv_pins(tmp_path: Path) -> None:
    url = _index_url()
    env = _clean_env(tmp_path)
    (tmp_path / "requirements.txt").write_text(REQUIREMENTS)
    check = subprocess.run(
        [
            sys.executable,
            "-m",
            "indexgate",
            "check",
            "requirements.txt",
            "--default-index",
            url,
            "--python-version",
            "3.12",
            "--platform",
            "linux_x86_64",
            "--no-cache",
            "--report-json",
            "report.json",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    (target,) = report["targets"]
    ours = {canonicalize_name(r["name"]): r["version"] for r in target["resolution"]}

    compiled = subprocess.run(
        [
            _uv(),
            "pip",
            "compile",
            "requirements.txt",
            "--index-url",
            url,
            "--native-tls",
            "--python-version",
            "3.12",
            "--python-platform",
            "x86_64-unknown-linux-gnu",
            "--no-cache",
            "--no-header",
            "--no-annotate",
            "--quiet",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stderr
    theirs = {}
    for line in compiled.stdout.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            theirs[canonicalize_name(name)] = version.split(";")[0].strip()
    assert {"requests", "click", "packaging", "urllib3", "idna"} <= theirs.keys()
    assert ours == theirs
