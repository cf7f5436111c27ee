"""What real indexes hold (issue 11): one malformed file, or one version's malformed
metadata, makes that file or version unusable, said at ``-v``, as pip and uv do; it is
never fatal to the run. Each against a real local server, through the real command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from check_support import run_subprocess
from support.bigpage_server import BigPageServer
from support.packages import wheel

pytestmark = pytest.mark.integration

# shellingham 1.0.0.dev0 and pyzmq 17.0.0 carry this on the real public index.
BAD_REQUIRES_PYTHON = ">= '2.7'"
PACKAGES = [
    wheel("typer", "0.9", "shellingham>=1"),
    wheel("shellingham", "1.0.0.dev0", requires_python=BAD_REQUIRES_PYTHON),
    wheel("shellingham", "1.5.4", requires_python=">=3.7"),
]


def check(tmp_path: Path, url: str, requirements: str, *extra: str) -> tuple[int, str, dict]:
    (tmp_path / "requirements.txt").write_text(requirements)
    args = ["check", "-r", "requirements.txt", "--index", url, "--python-version", "3.12"]
    proc = run_subprocess([*args, "--report-json", "report.json", "-v", *extra], cwd=tmp_path)
    report_path = tmp_path / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else {}
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout + proc.stderr, report


def pins(report: dict) -> dict[str, str]:
    (target,) = report["targets"]
    return {r["name"]: r["version"] for r in target["resolution"]}


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "html"])
def test_a_malformed_requires_python_on_an_old_file_is_skipped(
    tmp_path: Path, dev_index, as_json: bool
) -> None:
    index = dev_index(PACKAGES, json=as_json)
    code, output, report = check(tmp_path, index.url, "typer\n")
    assert code == 0, output
    assert pins(report) == {"typer": "0.9", "shellingham": "1.5.4"}
    assert "shellingham-1.0.0.dev0-py3-none-any.whl" in output
    assert f"invalid requires-python {BAD_REQUIRES_PYTHON!r}" in output


def test_a_pin_to_the_malformed_file_fails_the_gate_not_the_run(tmp_path: Path, dev_index) -> None:
    index = dev_index(PACKAGES)
    code, output, report = check(tmp_path, index.url, "shellingham==1.0.0.dev0\n")
    assert code == 1, output
    assert report["status"] == "fail"
    assert [e["kind"] for e in report["targets"][0]["errors"]] == ["no-solution"]


def test_malformed_metadata_makes_that_version_unusable(tmp_path: Path, dev_index) -> None:
    index = dev_index(
        [
            wheel("app", "1.0", "lib"),
            wheel("lib", "1.0"),
            wheel("lib", "2.0", "dep >= = 1"),  # not a PEP 508 requirement
            wheel("lib", "3.0", 'dep; os_name ~= "nt"'),  # a marker that cannot be evaluated
            wheel("dep", "1.0"),
        ]
    )
    code, output, report = check(tmp_path, index.url, "app\n")
    assert code == 0, output
    assert pins(report) == {"app": "1.0", "lib": "1.0"}
    assert "lib-2.0-py3-none-any.whl: invalid Requires-Dist 'dep >= = 1'" in output
    assert "lib-3.0-py3-none-any.whl: invalid Requires-Dist" in output


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "html"])
def test_a_malformed_version_or_filename_is_skipped(tmp_path: Path, as_json: bool) -> None:
    names = [
        "pkg-1.0-py3-none-any.whl",
        "pkg-2.0.0.final!-py3-none-any.whl",  # not a PEP 440 version
        "pkg-3.0-py3-none.whl",  # no platform tag
        "pkg-4.0.tar.gz.whl",
    ]
    if as_json:
        files = [{"filename": n, "url": f"../../f/{n}", "hashes": {}} for n in names]
        for entry in files:
            entry["core-metadata"] = True
        body = json.dumps({"meta": {"api-version": "1.1"}, "files": files}).encode()
        content_type = "application/vnd.pypi.simple.v1+json"
    else:
        links = [f'<a href="../../f/{n}" data-core-metadata="true">{n}</a><br/>' for n in names]
        body = ("<html><body>" + "\n".join(links) + "</body></html>").encode()
        content_type = "text/html"
    with BigPageServer("pkg", body, content_type) as server:
        code, output, report = check(tmp_path, server.url, "pkg\n")
    assert code == 0, output
    assert pins(report) == {"pkg": "1.0"}
    for bad in names[1:]:
        assert f"skipping {bad}: not a valid wheel or sdist name" in output, bad
