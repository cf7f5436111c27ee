"""--allow-build: an sdist whose dependencies are dynamic is unusable unless the user asks
for its build backend to run; then its metadata comes from that backend."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from support.packages import wheel

from indexgate.cli import main

BACKEND = """
import os
def prepare_metadata_for_build_wheel(out, config_settings=None):
    d = os.path.join(out, "dyn-1.0.dist-info")
    os.makedirs(d)
    with open(os.path.join(d, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\\nName: dyn\\nVersion: 1.0\\nRequires-Dist: helper>=2\\n")
    return "dyn-1.0.dist-info"
"""


def _dynamic_sdist(folder: Path) -> None:
    files = {
        "dyn-1.0/PKG-INFO": (
            b"Metadata-Version: 2.2\nName: dyn\nVersion: 1.0\nDynamic: Requires-Dist\n"
        ),
        "dyn-1.0/pyproject.toml": (
            b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        ),
        "dyn-1.0/backend.py": BACKEND.encode(),
    }
    with tarfile.open(folder / "dyn-1.0.tar.gz", "w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.fixture
def index(dev_index):
    server = dev_index([wheel("helper", "1.0"), wheel("helper", "2.0")])
    _dynamic_sdist(server.root)
    return server


def test_dynamic_sdist_is_unusable_without_allow_build(index, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("dyn\n")
    code = main(["check", "--default-index", index.url, "--report-json", "r.json"])
    assert code == 1
    error = json.loads(Path("r.json").read_text())["targets"][0]["errors"][0]
    assert error["kind"] == "no-solution"
    assert "requires-dist" in error["message"].lower() and "--allow-build" in error["message"]


def test_allow_build_reads_metadata_from_the_backend(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("requirements.txt").write_text("dyn\n")
    code = main(["check", "--default-index", index.url, "--allow-build", "--report-json", "r.json"])
    assert code == 0
    resolution = json.loads(Path("r.json").read_text())["targets"][0]["resolution"]
    assert {(r["name"], r["version"]) for r in resolution} == {("dyn", "1.0"), ("helper", "2.0")}
