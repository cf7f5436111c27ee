"""uv's index setup and sources: ``[tool.uv]`` of a pyproject.toml and a uv.toml.

Owns ``[[index]]`` with the pip-style ``index-url`` / ``extra-index-url`` / ``find-links``
uv ranks below it, ``[tool.uv.sources]`` (index pins, and the ``path`` / ``workspace`` /
``git`` / ``url`` locations that take a requirement off the indexes) and workspace members.
PEP 621 and PEP 735 reading is ``pyproject.py``'s.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import InputError, Origin
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.sources.toml_text import TomlText, file_line, load_toml, toml_list, toml_table


@dataclass(frozen=True)
class UvIndex:
    """One ``[[tool.uv.index]]`` / uv.toml ``[[index]]`` entry, as written."""

    url: str
    origin: Origin
    name: str | None = None
    default: bool = False
    explicit: bool = False
    format: Literal["simple", "flat"] = "simple"
    ignore_error_codes: tuple[int, ...] | None = None


def uv_table(data: dict[str, Any], toml: TomlText) -> dict[str, Any]:
    """The ``[tool.uv]`` table of a pyproject.toml (empty when absent)."""
    tool = toml_table(data, "tool", "[tool]", toml)
    uv = tool.get("uv", {})
    if not isinstance(uv, dict):
        raise InputError("[tool.uv] must be a table", toml.display, toml.line_of(toml.key("uv", 0)))
    return uv


def split_locations(out: SourceSet, uv: dict[str, Any], toml: TomlText, folder: Path) -> None:
    """Requirements that name a location, not an index project: ``name @ url`` (PEP 508),
    and names ``[tool.uv.sources]`` gives a ``path``, ``workspace``, ``git`` or ``url``
    source. Local projects are read for their own dependencies; the others are
    ``not-from-index`` (``projects.py``)."""
    from indexgate.sources.locations import LocalProject, classify

    located = _uv_locations(uv, toml, folder)
    kept: list[SourceRequirement] = []
    for entry in out.requirements:
        requirement = entry.requirement
        url = requirement.url or located.get(entry.name)
        if url is None:
            kept.append(entry)
            continue
        where = classify(
            url,
            entry.origin,
            name=requirement.name,
            extras=frozenset(canonicalize_name(e) for e in requirement.extras),
            marker=requirement.marker,
            editable=False,
            base=folder,
            cwd=folder,
        )
        if isinstance(where, LocalProject):
            out.local_projects.append(where)
        else:
            out.direct.append(where)
    out.requirements[:] = kept


def _uv_locations(uv: dict[str, Any], toml: TomlText, folder: Path) -> dict[NormalizedName, str]:
    """``[tool.uv.sources]`` entries that are not index pins, as locations ``classify``
    reads: ``path`` (a folder or archive), ``workspace = true`` (the member of that name),
    ``git`` (with ``rev``/``tag``/``branch``) and ``url``."""
    sources = uv.get("sources", {})
    if not isinstance(sources, dict):
        return {}
    out: dict[NormalizedName, str] = {}
    members: dict[NormalizedName, Path] | None = None
    for package, spec in sources.items():
        option = spec[0] if isinstance(spec, list) and spec else spec
        if not isinstance(option, dict) or isinstance(option.get("index"), str):
            continue
        name = canonicalize_name(package)
        if isinstance(option.get("path"), str):
            out[name] = str(folder / option["path"])
        elif option.get("workspace") is True:
            members = _workspace_members(uv, folder) if members is None else members
            if name not in members:
                at = toml.origin(toml.key(package, toml.header("tool.uv.sources")))
                raise InputError(
                    f"[tool.uv.sources] {package} = {{ workspace = true }}, but no member of "
                    "[tool.uv.workspace] is named so",
                    *file_line(at),
                )
            out[name] = str(members[name])
        elif isinstance(option.get("git"), str):
            ref = next((option[k] for k in ("rev", "tag", "branch") if option.get(k)), None)
            git = option["git"]
            out[name] = f"git+{git}" + (f"@{ref}" if ref else "")
        elif isinstance(option.get("url"), str):
            out[name] = option["url"]
    return out


def _workspace_members(uv: dict[str, Any], folder: Path) -> dict[NormalizedName, Path]:
    """The folders ``[tool.uv.workspace] members`` globs name, by their project names."""
    workspace = uv.get("workspace", {})
    globs = workspace.get("members", []) if isinstance(workspace, dict) else []
    excluded = workspace.get("exclude", []) if isinstance(workspace, dict) else []
    skip = {p.resolve() for g in excluded if isinstance(g, str) for p in folder.glob(g)}
    out: dict[NormalizedName, Path] = {}
    for pattern in globs if isinstance(globs, list) else []:
        if not isinstance(pattern, str):
            continue
        for member in sorted(folder.glob(pattern)):
            if member.resolve() in skip or not (member / "pyproject.toml").is_file():
                continue
            try:
                data = tomllib.loads((member / "pyproject.toml").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            name = data.get("project", {}).get("name")
            if isinstance(name, str):
                out.setdefault(canonicalize_name(name), member.resolve())
    return out


def uv_indexes(settings: dict[str, Any], toml: TomlText, prefix: str) -> list[UvIndex]:
    """``[[index]]`` entries, then the pip-style settings uv ranks below them.

    ``prefix`` is ``"tool.uv"`` for pyproject.toml and ``""`` for uv.toml. As uv does,
    ``extra-index-url`` and ``find-links`` rank below ``[[index]]`` and ``index-url``
    becomes the default (lowest) index.
    """
    table = f"{prefix}.index" if prefix else "index"
    headers = toml.headers(table, array=True)
    entries = settings.get("index", [])
    out: list[UvIndex] = []
    for number, entry in enumerate(toml_list(entries, f"[[{table}]]", toml.origin(None))):
        header = headers[number] if number < len(headers) else None
        url = entry.get("url") if isinstance(entry, dict) else None
        at = header if header is not None else toml.string(str(url), 0)
        out.append(_uv_index(entry, toml.origin(at), table))
    base = toml.header(prefix) if prefix else 0
    pip_style: tuple[tuple[str, Literal["simple", "flat"]], ...] = (
        ("extra-index-url", "simple"),
        ("find-links", "flat"),
    )
    for key, kind in pip_style:
        values = settings.get(key, [])
        origin = toml.origin(toml.key(key, base))
        for url in toml_list(values, key, origin):
            if not isinstance(url, str):
                raise InputError(f"{key}: expected URL strings", *file_line(origin))
            out.append(UvIndex(url=url, origin=origin, format=kind))
    default = settings.get("index-url")
    if default is not None:
        origin = toml.origin(toml.key("index-url", base))
        if not isinstance(default, str):
            raise InputError("index-url must be a URL string", *file_line(origin))
        out.append(UvIndex(url=default, origin=origin, default=True))
    return out


def _uv_index(entry: Any, origin: Origin, table: str) -> UvIndex:
    if not isinstance(entry, dict):
        raise InputError(f"[[{table}]] entries must be tables", *file_line(origin))
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise InputError(f"[[{table}]] entry has no 'url'", *file_line(origin))
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(f"[[{table}]] 'name' must be a string", *file_line(origin))
    flags = {key: entry.get(key, False) for key in ("default", "explicit")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise InputError(f"[[{table}]] '{key}' must be true or false", *file_line(origin))
    fmt = entry.get("format", "simple")
    if fmt not in ("simple", "flat"):
        raise InputError(f'[[{table}]] \'format\' must be "simple" or "flat"', *file_line(origin))
    codes = entry.get("ignore-error-codes")
    if codes is not None and not (
        isinstance(codes, list)
        and all(isinstance(c, int) and not isinstance(c, bool) for c in codes)
    ):
        raise InputError(
            f"[[{table}]] 'ignore-error-codes' must be a list of integers", *file_line(origin)
        )
    return UvIndex(
        url=url,
        origin=origin,
        name=name,
        default=flags["default"],
        explicit=flags["explicit"],
        format=fmt,
        ignore_error_codes=tuple(codes) if codes is not None else None,
    )


def uv_pins(uv: dict[str, Any], toml: TomlText) -> dict[NormalizedName, str]:
    """``pkg = { index = "name" }`` pins; git/path/url/workspace sources are not index pins."""
    sources = uv.get("sources", {})
    if not isinstance(sources, dict):
        at = toml.key("sources", toml.header("tool.uv"))
        raise InputError("[tool.uv.sources] must be a table", *file_line(toml.origin(at)))
    out: dict[NormalizedName, str] = {}
    for package, spec in sources.items():
        for option in spec if isinstance(spec, list) else [spec]:
            index = option.get("index") if isinstance(option, dict) else None
            if isinstance(index, str):
                out[canonicalize_name(package)] = index
                break
    return out


def parse_uv_toml(path: Path, *, display: str | None = None) -> list[UvIndex]:
    """The indexes a uv.toml configures (``[[index]]``, then index-url & co. as uv ranks them)."""
    display = display or str(path)
    data, toml = load_toml(path, display)
    return uv_indexes(data, toml, "")


def read_uv_settings(path: Path, *, display: str | None = None) -> SourceSet:
    """Only the ``[tool.uv]`` index setup of a pyproject.toml that is not itself a source."""
    display = display or str(path)
    data, toml = load_toml(path, display)
    uv = uv_table(data, toml)
    return SourceSet(
        uv_indexes=uv_indexes(uv, toml, "tool.uv"),
        uv_sources=uv_pins(uv, toml),
        files=[display],
    )
