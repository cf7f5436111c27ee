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


def test_builds_needing_the_same_requirements_share_one_environment_without_pip(tmp_path):
    """A run makes one build environment per set of build requirements (and indexes), and
    this process's pip installs into it: no pip of its own (making a venv with pip cost
    ~3 s of CPU per build)."""
    import subprocess

    from indexgate.dists import build

    before = set(build._ENVS)
    metadata = []
    for name in ("first", "second"):
        tree = tmp_path / name / "src"
        tree.mkdir(parents=True)
        (tree / "pyproject.toml").write_text(
            '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        )
        (tree / "backend.py").write_text(BACKEND.replace("dyn", name))
        metadata.append(build._metadata_of_tree(tree, tmp_path / name, ()))
    assert [m.splitlines()[1] for m in metadata] == [b"Name: first", b"Name: second"]
    key = ((), (("PIP_NO_INDEX", "1"),))
    env = build._ENVS[key]
    assert set(build._ENVS) - before <= {key}  # both builds in one environment
    assert build._host_pip()
    no_pip = subprocess.run([env.python, "-c", "import pip"], capture_output=True)
    assert no_pip.returncode != 0, "the build environment got a pip of its own"
