"""Build an sdist's metadata in an isolated environment: only with ``--allow-build``.

This runs the package's build backend (package code), which the gate otherwise never
does. It happens in a virtual environment in a temporary folder, made for the build
requirements (and shared by the builds of a run that need the same ones); build
requirements are installed by pip from the same indexes, with credentials passed in pip's
environment, never on a command line or in output.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

from indexgate.dists.metadata import MetadataError
from indexgate.redact import redact
from indexgate.settings import IndexConfig

_LEGACY = {"requires": ["setuptools>=40.8.0"], "build-backend": "setuptools.build_meta:__legacy__"}
_HOOK = r"""
import importlib, json, os, sys
backend_path = json.loads(sys.argv[3])
sys.path[:0] = [os.path.abspath(p) for p in backend_path]
mod, _, obj = sys.argv[1].partition(":")
backend = importlib.import_module(mod)
for part in filter(None, obj.split(".")):
    backend = getattr(backend, part)
hook = sys.argv[2]
out = sys.argv[4]
if hook == "requires":
    get = getattr(backend, "get_requires_for_build_wheel", None)
    print(json.dumps(get() if get else []))
elif hasattr(backend, "prepare_metadata_for_build_wheel"):
    print(json.dumps({"dist_info": backend.prepare_metadata_for_build_wheel(out)}))
else:
    print(json.dumps({"wheel": backend.build_wheel(out)}))
"""
TIMEOUT = 600


def build_metadata(sdist: bytes, filename: str, indexes: Sequence[IndexConfig]) -> bytes:
    """The sdist's core metadata, produced by its own build backend."""
    with tempfile.TemporaryDirectory(prefix="indexgate-build-") as tmp:
        root = Path(tmp)
        return _metadata_of_tree(_unpack(sdist, filename, root / "src"), root, indexes)


# What a copy of a local project leaves out: environments and caches, never sources.
_NOT_COPIED = shutil.ignore_patterns(
    ".venv", "venv", ".tox", ".nox", "node_modules", "__pycache__", ".mypy_cache"
)


def build_project_metadata(project: Path, indexes: Sequence[IndexConfig]) -> bytes:
    """A local project's core metadata (``-e ./lib`` with dynamic dependencies), produced
    by its own build backend on a copy of the folder: the user's tree is never written."""
    with tempfile.TemporaryDirectory(prefix="indexgate-build-") as tmp:
        root = Path(tmp)
        src = root / "src"
        try:
            shutil.copytree(project, src, symlinks=True, ignore=_NOT_COPIED)
        except (OSError, shutil.Error) as exc:
            raise MetadataError(f"cannot copy {project} to build it: {exc}") from None
        return _metadata_of_tree(src, root, indexes)


def _metadata_of_tree(src: Path, root: Path, indexes: Sequence[IndexConfig]) -> bytes:
    """Run the build backend of the project in ``src``, in a build environment of its
    build requirements (``_environment``)."""
    system = _build_system(src)
    pip_env = _pip_env(indexes)
    backend, path = system["build-backend"], json.dumps(system.get("backend-path", []))
    out = root / "out"
    out.mkdir()
    with _environment(list(system["requires"]), pip_env) as (python, add):
        extra = json.loads(_run([python, "-c", _HOOK, backend, "requires", path, str(out)], src))
        add(extra)
        answer = json.loads(_run([python, "-c", _HOOK, backend, "metadata", path, str(out)], src))
    if "dist_info" in answer:
        return (out / answer["dist_info"] / "METADATA").read_bytes()
    with zipfile.ZipFile(out / answer["wheel"]) as whl:
        name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        return whl.read(name)


