"""pyproject.toml / uv.toml reading, and source discovery in load_sources."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from indexgate.errors import InputError, Origin
from indexgate.sources import load_sources, source_kind
from indexgate.sources.pyproject import parse_pyproject
from indexgate.sources.uv_settings import UvIndex, parse_uv_toml

PYPROJECT = """\
[build-system]
requires = ["setuptools"]

[project]
name = "My_Project"
version = "1.0"
requires-python = ">=3.10"
dependencies = [
    "requests>=2",
    'click; python_version < "3.13"',
]

[project.optional-dependencies]
Socks = ["pysocks"]
test = [
    "pytest",
    "requests>=2",
]
all = ["my-project[socks,test]"]

[dependency-groups]
lint = ["ruff"]
Dev = [
    {include-group = "lint"},
    "mypy",
]
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parse(tmp_path: Path, text: str = PYPROJECT, **kwargs):
    kwargs.setdefault("extras", ())
    kwargs.setdefault("all_extras", False)
    kwargs.setdefault("groups", ())
    path = write(tmp_path / "pyproject.toml", text)
    return parse_pyproject(path, display="pyproject.toml", **kwargs)


def error(tmp_path: Path, text: str = PYPROJECT, **kwargs) -> InputError:
    with pytest.raises(InputError) as info:
        parse(tmp_path, text, **kwargs)
    return info.value


def listed(result) -> list[tuple[str, int | None]]:
    return [(str(r.requirement), r.origin.line) for r in result.requirements]


def test_dependencies_with_lines_and_requires_python(tmp_path: Path) -> None:
    result = parse(tmp_path)
    assert listed(result) == [("requests>=2", 9), ('click; python_version < "3.13"', 10)]
    assert result.requirements[0].origin.file == "pyproject.toml"
    assert result.requires_python == SpecifierSet(">=3.10")
    assert result.files == ["pyproject.toml"]


def test_named_extra_is_matched_normalized(tmp_path: Path) -> None:
    result = parse(tmp_path, extras=["socks"])
    assert listed(result)[2:] == [("pysocks", 14)]


def test_repeated_string_gets_its_own_line(tmp_path: Path) -> None:
    result = parse(tmp_path, extras=["test"])
    assert listed(result)[2:] == [("pytest", 16), ("requests>=2", 17)]


def test_all_extras_expands_self_reference(tmp_path: Path) -> None:
    result = parse(tmp_path, all_extras=True)
    names = [r.name for r in result.requirements]
    assert "my-project" not in names
    assert sorted(set(names)) == ["click", "pysocks", "pytest", "requests"]


def test_self_reference_extra_marker_is_combined(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "p"\ndependencies = []\n'
        "[project.optional-dependencies]\n"
        'a = ["x"]\n'
        "b = ['p[a]; sys_platform == \"linux\"']\n"
    )
    result = parse(tmp_path, text, extras=["b"])
    assert listed(result) == [('x; sys_platform == "linux"', 5)]


def test_unknown_extra_is_an_error(tmp_path: Path) -> None:
    err = error(tmp_path, extras=["nope"])
    assert err.file == "pyproject.toml"
    assert "unknown extra 'nope'" in str(err) and "Socks" in str(err)


def test_groups_with_include_group(tmp_path: Path) -> None:
    result = parse(tmp_path, groups=["dev"])
    assert listed(result)[2:] == [("ruff", 22), ("mypy", 25)]


def test_unknown_group_is_an_error(tmp_path: Path) -> None:
    err = error(tmp_path, groups=["docs"])
    assert err.file == "pyproject.toml" and "unknown dependency group 'docs'" in str(err)


def test_include_of_unknown_group_points_at_its_line(tmp_path: Path) -> None:
    text = '[dependency-groups]\ndev = [\n  "a",\n  {include-group = "missing"},\n]\n'
    err = error(tmp_path, text, groups=["dev"])
    assert (err.file, err.line) == ("pyproject.toml", 4)
    assert "includes unknown dependency group 'missing'" in str(err)


def test_group_cycle_is_an_error(tmp_path: Path) -> None:
    text = '[dependency-groups]\na = [{include-group = "B"}]\nb = ["x", {include-group = "a"}]\n'
    err = error(tmp_path, text, groups=["a"])
    assert (err.file, err.line) == ("pyproject.toml", 3)
    assert "dependency group cycle: a -> b -> a" in str(err)


def test_group_names_colliding_after_normalization(tmp_path: Path) -> None:
    err = error(tmp_path, "[dependency-groups]\nfoo_bar = []\nFoo-Bar = []\n", groups=["foo-bar"])
    assert err.line == 3 and "same normalized name" in str(err)


def test_groups_without_project_table(tmp_path: Path) -> None:
    result = parse(tmp_path, '[dependency-groups]\nci = ["tox"]\n', groups=["ci"])
    assert listed(result) == [("tox", 2)]
    assert result.requires_python is None


