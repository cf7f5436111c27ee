"""pylock.toml and uv.lock: locked files, pins, markers, lines; lock files in load_sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.specifiers import SpecifierSet

from indexgate.errors import InputError, Origin
from indexgate.sources import load_sources
from indexgate.sources.locks import LockedFile, parse_pylock, parse_uv_lock

A, B, C = "a" * 64, "b" * 64, "c" * 64

PYLOCK = f"""\
lock-version = "1.0"
requires-python = ">=3.12"
created-by = "uv"

[[packages]]
name = "attrs"
version = "25.1.0"
index = "https://pypi.org/simple"
sdist = {{ url = "https://files.example/attrs-25.1.0.tar.gz", upload-time = 2025-01-25T11:30:12Z, size = 810562, hashes = {{ sha256 = "{A}" }} }}
wheels = [{{ url = "https://files.example/attrs-25.1.0-py3-none-any.whl", upload-time = 2025-01-25T11:30:10Z, size = 63152, hashes = {{ sha256 = "{B}" }} }}]

[[packages]]
name = "colorama"
version = "0.4.6"
marker = "sys_platform == 'win32'"
index = "https://pypi.org/simple"

[[packages.wheels]]
name = "colorama-0.4.6-py2.py3-none-any.whl"
url = "https://files.example/colorama-0.4.6-py2.py3-none-any.whl"
hashes = {{ sha256 = "{C}", sha512 = "{"D" * 128}" }}

[[packages]]
name = "pytest"
version = "8.0.0"
marker = "'dev' in dependency_groups"
wheels = [{{ url = "https://files.example/pytest-8.0.0-py3-none-any.whl", hashes = {{ sha256 = "{A}" }} }}]

[[packages]]
name = "my-project"
directory = {{ path = ".", editable = true }}
"""  # noqa: E501

UV_LOCK = f"""\
version = 1
revision = 3
requires-python = ">=3.11"
resolution-markers = [
    "python_full_version >= '3.12'",
    "python_full_version < '3.12'",
]

[[package]]
name = "colorama"
version = "0.4.6"
source = {{ registry = "https://pypi.org/simple" }}
sdist = {{ url = "https://files.example/colorama-0.4.6.tar.gz", hash = "sha256:{A}", size = 27697, upload-time = "2022-10-25T02:36:22.414Z" }}
wheels = [
    {{ url = "https://files.example/colorama-0.4.6-py2.py3-none-any.whl", hash = "sha256:{B}", size = 25335, upload-time = "2022-10-25T02:36:20.889Z" }},
]

[[package]]
name = "my-project"
version = "0.1.0"
source = {{ editable = "." }}
dependencies = [
    {{ name = "numpy", version = "2.2.0", source = {{ registry = "https://pypi.org/simple" }}, marker = "python_full_version >= '3.12'" }},
    {{ name = "numpy", version = "1.26.4", source = {{ registry = "https://pypi.org/simple" }}, marker = "python_full_version < '3.12'" }},
    {{ name = "tqdm" }},
]

[package.optional-dependencies]
git = [
    {{ name = "dulwich" }},
]

[[package]]
name = "numpy"
version = "1.26.4"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = [
    "python_full_version < '3.12'",
]
wheels = [
    {{ url = "https://files.example/numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl", hash = "sha256:{C}", size = 1, upload-time = "2024-02-05T23:00:00Z" }},
]

[[package]]
name = "numpy"
version = "2.2.0"
source = {{ registry = "https://pypi.org/simple" }}
resolution-markers = [
    "python_full_version >= '3.12'",
]
wheels = [
    {{ url = "https://files.example/numpy-2.2.0-cp312-cp312-win_amd64.whl", hash = "sha256:{A}", size = 2 }},
]

[[package]]
name = "tqdm"
version = "4.67.1"
source = {{ registry = "https://pypi.org/simple" }}
dependencies = [
    {{ name = "colorama", marker = "sys_platform == 'win32'" }},
]
wheels = [
    {{ url = "https://files.example/tqdm-4.67.1-py3-none-any.whl", hash = "sha256:{B}", size = 3 }},
]

[[package]]
name = "dulwich"
version = "0.22.0"
source = {{ registry = "https://internal.example/simple" }}
sdist = {{ url = "https://internal.example/files/dulwich-0.22.0.tar.gz", hash = "sha256:{C}" }}