def _unpack(data: bytes, filename: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    try:
        if filename.endswith(".zip"):
            with zipfile.ZipFile(BytesIO(data)) as zf:
                zf.extractall(dest)
        else:
            with tarfile.open(fileobj=BytesIO(data), mode="r:*") as tf:
                tf.extractall(dest, filter="data")
    except (tarfile.TarError, zipfile.BadZipFile, OSError) as exc:
        raise MetadataError(f"cannot unpack {filename}: {exc}") from None
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise MetadataError(f"{filename} has no single top-level folder")
    return tops[0]


def _build_system(src: Path) -> dict:
    pyproject = src / "pyproject.toml"
    if not pyproject.is_file():
        return dict(_LEGACY)
    try:
        system = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("build-system", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MetadataError(f"invalid pyproject.toml in the sdist: {exc}") from None
    return {
        "requires": system.get("requires", _LEGACY["requires"]),
        "build-backend": system.get("build-backend", _LEGACY["build-backend"]),
        "backend-path": system.get("backend-path", []),
    }


def _pip_env(indexes: Sequence[IndexConfig]) -> dict[str, str]:
    simple = [i for i in indexes if i.format == "simple" and not i.explicit]
    if not simple:
        return {"PIP_NO_INDEX": "1"}
    urls = [_with_auth(i) for i in simple]
    env = {"PIP_INDEX_URL": urls[-1], "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    if len(urls) > 1:
        env["PIP_EXTRA_INDEX_URL"] = " ".join(urls[:-1])
    return env


def _with_auth(index: IndexConfig) -> str:
    if index.auth is None:
        return index.url
    user, password = (quote(x, safe="") for x in index.auth)
    parts = urlsplit(index.url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.netloc}"))


# -- build environments ---------------------------------------------------------------------
#
# A virtual environment per set of build requirements (and indexes), made once per run and
# shared by the builds that need the same (most legacy sdists: setuptools alone), each
# build's extra requirements added to it. It has no pip of its own: this process's pip
# installs into it (``pip --python``), where making a venv with pip costs ~3 s of CPU.

_ENVS: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], _BuildEnv] = {}
_ENVS_LOCK = threading.Lock()
_ENVS_ROOT: list[str] = []  # the run's folder of build environments, removed at exit


class _BuildEnv:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.python = ""
        self.lock = threading.Lock()  # one install at a time; hooks run side by side
        self.installed: set[str] = set()


@contextmanager
def _environment(
    requires: list[str], pip_env: dict[str, str]
) -> Iterator[tuple[str, Callable[[Sequence[str]], None]]]:
    """The python of a build environment holding ``requires``, and a function that adds
    more requirements to it."""
    key = (tuple(sorted(requires)), tuple(sorted(pip_env.items())))
    with _ENVS_LOCK:
        env = _ENVS.get(key)
        if env is None:
            if not _ENVS_ROOT:
                _ENVS_ROOT.append(tempfile.mkdtemp(prefix="indexgate-buildenv-"))
                atexit.register(shutil.rmtree, _ENVS_ROOT[0], True)
            env = _ENVS[key] = _BuildEnv(Path(_ENVS_ROOT[0]) / f"env{len(_ENVS)}")
    with env.lock:
        if not env.python:
            env.python = _make_venv(env.folder)
            _install(env.python, requires, env.folder, pip_env)
            env.installed.update(requires)

    def add(extra: Sequence[str]) -> None:
        with env.lock:
            todo = [r for r in extra if r not in env.installed]
            _install(env.python, todo, env.folder, pip_env)
            env.installed.update(todo)

    yield env.python, add


def _make_venv(folder: Path) -> str:
    """A new virtual environment; without pip of its own when this process's pip can
    install into it."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "venv", str(folder)]
    if _host_pip():
        cmd.insert(3, "--without-pip")
    _run(cmd, cwd=folder.parent, env=None)
    return str(folder / ("Scripts" if os.name == "nt" else "bin") / "python")


@lru_cache(maxsize=1)
def _host_pip() -> bool:
    """Whether this interpreter's pip can install into another one (``--python``: 22.3)."""
    try:
        from importlib.metadata import version

        major, minor = (int(x) for x in version("pip").split(".")[:2])
    except (ImportError, ValueError):
        return False
    except Exception:  # PackageNotFoundError: no pip here
        return False
    return (major, minor) >= (22, 3)


def _install(python: str, requires: Sequence[str], cwd: Path, env: dict[str, str]) -> None:
    if not requires:
        return
    if _host_pip():
        cmd = [sys.executable, "-m", "pip", "--python", python, "install", "--quiet"]
    else:
        cmd = [python, "-m", "pip", "install", "--quiet"]
    _run([*cmd, *requires], cwd, env)


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    full_env.update(env or {})
    try:
        done = subprocess.run(
            cmd, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise MetadataError(f"building metadata timed out after {TIMEOUT} s") from None
    if done.returncode != 0:
        tail = redact((done.stderr or done.stdout).strip())[-500:]
        raise MetadataError(f"building metadata failed: {tail}")
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "[]"