def test_invalid_requirement_points_at_its_line(tmp_path: Path) -> None:
    text = '[project]\nname = "p"\ndependencies = [\n  "ok",\n  "bad ==",\n]\n'
    err = error(tmp_path, text)
    assert (err.file, err.line) == ("pyproject.toml", 5)
    assert "invalid requirement 'bad =='" in str(err)


def test_direct_url_and_vcs_dependencies_are_read_as_direct_references(tmp_path: Path) -> None:
    text = (
        '[project]\nname = "p"\ndependencies = [\n  "ok",\n  "x @ https://e.example/x.whl",\n'
        '  "y @ git+https://e.example/y.git",\n]\n'
    )
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    result = parse_pyproject(path, display="pyproject.toml")
    assert [r.name for r in result.requirements] == ["ok"]
    assert [(d.kind, d.name, d.origin.line) for d in result.direct] == [
        ("url", "x", 5),
        ("vcs", "y", 6),
    ]


def test_uv_sources_path_workspace_git_and_url_are_locations(tmp_path: Path) -> None:
    (tmp_path / "libs" / "core").mkdir(parents=True)
    (tmp_path / "libs" / "core" / "pyproject.toml").write_text('[project]\nname = "Core"\n')
    (tmp_path / "vendored").mkdir()
    text = """\
[project]
name = "app"
dependencies = ["core", "vend", "tool", "wheelie", "requests"]

[tool.uv.sources]
core = { workspace = true }
vend = { path = "vendored", editable = true }
tool = { git = "https://e.example/tool", tag = "v1" }
wheelie = { url = "https://e.example/wheelie-1.0-py3-none-any.whl" }
requests = { index = "internal" }

[tool.uv.workspace]
members = ["libs/*"]
"""
    path = tmp_path / "pyproject.toml"
    path.write_text(text)
    result = parse_pyproject(path, display="pyproject.toml")
    assert [r.name for r in result.requirements] == ["requests"]
    assert result.uv_sources == {"requests": "internal"}
    assert [p.path for p in result.local_projects] == [
        (tmp_path / "libs" / "core").resolve(),
        (tmp_path / "vendored").resolve(),
    ]
    assert [(d.kind, d.name, d.shown) for d in result.direct] == [
        ("vcs", "tool", "git+https://e.example/tool@v1"),
        ("url", "wheelie", "https://e.example/wheelie-1.0-py3-none-any.whl"),
    ]


def test_a_workspace_source_without_its_member_names_the_line(tmp_path: Path) -> None:
    text = '[project]\nname = "a"\ndependencies = ["b"]\n\n'
    text += "[tool.uv.sources]\nb = { workspace = true }\n"
    err = error(tmp_path, text)
    assert err.line == 6 and "no member of [tool.uv.workspace]" in str(err)


def test_non_string_dependency_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\ndependencies = [1]\n')
    assert err.line == 3 and "expected a requirement string" in str(err)