[[package]]
name = "vendored"
version = "1.0"
source = {{ git = "https://github.com/example/vendored?rev=abc#abc" }}
"""  # noqa: E501


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def pylock(tmp_path: Path, text: str = PYLOCK):
    return parse_pylock(write(tmp_path / "pylock.toml", text), display="pylock.toml")


def uv_lock(tmp_path: Path, text: str = UV_LOCK):
    return parse_uv_lock(write(tmp_path / "uv.lock", text), display="uv.lock")


def test_pylock_packages_files_and_lines(tmp_path: Path) -> None:
    result = pylock(tmp_path)
    assert result.files == ["pylock.toml"]
    assert result.requires_python == SpecifierSet(">=3.12")
    attrs, colorama, pytest_ = result.locked
    assert (attrs.name, attrs.version, attrs.origin) == (
        "attrs",
        "25.1.0",
        Origin("pylock.toml", 6),
    )
    assert attrs.index == "https://pypi.org/simple"
    assert attrs.files == (
        LockedFile(
            filename="attrs-25.1.0.tar.gz",
            url="https://files.example/attrs-25.1.0.tar.gz",
            hashes={"sha256": A},
            size=810562,
            upload_time="2025-01-25T11:30:12+00:00",
        ),
        LockedFile(
            filename="attrs-25.1.0-py3-none-any.whl",
            url="https://files.example/attrs-25.1.0-py3-none-any.whl",
            hashes={"sha256": B},
            size=63152,
            upload_time="2025-01-25T11:30:10+00:00",
        ),
    )
    assert colorama.origin.line == 13
    assert colorama.marker == Marker("sys_platform == 'win32'")
    assert colorama.files[0].hashes == {"sha256": C, "sha512": "d" * 128}
    assert pytest_.index is None and pytest_.origin.line == 24


def test_pylock_skips_non_index_packages(tmp_path: Path) -> None:
    names = [p.name for p in pylock(tmp_path).locked]
    assert "my-project" not in names


def test_pylock_requirements_are_pins_with_hashes_and_markers(tmp_path: Path) -> None:
    result = pylock(tmp_path)
    pins = {str(r.requirement): r for r in result.requirements}
    assert set(pins) == {
        "attrs==25.1.0",
        'colorama==0.4.6; sys_platform == "win32"',
        "pytest==8.0.0",
    }
    assert pins["attrs==25.1.0"].hashes == (f"sha256:{A}", f"sha256:{B}")
    assert pins["attrs==25.1.0"].origin == Origin("pylock.toml", 6)
    assert not any(r.constraint for r in result.requirements)
    # A lock-only marker ('dev' in dependency_groups) cannot be a requirement marker.
    assert pins["pytest==8.0.0"].requirement.marker is None


def test_pylock_wrong_lock_version(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        pylock(tmp_path, 'created-by = "x"\nlock-version = "2.0"\n')
    assert (info.value.file, info.value.line) == ("pylock.toml", 2)
    assert "unsupported lock-version" in str(info.value)


def test_pylock_package_without_version(tmp_path: Path) -> None:
    text = 'lock-version = "1.0"\n[[packages]]\nname = "x"\nwheels = []\n'
    with pytest.raises(InputError) as info:
        pylock(tmp_path, text)
    assert info.value.line == 3 and "has no version" in str(info.value)


def test_pylock_bad_marker(tmp_path: Path) -> None:
    text = 'lock-version = "1.0"\n[[packages]]\nname = "x"\nversion = "1"\nmarker = "os =="\n'
    with pytest.raises(InputError) as info:
        pylock(tmp_path, text)
    assert info.value.line == 3 and "invalid marker" in str(info.value)


def test_pylock_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        pylock(tmp_path, 'lock-version = "1.0"\n[[packages]]\nname = \n')
    assert (info.value.file, info.value.line) == ("pylock.toml", 3)
    assert "invalid TOML" in str(info.value)


def test_uv_lock_registry_packages_and_files(tmp_path: Path) -> None:
    result = uv_lock(tmp_path)
    assert result.files == ["uv.lock"]
    assert result.requires_python == SpecifierSet(">=3.11")
    assert [(p.name, p.version, p.origin.line) for p in result.locked] == [
        ("colorama", "0.4.6", 10),
        ("numpy", "1.26.4", 34),
        ("numpy", "2.2.0", 45),
        ("tqdm", "4.67.1", 56),
        ("dulwich", "0.22.0", 67),
    ]
    colorama = result.locked[0]
    assert colorama.index == "https://pypi.org/simple"
    assert colorama.files == (
        LockedFile(
            filename="colorama-0.4.6.tar.gz",
            url="https://files.example/colorama-0.4.6.tar.gz",
            hashes={"sha256": A},
            size=27697,
            upload_time="2022-10-25T02:36:22.414Z",
        ),
        LockedFile(
            filename="colorama-0.4.6-py2.py3-none-any.whl",
            url="https://files.example/colorama-0.4.6-py2.py3-none-any.whl",
            hashes={"sha256": B},
            size=25335,
            upload_time="2022-10-25T02:36:20.889Z",
        ),
    )
    assert result.locked[4].index == "https://internal.example/simple"


def test_uv_lock_markers_follow_the_dependency_graph(tmp_path: Path) -> None:
    result = uv_lock(tmp_path)
    markers = {(p.name, p.version): p.marker for p in result.locked}
    env_311_linux = {"python_full_version": "3.11.4", "sys_platform": "linux"}
    env_312_win = {"python_full_version": "3.12.1", "sys_platform": "win32"}

    def applies(key: tuple[str, str], env: dict[str, str]) -> bool:
        marker = markers[key]
        return marker is None or marker.evaluate(env)

    assert applies(("numpy", "1.26.4"), env_311_linux)
    assert not applies(("numpy", "1.26.4"), env_312_win)
    assert applies(("numpy", "2.2.0"), env_312_win)
    assert not applies(("numpy", "2.2.0"), env_311_linux)
    assert not applies(("colorama", "0.4.6"), env_311_linux)
    assert applies(("colorama", "0.4.6"), env_312_win)
    assert markers[("tqdm", "4.67.1")] is None
    assert markers[("dulwich", "0.22.0")] is None  # reached through an optional dependency


def test_uv_lock_requirements_are_pins(tmp_path: Path) -> None:
    result = uv_lock(tmp_path)
    tqdm = next(r for r in result.requirements if r.name == "tqdm")
    assert str(tqdm.requirement) == "tqdm==4.67.1"
    assert tqdm.hashes == (f"sha256:{B}",)
    assert tqdm.origin == Origin("uv.lock", 56)
    numpy = [r for r in result.requirements if r.name == "numpy"]
    assert [str(r.requirement.marker) for r in numpy] == [
        'python_full_version < "3.12"',
        'python_full_version >= "3.12"',
    ]


def test_uv_lock_without_project_root_keeps_fork_markers_only(tmp_path: Path) -> None:
    text = (
        'version = 1\n[[package]]\nname = "x"\nversion = "1"\n'
        'source = { registry = "https://i.example/simple" }\n'
        "resolution-markers = [\"sys_platform == 'linux'\"]\n"
    )
    (locked,) = uv_lock(tmp_path, text).locked
    assert locked.marker == Marker("sys_platform == 'linux'")


def test_uv_lock_unsupported_version(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        uv_lock(tmp_path, "\nversion = 2\n")
    assert (info.value.file, info.value.line) == ("uv.lock", 2)
    assert "unsupported uv.lock version" in str(info.value)


def test_uv_lock_bad_hash(tmp_path: Path) -> None:
    text = (
        'version = 1\n\n[[package]]\nname = "x"\nversion = "1"\n'
        'source = { registry = "https://i.example/simple" }\n'
        'wheels = [{ url = "https://f.example/x-1-py3-none-any.whl", hash = "deadbeef" }]\n'
    )
    with pytest.raises(InputError) as info:
        uv_lock(tmp_path, text)
    assert info.value.line == 4 and "is not algorithm:hex" in str(info.value)


def test_uv_lock_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        uv_lock(tmp_path, "version = 1\n[[package]\n")
    assert (info.value.file, info.value.line) == ("uv.lock", 2)


def test_lock_files_need_drift(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", UV_LOCK)
    with pytest.raises(InputError) as info:
        load_sources(["uv.lock"], cwd=tmp_path, allow_locks=False)
    assert info.value.file == "uv.lock" and "indexgate drift" in str(info.value)


def test_lock_files_load_for_drift(tmp_path: Path) -> None:
    write(tmp_path / "uv.lock", UV_LOCK)
    write(tmp_path / "pylock.dev.toml", PYLOCK)
    result = load_sources(["uv.lock", "pylock.dev.toml"], cwd=tmp_path, allow_locks=True)
    assert result.files == ["uv.lock", "pylock.dev.toml"]
    assert len(result.locked) == 8
    assert result.requires_python == SpecifierSet(">=3.11")  # the first source's wins


def test_vcs_and_remote_archive_packages_are_direct_references(tmp_path) -> None:
    from indexgate.sources.locks import parse_pylock

    text = (
        'lock-version = "1.0"\ncreated-by = "uv"\n\n'
        '[[packages]]\nname = "tool"\nvcs = { type = "git", url = "https://t:s3cret@git.example.com/tool",'
        ' commit-id = "abc" }\n\n'
        '[[packages]]\nname = "arch"\nmarker = "python_version < \'3.12\'"\n'
        'archive = { url = "https://files.example.com/arch-1.0.tar.gz" }\n\n'
        '[[packages]]\nname = "app"\ndirectory = { path = "." }\n'
    )
    path = tmp_path / "pylock.toml"
    path.write_text(text)
    result = parse_pylock(path, display="pylock.toml")
    assert result.locked == [] and result.requirements == []
    assert [(d.kind, d.name, d.shown, str(d.marker)) for d in result.direct] == [
        ("vcs", "tool", "git+https://git.example.com/tool@abc", "None"),
        ("url", "arch", "https://files.example.com/arch-1.0.tar.gz", 'python_version < "3.12"'),
    ]
