"""What a reused outcome is keyed by (``indexgate.resolver.reuse.inputs_key``): every input
that can change a resolution changes the key; how fast a run goes does not; credentials
enter it only through a slow salted hash."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from packaging.requirements import Requirement

from indexgate.errors import Origin
from indexgate.policy import Fallback, Strategy
from indexgate.resolver.reuse import _canon, _credential_hash, inputs_key
from indexgate.settings import IndexConfig, Settings
from indexgate.sources.locations import LocalProject
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.targets import make_target

URL = "https://nexus.example/repository/pypi/simple/"


def _settings(**changes: object) -> Settings:
    base = Settings(
        indexes=(IndexConfig("internal", URL, username="ci", password="token-1"),),
        targets=(make_target("3.12", "linux_x86_64"),),
    )
    return dataclasses.replace(base, **changes)


def _sources(*lines: str) -> SourceSet:
    return SourceSet(
        requirements=[
            SourceRequirement(Requirement(text), Origin("requirements.txt", n))
            for n, text in enumerate(lines or ("flask>=3",), 1)
        ]
    )


def test_the_same_inputs_give_the_same_key() -> None:
    assert inputs_key(_settings(), _sources()) == inputs_key(_settings(), _sources())


def test_every_input_of_a_resolution_changes_the_key() -> None:
    base = inputs_key(_settings(), _sources())
    other_index = IndexConfig("internal", URL, username="ci", password="token-1", explicit=True)
    changed = [
        inputs_key(_settings(), _sources("flask>=3.1")),
        inputs_key(_settings(), _sources("requests", "flask>=3")),  # another line number
        inputs_key(_settings(pre=True), _sources()),
        inputs_key(_settings(strategy=Strategy.UNSAFE_BEST_MATCH), _sources()),
        inputs_key(_settings(fallback=Fallback.NEXT_DISTRIBUTION), _sources()),
        inputs_key(_settings(only_binary=frozenset({":all:"})), _sources()),
        inputs_key(_settings(fail_on=frozenset({"blocked"})), _sources()),
        inputs_key(_settings(sources={"flask": "internal"}), _sources()),  # type: ignore[dict-item]
        inputs_key(_settings(targets=(make_target("3.11", "linux_x86_64"),)), _sources()),
        inputs_key(_settings(indexes=(other_index,)), _sources()),
    ]
    assert None not in changed
    assert len({base, *changed}) == len(changed) + 1


def test_speed_settings_do_not_change_the_key() -> None:
    base = inputs_key(_settings(), _sources())
    assert inputs_key(_settings(concurrency=7, timeout=5.0, cache_dir=Path("/x")), _sources()) == (
        base
    )


def test_other_credentials_change_the_key_and_never_appear_in_what_is_hashed() -> None:
    rotated = IndexConfig("internal", URL, username="ci", password="token-2")
    assert inputs_key(_settings(indexes=(rotated,)), _sources()) != inputs_key(
        _settings(), _sources()
    )
    assert "token-1" not in json.dumps(_canon(_settings()))
    assert "token-1" not in _credential_hash(_settings().indexes[0])  # type: ignore[operator]


def test_runs_that_cannot_be_reused_have_no_key() -> None:
    flat = IndexConfig("folder", "file:///wheels/", format="flat")
    assert inputs_key(_settings(allow_build=True), _sources()) is None
    assert inputs_key(_settings(indexes=(flat,)), _sources()) is None
    tokens = IndexConfig("internal", URL, password_command="gcloud auth print-access-token")
    assert inputs_key(_settings(indexes=(tokens,)), _sources()) is None
    local = _sources()
    local.local_projects.append(LocalProject(Path("lib"), "./lib", Origin("requirements.txt", 2)))
    assert inputs_key(_settings(), local) is None  # read from disk, not from the pages


def test_the_code_fingerprint_names_each_source_file_as_a_sorted_walk_does(
    tmp_path: Path,
) -> None:
    """A changed install must never reuse an outcome the old code produced: every ``.py``
    file by its path, size and mtime, this folder's files before its subfolders', sorted,
    with no ``__pycache__`` and nothing else."""
    from indexgate.resolver.reuse import _fingerprint_folder

    for rel, text in [
        ("b.py", "bb"),
        ("a.py", "a"),
        ("notes.txt", "x"),
        ("z/inner.py", "i"),
        ("m/deep/d.py", "dd"),
        ("__pycache__/a.cpython-311.py", "c"),
    ]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)

    def row(rel: str) -> str:
        st = (tmp_path / rel).stat()
        return f"{rel}:{st.st_size}:{st.st_mtime_ns}"

    parts: list[str] = []
    _fingerprint_folder(str(tmp_path), "", parts)
    assert parts == [row(r) for r in ("a.py", "b.py", "m/deep/d.py", "z/inner.py")]

    (tmp_path / "m/deep/d.py").write_text("changed")
    again: list[str] = []
    _fingerprint_folder(str(tmp_path), "", again)
    assert again != parts and again[2] == row("m/deep/d.py")
