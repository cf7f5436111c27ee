"""Drift compares a lock's file names with the index's by their normalized forms (issue 11).

``uv export --format pylock.toml`` writes wheel names in lower case (``pyyaml-6.0.2-...``);
the index lists ``PyYAML-6.0.2-...``. The same file under PEP 427 escaping: no ``missing-pin``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.packages import Wheelhouse, sdist, wheel
from support.pypi_process import PypiServer, start_pypiserver

from indexgate.cli import main

# (as built: lower-case names, as the index spells them)
MIXED = [
    (wheel("PyYAML", "6.0.2"), "PyYAML-6.0.2-py3-none-any.whl"),
    (wheel("Jinja2", "3.1.4"), "Jinja2-3.1.4-py3-none-any.whl"),
    (wheel("zope.interface", "7.0"), "zope.interface-7.0-py3-none-any.whl"),
    (sdist("MarkupSafe", "3.0.2"), "MarkupSafe-3.0.2.tar.gz"),
]


@pytest.fixture
def mixed_case_index(wheelhouse: Wheelhouse, tmp_path: Path) -> Iterator[tuple[PypiServer, dict]]:
    folder = tmp_path / "packages"
    folder.mkdir()
    digests = {}
    for dist, listed in MIXED:
        built = wheelhouse.build(dist)
        shutil.copyfile(built, folder / listed)
        digests[dist.name] = hashlib.sha256(built.read_bytes()).hexdigest()
    server = start_pypiserver(folder, work_dir=tmp_path / "work")
    yield server, digests
    server.stop()


def uv_pylock(index_url: str, files_url: str, digests: dict[str, str]) -> str:
    """As ``uv export --format pylock.toml`` writes it: normalized, lower-case file names."""
    out = ['lock-version = "1.0"', 'created-by = "uv"', 'requires-python = ">=3.11"']
    for dist, _listed in MIXED:
        name = dist.name.lower().replace(".", "-")
        kind = "sdist" if dist.sdist else "wheels"
        lower = dist.filename  # escape_name: lower case, "_" for runs of -_.
        entry = (
            f'{{ url = "{files_url}/{lower}", size = 1234, '
            f'hashes = {{ sha256 = "{digests[dist.name]}" }} }}'
        )
        out += [
            "",
            "[[packages]]",
            f'name = "{name}"',
            f'version = "{dist.version}"',
            f'index = "{index_url.rstrip("/")}"',
            f"{kind} = {entry}" if dist.sdist else f"{kind} = [{entry}]",
        ]
    return "\n".join(out) + "\n"


def test_lower_case_pylock_against_mixed_case_index_files(
    mixed_case_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, digests = mixed_case_index
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_STEP_SUMMARY", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "UV_INDEX"):
        monkeypatch.delenv(var, raising=False)
    lock = uv_pylock(server.url, f"{server.base_url}/packages", digests)
    assert "pyyaml-6.0.2-py3-none-any.whl" in lock and "PyYAML" not in lock
    Path("pylock.toml").write_text(lock)

    code = main(
        ["drift", "pylock.toml", "--index", f"pub={server.url}", "--python-version", "3.12"]
        + ["--report-json", "report.json", "-q"]
    )
    report = json.loads(Path("report.json").read_text())
    (target,) = report["targets"]
    assert target["errors"] == [], target["errors"]
    assert code == 0 and report["status"] == "pass"
    pins = {e["name"]: e["pin"] for e in target["drift"]}
    assert set(pins) == {"pyyaml", "jinja2", "zope-interface", "markupsafe"}
    for name, pin in pins.items():
        assert (pin["status"], pin["hash"]) == ("allowed", "match"), (name, pin)


def test_drift_reports_direct_references_as_not_from_index(
    mixed_case_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _digests = mixed_case_index
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text(
        "pyyaml==6.0.2\ntool @ git+https://git.example.com/tool.git@v1\n"
    )
    code = main(
        ["drift", "requirements.txt", "--index", f"pub={server.url}", "--python-version", "3.12"]
        + ["--report-json", "report.json", "-q", "--fail-on", "not-from-index"]
    )
    report = json.loads(Path("report.json").read_text())
    (target,) = report["targets"]
    assert [(w["kind"], w["package"], w["line"]) for w in target["warnings"]] == [
        ("not-from-index", "tool", 2)
    ]
    assert code == 1 and target["errors"] == []


def test_drift_of_a_compiled_file_with_a_dynamic_local_project_does_not_build(
    mixed_case_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip-compile writes ``-e file:.``; drift checks the pins and needs no --allow-build."""
    server, _digests = mixed_case_index
    monkeypatch.chdir(tmp_path)
    Path("setup.py").write_text("raise SystemExit('never run')\n")
    Path("requirements.txt").write_text("-e file:.\npyyaml==6.0.2\n")
    code = main(
        ["drift", "requirements.txt", "--index", f"pub={server.url}", "--python-version", "3.12"]
        + ["--report-json", "report.json", "-q"]
    )
    report = json.loads(Path("report.json").read_text())
    assert code == 0 and report["status"] == "pass"
    assert [e["name"] for e in report["targets"][0]["drift"]] == ["pyyaml"]


UV_LOCK = """\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "app"
version = "0.1.0"
source = { editable = "." }

[[package]]
name = "tool"
version = "1.2"
source = { git = "https://git.example.com/tool?rev=v1.2#0123abcd" }
"""


def test_drift_of_a_uv_lock_reports_git_sources_as_not_from_index(
    mixed_case_index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, _digests = mixed_case_index
    monkeypatch.chdir(tmp_path)
    Path("uv.lock").write_text(UV_LOCK)
    code = main(
        ["drift", "uv.lock", "--index", f"pub={server.url}", "--python-version", "3.12"]
        + ["--report-json", "report.json", "-q"]
    )
    report = json.loads(Path("report.json").read_text())
    (warning,) = report["targets"][0]["warnings"]
    assert (warning["kind"], warning["package"], warning["file"], warning["line"]) == (
        "not-from-index",
        "tool",
        "uv.lock",
        11,  # its name line
    )
    assert code == 0
