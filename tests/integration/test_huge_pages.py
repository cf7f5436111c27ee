"""A huge project page (issue 13): ``indexgate check`` against a real local server that
answers a ~50 MB page of hundreds of thousands of links stays under 200 MB of peak RSS
for the whole run, and resolves the right version.

The run is a subprocess of a small launcher process that reports its children's peak RSS
(``ru_maxrss``): measured from this test process, the forked child would be charged with
this process's own memory (the generated page) before it executes indexgate.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.bigpage_server import BigPageServer
from support.pagegen import FILES_PER_VERSION, WHEEL_TAGS, generate, html_page, json_page

pytestmark = pytest.mark.integration

LIMIT_MB = 200
_LAUNCHER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:]).returncode\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "print(f'PEAK-RSS-KB {peak}', file=sys.stderr)\n"
    "sys.exit(code)\n"
)


def _expected_pin(n_files: int) -> str:
    """The newest version with a file for CPython 3.12 on linux_x86_64 (its sdist at
    least: every version lists the sdist first)."""
    versions, left = divmod(n_files, FILES_PER_VERSION)
    last = versions if left else versions - 1
    return f"{last // 10000}.{last // 100 % 100}.{last % 100}"


def _check(tmp_path: Path, url: str) -> tuple[subprocess.CompletedProcess[str], int]:
    (tmp_path / "requirements.txt").write_text("bigpkg\n")
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "INDEXGATE_", "GITHUB_"))
    }
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    env["NETRC"] = str(tmp_path / "no-netrc")
    args = [sys.executable, "-m", "indexgate", "check", "-r", "requirements.txt"]
    args += ["--index", url, "--python-version", "3.12", "--platform", "linux_x86_64"]
    args += ["--report-json", "report.json"]
    done = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    peak = re.search(r"PEAK-RSS-KB (\d+)", done.stderr)
    assert peak, done.stderr
    return done, int(peak.group(1)) // 1024


@pytest.mark.parametrize(
    ("kind", "n_files"),
    [("html", 210_000), ("json", 135_000)],
)
def test_a_50_mb_page_stays_under_200_mb(tmp_path: Path, kind: str, n_files: int) -> None:
    files = generate("bigpkg", n_files, absolute=False, metadata="all")
    if kind == "html":
        body, content_type = html_page("bigpkg", files, lean=True), "text/html"
    else:
        body, content_type = json_page("bigpkg", files), "application/vnd.pypi.simple.v1+json"
    del files
    assert len(body) > 45_000_000, len(body)
    with BigPageServer("bigpkg", body, content_type) as server:
        done, peak_mb = _check(tmp_path, server.url)
    assert done.returncode == 0, done.stdout + done.stderr
    pin = _expected_pin(n_files)
    assert f"bigpkg=={pin}" in done.stdout, done.stdout
    assert peak_mb < LIMIT_MB, f"peak RSS {peak_mb} MB for a {len(body) // 10**6} MB page"


def test_the_expected_pin_is_the_newest_fitting_version() -> None:
    """The test's own arithmetic: versions list an sdist, then WHEEL_TAGS in order."""
    assert _expected_pin(FILES_PER_VERSION) == "0.0.0"
    assert _expected_pin(FILES_PER_VERSION + 1) == "0.0.1"
    assert len(WHEEL_TAGS) + 1 == FILES_PER_VERSION


def test_pages_kept_for_one_targets_files_are_not_reused_for_another(
    tmp_path: Path, dev_index, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """check keeps a page's parse (only the files its targets can install) in the cache:
    a later run for another platform, on the same cache, must see that platform's files,
    and a run for no fitting platform must still say why (a file stands in)."""
    from check_support import CheckCli
    from support.packages import wheel

    linux = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"
    index = dev_index(
        [wheel("native", "1.0", tag=linux), wheel("native", "1.0", tag="cp312-cp312-win_amd64")]
    )
    cli = CheckCli(tmp_path, monkeypatch, capsys)
    cache = ["--cache-dir", str(tmp_path / "cache")]
    common = ["--index", index.url, "--python-version", "3.12", *cache]
    runs = {
        platform: cli.run(*common, "--platform", platform, requirements="native\n")
        for platform in ("linux_x86_64", "win_amd64", "macosx_14_0_arm64")
    }
    assert runs["linux_x86_64"].resolved("native")["file"].endswith(f"{linux}.whl")
    assert runs["win_amd64"].resolved("native")["file"].endswith("win_amd64.whl")
    (error,) = runs["macosx_14_0_arm64"].errors("no-solution")
    assert "no wheel for macosx_14_0_arm64" in error["message"]