def test_dynamic_dependencies_are_refused(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\ndynamic = ["dependencies"]\n')
    assert err.line == 3 and "dynamic" in str(err)


def test_invalid_requires_python(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\n\nrequires-python = ">=3.x"\n')
    assert err.line == 4 and "invalid requires-python" in str(err)


def test_malformed_toml_reports_tomllib_line(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\ndependencies = [\n  "a"\n  "b",\n]\n')
    assert (err.file, err.line) == ("pyproject.toml", 5)
    assert str(err).startswith("pyproject.toml:5: invalid TOML: ")
    assert "(at line" not in str(err)


def test_truncated_toml_reports_last_line(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\ndependencies = [\n')
    assert err.line == 3 and "invalid TOML" in str(err)


def test_uv_indexes_and_sources(tmp_path: Path) -> None:
    text = """\
[project]
name = "p"
dependencies = ["acme-core"]

[[tool.uv.index]]
name = "internal"
url = "https://nexus.example/simple/"
explicit = true
ignore-error-codes = [403]

[[tool.uv.index]]
name = "wheels"
url = "https://files.example/wheels/"
format = "flat"
default = true

[tool.uv.sources]
Acme_Core = { index = "internal" }
local = { path = "../local" }
multi = [{ index = "wheels", marker = "sys_platform == 'linux'" }]
"""
    result = parse(tmp_path, text)
    assert result.uv_indexes == [
        UvIndex(
            url="https://nexus.example/simple/",
            origin=Origin("pyproject.toml", 5),
            name="internal",
            explicit=True,
            ignore_error_codes=(403,),
        ),
        UvIndex(
            url="https://files.example/wheels/",
            origin=Origin("pyproject.toml", 11),
            name="wheels",
            default=True,
            format="flat",
        ),
    ]
    assert result.uv_sources == {"acme-core": "internal", "multi": "wheels"}


def test_uv_index_without_url(tmp_path: Path) -> None:
    err = error(tmp_path, '[project]\nname = "p"\n\n[[tool.uv.index]]\nname = "x"\n')
    assert err.line == 4 and "has no 'url'" in str(err)


def test_uv_index_bad_format(tmp_path: Path) -> None:
    err = error(tmp_path, '[[tool.uv.index]]\nurl = "https://x"\nformat = "pep691"\n')
    assert err.line == 1 and "'format'" in str(err)


def test_uv_index_bad_error_codes(tmp_path: Path) -> None:
    err = error(tmp_path, '[[tool.uv.index]]\nurl = "https://x"\nignore-error-codes = ["403"]\n')
    assert err.line == 1 and "ignore-error-codes" in str(err)


def test_uv_toml_indexes_and_pip_style_settings(tmp_path: Path) -> None:
    path = write(
        tmp_path / "uv.toml",
        'index-url = "https://default.example/simple"\n'
        'extra-index-url = ["https://extra.example/simple"]\n'
        "\n[[index]]\n"
        'name = "corp"\nurl = "https://corp.example/simple"\n',
    )
    indexes = parse_uv_toml(path, display="uv.toml")
    assert [(i.name, i.url, i.default, i.origin.line) for i in indexes] == [
        ("corp", "https://corp.example/simple", False, 4),
        (None, "https://extra.example/simple", False, 2),
        (None, "https://default.example/simple", True, 1),
    ]


def test_uv_toml_bad_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "uv.toml", "[[index]\n")
    with pytest.raises(InputError) as info:
        parse_uv_toml(path, display="uv.toml")
    assert (info.value.file, info.value.line) == ("uv.toml", 1)


# --- load_sources: dispatch, discovery, merging ---------------------------------------


def test_source_kind_by_file_name() -> None:
    assert source_kind("sub/pyproject.toml") == "pyproject"
    assert source_kind("uv.lock") == "uv-lock"
    assert source_kind("pylock.toml") == "pylock"
    assert source_kind("pylock.spam.toml") == "pylock"
    assert source_kind("pylock.a.b.toml") == "requirements"
    assert source_kind("requirements-dev.txt") == "requirements"


def test_discovery_prefers_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "requirements.txt", "other\n")
    result = load_sources([], cwd=tmp_path, allow_locks=False)
    assert result.files == ["pyproject.toml"]
    assert result.requirements[0].name == "requests"


def test_discovery_skips_tool_only_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[tool.ruff]\nline-length = 100\n")
    write(tmp_path / "requirements.txt", "flask\n")
    result = load_sources([], cwd=tmp_path, allow_locks=False)
    assert [r.name for r in result.requirements] == ["flask"]
    assert result.files == ["requirements.txt", "pyproject.toml"]


def test_discovery_finds_nothing(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_sources([], cwd=tmp_path, allow_locks=False)
    assert f"no requirement source found in {tmp_path}" in str(info.value)


def test_missing_source_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        load_sources(["reqs/nope.txt"], cwd=tmp_path, allow_locks=False)
    assert info.value.file == "reqs/nope.txt" and "file not found" in str(info.value)


def test_extras_without_pyproject(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "flask\n")
    with pytest.raises(InputError) as info:
        load_sources(["requirements.txt"], cwd=tmp_path, groups=["dev"], allow_locks=False)
    assert "need a pyproject.toml" in str(info.value)


def test_sources_merge_in_order(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", PYPROJECT)
    write(tmp_path / "sub" / "requirements.txt", "-c c.txt\n-i https://idx.example/simple\nx\n")
    write(tmp_path / "sub" / "c.txt", "x<2\n")
    result = load_sources(
        ["./sub/requirements.txt", "pyproject.toml"],
        cwd=tmp_path,
        extras=["socks"],
        allow_locks=False,
    )
    assert [str(r.origin) for r in result.requirements] == [
        "sub/requirements.txt:3",
        "pyproject.toml:9",
        "pyproject.toml:10",
        "pyproject.toml:14",
    ]
    assert [str(r.origin) for r in result.constraints] == ["sub/c.txt:1"]
    assert [h.url for h in result.index_hints] == ["https://idx.example/simple"]
    assert result.requires_python == SpecifierSet(">=3.10")
    assert result.files == ["sub/requirements.txt", "sub/c.txt", "pyproject.toml"]


def test_cwd_uv_config_is_read_for_any_source(tmp_path: Path) -> None:
    write(tmp_path / "requirements.txt", "acme\n")
    write(tmp_path / "uv.toml", '[[index]]\nname = "a"\nurl = "https://a.example/simple"\n')
    write(
        tmp_path / "pyproject.toml",
        '[[tool.uv.index]]\nname = "b"\nurl = "https://b.example/simple"\n'
        '[tool.uv.sources]\nacme = { index = "b" }\n',
    )
    result = load_sources(["requirements.txt"], cwd=tmp_path, allow_locks=False)
    assert [(i.name, str(i.origin)) for i in result.uv_indexes] == [
        ("a", "uv.toml:1"),
        ("b", "pyproject.toml:1"),
    ]
    assert result.uv_sources == {"acme": "b"}
    assert not [r for r in result.requirements if r.origin.file == "pyproject.toml"]
