"""Drive ``indexgate check`` in-process, with the environment of a clean CI runner.

Used by the ``test_check_*`` integration tests: ``cli = CheckCli(tmp_path, monkeypatch,
capsys)``; ``cli.run("--index", url, requirements="flask>=3\\n")`` writes the project files,
runs ``indexgate.cli.main`` in ``tmp_path`` and returns the exit code, stdout, stderr and the
JSON report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from support.packages import wheel

from indexgate.cli import main

# Variables a developer's shell or a CI runner may carry that would change what is checked.
_SCRUBBED_PREFIXES = ("PIP_", "UV_", "INDEXGATE_", "GITHUB_")
# Trust and proxy settings: a test about networks sets the ones it is about.
NETWORK_VARIABLES = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    *(f"{name}_proxy" for name in ("http", "https", "all", "no")),
    *(f"{name}_PROXY" for name in ("HTTP", "HTTPS", "ALL", "NO")),
)

# What the company-network tests (proxies, TLS, the Action's CA) resolve.
ACME_PACKAGES = [wheel("acme-app", "1.0", "acme-lib>=1"), wheel("acme-lib", "1.2")]
ACME_VERSIONS = {"acme-app": "1.0", "acme-lib": "1.2"}


@dataclass
class Run:
    code: int
    out: str
    err: str
    report: dict[str, Any] | None
    summary: str | None = None

    @property
    def target(self) -> dict[str, Any]:
        """The only target of the report."""
        assert self.report is not None, self.err
        (target,) = self.report["targets"]
        return target

    def versions(self, target: dict[str, Any] | None = None) -> dict[str, str]:
        target = target or self.target
        return {r["name"]: r["version"] for r in target["resolution"]}

    def resolved(self, name: str, target: dict[str, Any] | None = None) -> dict[str, Any]:
        target = target or self.target
        return next(r for r in target["resolution"] if r["name"] == name)

    def errors(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None, self.err
        return [e for t in self.report["targets"] for e in t["errors"] if kind in (None, e["kind"])]

    def warnings(self, kind: str | None = None) -> list[dict[str, Any]]:
        assert self.report is not None, self.err
        return [
            w for t in self.report["targets"] for w in t["warnings"] if kind in (None, w["kind"])
        ]

    @property
    def messages(self) -> str:
        """The messages of every target's errors, one a line."""
        assert self.report is not None, self.err
        return "\n".join(e["message"] for t in self.report["targets"] for e in t["errors"])

    def everything(self) -> str:
        """Every byte a user could see: stdout, stderr, the JSON report and the summary."""
        return "\n".join([self.out, self.err, json.dumps(self.report), self.summary or ""])


def assert_acme_resolved(run: Run) -> None:
    """Exit 0 with ``ACME_VERSIONS`` resolved (everything the user saw when not)."""
    assert run.code == 0, run.everything()
    assert run.versions() == ACME_VERSIONS


def clean_env(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    for var in list(os.environ):
        if var.startswith(_SCRUBBED_PREFIXES) or var in ("NETRC", *NETWORK_VARIABLES):
            monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(home / "no-such-netrc"))


class CheckCli:
    def __init__(
        self,
        root: Path,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.capsys = capsys
        clean_env(monkeypatch, root)
        monkeypatch.chdir(root)

    def write(self, name: str, text: str) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def run(
        self,
        *args: str,
        requirements: str | None = None,
        config: str | None = None,
        pyproject: str | None = None,
        env: Mapping[str, str] | None = None,
        summary: bool = False,
    ) -> Run:
        if requirements is not None:
            self.write("requirements.txt", requirements)
        if config is not None:
            self.write(".github/indexgate.yml", config)
        if pyproject is not None:
            self.write("pyproject.toml", pyproject)
        for key, value in (env or {}).items():
            self.monkeypatch.setenv(key, value)
        report_path = self.root / "out" / "report.json"
        summary_path = self.root / "out" / "summary.md"
        for path in (report_path, summary_path):
            path.unlink(missing_ok=True)
        extra = ["--summary", str(summary_path)] if summary else []
        code = main(["check", *args, "--report-json", str(report_path), *extra])
        captured = self.capsys.readouterr()
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        text = summary_path.read_text() if summary_path.exists() else None
        return Run(code, captured.out, captured.err, report, text)


def run_subprocess(
    args: list[str], *, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m indexgate ...`` with a scrubbed environment (for logging and env tests)."""
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_SCRUBBED_PREFIXES) and k not in ("NETRC", *NETWORK_VARIABLES)
    }
    base["NETRC"] = str(cwd / "no-such-netrc")
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "indexgate", *args],
        cwd=cwd,
        env=base,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
