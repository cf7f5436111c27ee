"""scripts/pin-action-image: the release workflow's rewrite of action.yml to a digest."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pin-action-image"
DIGEST = "sha256:" + "0123456789abcdef" * 4
IMAGE = "ghcr.io/acme-corp/indexgate"


def _module() -> ModuleType:
    loader = importlib.machinery.SourceFileLoader("pin_action_image", str(SCRIPT))
    spec = importlib.util.spec_from_loader("pin_action_image", loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60
    )


def test_the_release_rewrite_changes_only_runs_image(tmp_path: Path) -> None:
    action = tmp_path / "action.yml"
    original = (ROOT / "action.yml").read_text()
    action.write_text(original)

    proc = _run("--image", IMAGE, "--digest", DIGEST, str(action))

    assert proc.returncode == 0, proc.stderr
    pinned = action.read_text()
    spec, before = yaml.safe_load(pinned), yaml.safe_load(original)
    assert spec["runs"] == {"using": "docker", "image": f"docker://{IMAGE}@{DIGEST}"}
    assert {k: v for k, v in spec.items() if k != "runs"} == {
        k: v for k, v in before.items() if k != "runs"
    }
    # One line changed, comments and layout kept: the release commit's diff is that line.
    changed = [
        (a, b) for a, b in zip(original.splitlines(), pinned.splitlines(), strict=True) if a != b
    ]
    assert changed == [("  image: Dockerfile", f"  image: docker://{IMAGE}@{DIGEST}")]
    # Pinning again (a re-run of the release job) replaces the digest.
    other = "sha256:" + "f" * 64
    assert _run("--image", IMAGE, "--digest", other, str(action)).returncode == 0
    assert yaml.safe_load(action.read_text())["runs"]["image"] == f"docker://{IMAGE}@{other}"


@pytest.mark.parametrize(
    ("image", "digest", "problem"),
    [
        (IMAGE, "sha256:abc", "--digest must be"),
        (IMAGE, "0123456789abcdef" * 4, "--digest must be"),
        ("ghcr.io/Acme/indexgate", DIGEST, "--image must be"),
        (f"{IMAGE}:v1", DIGEST, "--image must be"),
    ],
)
def test_bad_arguments_are_refused(tmp_path: Path, image: str, digest: str, problem: str) -> None:
    action = tmp_path / "action.yml"
    action.write_text((ROOT / "action.yml").read_text())
    proc = _run("--image", image, "--digest", digest, str(action))
    assert proc.returncode == 2 and problem in proc.stderr
    assert action.read_text() == (ROOT / "action.yml").read_text()  # untouched


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("name: x\nruns:\n  using: node20\n  main: index.js\n", "not a Docker container action"),
        ("name: x\nruns:\n  using: docker\n", "no `runs.image`"),
        ("name: x\nruns:\n  using: docker\n  image: other/Dockerfile\n", "expected Dockerfile"),
        ("name: x\n", "exactly one top-level `runs:`"),
    ],
)
def test_an_unexpected_action_yml_is_refused(text: str, problem: str) -> None:
    module = _module()
    with pytest.raises(module.PinError, match=problem.replace("`", ".").replace("(", ".")):
        module.pin(text, IMAGE, DIGEST)


def test_keys_after_runs_and_comments_are_kept() -> None:
    text = (
        "name: x\nruns:\n  using: docker # a container action\n"
        "  image: 'Dockerfile' # built by the runner\nbranding:\n  image: keep-me\n"
    )
    out = _module().pin(text, IMAGE, DIGEST)
    assert out == text.replace("'Dockerfile'", f"docker://{IMAGE}@{DIGEST}")
    assert yaml.safe_load(out)["branding"] == {"image": "keep-me"}
