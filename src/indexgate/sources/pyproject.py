"""pyproject.toml (PEP 621 / PEP 735 / [tool.uv]) and uv.toml, with file:line origins.

tomllib gives no positions, so ``TomlText`` finds where a value was written by searching
the text after its table header; a line that cannot be found falls back to the header.
"""

from __future__ import annotations

import bisect
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import InputError, Origin
from indexgate.redact import redact
from indexgate.sources.model import LocalProject, SourceRequirement, SourceSet, UvIndex

_TOML_POSITION = re.compile(r"\s*\((?:at line (\d+), column \d+|at end of document)\)$")


def load_toml(path: Path, display: str) -> tuple[dict[str, Any], TomlText]:
    """Parse a TOML file; every failure becomes an InputError naming file and line."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise InputError("file not found", file=display) from None
    except IsADirectoryError:
        raise InputError("is a directory, not a TOML file", file=display) from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror}", file=display) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 text: {exc.reason}", file=display) from None
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc).splitlines()[0]
        match = _TOML_POSITION.search(message)
        line: int | None = getattr(exc, "lineno", None)
        if match is not None:
            message = message[: match.start()]
            line = int(match.group(1)) if match.group(1) else max(text.count("\n"), 1)
        raise InputError(f"invalid TOML: {message}", file=display, line=line) from None
    return data, TomlText(text, display)


class TomlText:
    """Finds the line a TOML value was written on, by searching the file's text."""

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display
        self._starts = [0] + [m.end() for m in re.finditer(r"\n", text)]

    def line_of(self, offset: int | None) -> int | None:
        return None if offset is None else bisect.bisect_right(self._starts, offset)

    def origin(self, offset: int | None) -> Origin:
        return Origin(self.display, self.line_of(offset))

    def headers(self, table: str, array: bool = False) -> list[int]:
        """Offsets of every ``[table]`` (or ``[[table]]``) header line."""
        dotted = r"[ \t]*\.[ \t]*".join(_key(part) for part in table.split("."))
        open_, close = (r"\[\[", r"\]\]") if array else (r"\[(?!\[)", r"\](?!\])")
        pattern = rf"^[ \t]*{open_}[ \t]*{dotted}[ \t]*{close}"
        return [m.start() for m in re.finditer(pattern, self.text, re.MULTILINE)]

    def header(self, table: str) -> int | None:
        found = self.headers(table)
        return found[0] if found else None

    def key(self, name: str, start: int | None, end: int | None = None) -> int | None:
        """Offset of the line ``name = ...`` (possibly dotted: ``x.name = ...``) after start."""
        pattern = re.compile(rf"^[ \t]*(?:[^=\n\[]*\.[ \t]*)?{_key(name)}[ \t]*=", re.MULTILINE)
        match = pattern.search(self.text, start or 0, len(self.text) if end is None else end)
        return None if match is None else match.start()

    def string(self, value: str, start: int | None, end: int | None = None) -> int | None:
        """Offset of the first quoted ``value`` after start (either quote style)."""
        stop = len(self.text) if end is None else end
        hits = [self.text.find(f"{quote}{value}{quote}", start or 0, stop) for quote in ('"', "'")]
        hits = [hit for hit in hits if hit >= 0]
        return min(hits) if hits else None


def _key(part: str) -> str:
    escaped = re.escape(part)
    return rf"(?:{escaped}|\"{escaped}\"|'{escaped}')"


@dataclass
class _Cursor:
    """Walks one list's strings in order, so a repeated string gets its own line."""

    toml: TomlText
    fallback: int | None
    position: int | None

    def here(self) -> Origin:
        """Where the list itself is: its key's line, else its table header's."""
        return self.toml.origin(self.fallback)

    def origin(self, value: str) -> Origin:
        hit = self.toml.string(value, self.position)
        if hit is None:
            return self.toml.origin(self.fallback)
        self.position = hit + len(value) + 2
        return self.toml.origin(hit)


def _cursor(toml: TomlText, tables: Sequence[str], key: str) -> _Cursor:
    header = next((h for t in tables if (h := toml.header(t)) is not None), None)
    at = toml.key(key, header)
    return _Cursor(toml, at if at is not None else header, at if at is not None else header)


def parse_requirement(text: Any, origin: Origin, what: str) -> SourceRequirement:
    """One PEP 508 string from a TOML list (``name @ url`` too: see ``_split_locations``)."""
    if not isinstance(text, str):
        raise InputError(f"{what}: expected a requirement string, got {text!r}", *_at(origin))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        message = f"{what}: invalid requirement '{text}': {reason}"
        raise InputError(redact(message), *_at(origin)) from None
    return SourceRequirement(requirement, origin)  # a URL is read as a location later


def _at(origin: Origin) -> tuple[str, int | None]:
    return origin.file, origin.line


def _table(data: dict[str, Any], key: str, what: str, toml: TomlText) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a table", toml.display, toml.line_of(toml.key(key, 0)))
    return value


def _list(value: Any, what: str, origin: Origin) -> list[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be an array", *_at(origin))
    return value


@dataclass
class _Project:
    name: NormalizedName | None
    base: list[SourceRequirement]
    optional: dict[NormalizedName, list[SourceRequirement]]
    display: str
    dynamic_extras: bool = False


def parse_pyproject(
    path: Path,
    *,
    extras: Sequence[str] = (),
    all_extras: bool = False,
    groups: Sequence[str] = (),
    display: str | None = None,
) -> SourceSet:
    """Dependencies, the chosen extras and groups, requires-python and the uv index setup."""
    display = display or str(path)
    data, toml = load_toml(path, display)
    out = SourceSet(files=[display])
    project_table = _table(data, "project", "[project]", toml)
    project = _read_project(project_table, toml)
    out.requires_python = _requires_python(project_table, toml)
    out.requirements.extend(project.base)
    out.requirements.extend(_selected_extras(project, project_table, extras, all_extras))
    out.requirements.extend(_selected_groups(data, toml, project, groups))
    out.requirements[:] = _unique(out.requirements)
    tool = _table(data, "tool", "[tool]", toml)
    uv = tool.get("uv", {})
    if not isinstance(uv, dict):
        raise InputError("[tool.uv] must be a table", display, toml.line_of(toml.key("uv", 0)))
    out.uv_indexes.extend(uv_indexes(uv, toml, "tool.uv"))
    out.uv_sources.update(_uv_sources(uv, toml))
    _split_locations(out, uv, toml, path.parent.resolve())
    return out


def _split_locations(out: SourceSet, uv: dict[str, Any], toml: TomlText, folder: Path) -> None:
    """Requirements that name a location, not an index project: ``name @ url`` (PEP 508),
    and names ``[tool.uv.sources]`` gives a ``path``, ``workspace``, ``git`` or ``url``
    source. Local projects are read for their own dependencies; the others are
    ``not-from-index`` (``projects.py``)."""
    from indexgate.sources.locations import classify

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
                    *_at(at),
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


def _read_project(table: dict[str, Any], toml: TomlText) -> _Project:
    name = table.get("name")
    project = _Project(
        canonicalize_name(name) if isinstance(name, str) else None, [], {}, toml.display
    )
    dynamic = table.get("dynamic", [])
    dynamic = dynamic if isinstance(dynamic, list) else []
    project.dynamic_extras = "optional-dependencies" in dynamic
    if "dependencies" in dynamic:
        raise InputError(
            "[project] declares dependencies as dynamic, so they cannot be read without "
            "building the project: give the requirements file(s) they come from instead",
            toml.display,
            toml.line_of(toml.key("dynamic", toml.header("project"))),
        )
    cursor = _cursor(toml, ["project"], "dependencies")
    deps = _list(table.get("dependencies", []), "project.dependencies", cursor.here())
    for text in deps:
        entry = parse_requirement(text, cursor.origin(str(text)), "project.dependencies")
        if entry.name == project.name:
            raise InputError("project.dependencies names the project itself", *_at(entry.origin))
        project.base.append(entry)
    optional = table.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        at = toml.key("optional-dependencies", toml.header("project"))
        raise InputError("project.optional-dependencies must be a table", *_at(toml.origin(at)))
    tables = ["project.optional-dependencies", "project"]
    for extra, items in optional.items():
        cursor = _cursor(toml, tables, extra)
        what = f"project.optional-dependencies.{extra}"
        entries = [
            parse_requirement(text, cursor.origin(str(text)), what)
            for text in _list(items, what, cursor.here())
        ]
        project.optional.setdefault(canonicalize_name(extra), []).extend(entries)
    return project


def _requires_python(table: dict[str, Any], toml: TomlText) -> SpecifierSet | None:
    value = table.get("requires-python")
    if value is None:
        return None
    origin = toml.origin(toml.key("requires-python", toml.header("project")))
    try:
        if not isinstance(value, str):
            raise InvalidSpecifier(repr(value))
        return SpecifierSet(value)
    except InvalidSpecifier:
        raise InputError(f"invalid requires-python {value!r}", *_at(origin)) from None


def _selected_extras(
    project: _Project, table: dict[str, Any], extras: Sequence[str], all_extras: bool
) -> list[SourceRequirement]:
    if project.dynamic_extras and (extras or all_extras):
        raise InputError(
            "[project] declares optional-dependencies as dynamic, so extras cannot be read "
            "without building the project",
            project.display,
        )
    if all_extras:
        chosen = list(project.optional)
    else:
        chosen = []
        for extra in extras:
            key = canonicalize_name(extra)
            if key not in project.optional:
                known = ", ".join(sorted(table.get("optional-dependencies", {}))) or "none"
                raise InputError(
                    f"unknown extra '{extra}' (extras defined: {known})", project.display
                )
            chosen.append(key)
    out: list[SourceRequirement] = []
    for key in chosen:
        out.extend(_expand_self(project.optional[key], project, frozenset({key})))
    return out


def _expand_self(
    items: list[SourceRequirement], project: _Project, seen: frozenset[str]
) -> list[SourceRequirement]:
    """Replace ``myproject[a,b]`` (the project naming its own extras) by what it stands for."""
    out: list[SourceRequirement] = []
    for entry in items:
        if project.name is None or entry.name != project.name:
            out.append(entry)
            continue
        expanded = list(project.base)
        for extra in sorted(entry.requirement.extras):
            key = canonicalize_name(extra)
            if key not in project.optional:
                message = f"'{entry.requirement}' names unknown extra '{extra}'"
                raise InputError(message, *_at(entry.origin))
            if key not in seen:
                expanded.extend(_expand_self(project.optional[key], project, seen | {key}))
        out.extend(_and_marker(item, entry.requirement.marker) for item in expanded)
    return out


def _and_marker(entry: SourceRequirement, marker: Marker | None) -> SourceRequirement:
    if marker is None:
        return entry
    requirement = Requirement(str(entry.requirement))
    own = requirement.marker
    requirement.marker = Marker(f"({own}) and ({marker})") if own is not None else marker
    return replace(entry, requirement=requirement)


def _selected_groups(
    data: dict[str, Any], toml: TomlText, project: _Project, groups: Sequence[str]
) -> list[SourceRequirement]:
    table = _table(data, "dependency-groups", "[dependency-groups]", toml)
    names: dict[NormalizedName, str] = {}
    for name in table:
        key = canonicalize_name(name)
        if key in names:
            at = toml.origin(toml.key(name, toml.header("dependency-groups")))
            raise InputError(
                f"dependency groups '{names[key]}' and '{name}' have the same normalized name",
                *_at(at),
            )
        names[key] = name
    out: list[SourceRequirement] = []
    for group in groups:
        key = canonicalize_name(group)
        if key not in names:
            known = ", ".join(table) or "none"
            raise InputError(
                f"unknown dependency group '{group}' (groups defined: {known})", toml.display
            )
        out.extend(_expand_group(key, table, names, toml, project, ()))
    return out


def _expand_group(
    key: NormalizedName,
    table: dict[str, Any],
    names: dict[NormalizedName, str],
    toml: TomlText,
    project: _Project,
    stack: tuple[NormalizedName, ...],
) -> list[SourceRequirement]:
    """PEP 735: a group's requirements with every ``{include-group = ...}`` expanded."""
    name = names[key]
    cursor = _cursor(toml, ["dependency-groups"], name)
    what = f"dependency-groups.{name}"
    out: list[SourceRequirement] = []
    for item in _list(table[name], what, cursor.here()):
        if isinstance(item, str):
            entry = parse_requirement(item, cursor.origin(item), what)
            out.extend(_expand_self([entry], project, frozenset()))
            continue
        if not (isinstance(item, dict) and set(item) == {"include-group"}):
            message = f'{what}: expected a requirement string or {{include-group = "..."}}'
            raise InputError(message, *_at(cursor.origin(str(item))))
        included = item["include-group"]
        origin = cursor.origin(str(included))
        target = canonicalize_name(str(included))
        if target not in names:
            message = f"{what} includes unknown dependency group '{included}'"
            raise InputError(message, *_at(origin))
        chain = (*stack, key)
        if target in chain:
            cycle = " -> ".join(names[k] for k in (*chain[chain.index(target) :], target))
            raise InputError(f"dependency group cycle: {cycle}", *_at(origin))
        out.extend(_expand_group(target, table, names, toml, project, chain))
    return out


def _unique(entries: list[SourceRequirement]) -> list[SourceRequirement]:
    seen: set[tuple[str, Origin]] = set()
    out: list[SourceRequirement] = []
    for entry in entries:
        key = (str(entry.requirement), entry.origin)
        if key not in seen:
            seen.add(key)
            out.append(entry)
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
    for number, entry in enumerate(_list(entries, f"[[{table}]]", toml.origin(None))):
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
        for url in _list(values, key, origin):
            if not isinstance(url, str):
                raise InputError(f"{key}: expected URL strings", *_at(origin))
            out.append(UvIndex(url=url, origin=origin, format=kind))
    default = settings.get("index-url")
    if default is not None:
        origin = toml.origin(toml.key("index-url", base))
        if not isinstance(default, str):
            raise InputError("index-url must be a URL string", *_at(origin))
        out.append(UvIndex(url=default, origin=origin, default=True))
    return out


def _uv_index(entry: Any, origin: Origin, table: str) -> UvIndex:
    if not isinstance(entry, dict):
        raise InputError(f"[[{table}]] entries must be tables", *_at(origin))
    url = entry.get("url")
    if not isinstance(url, str) or not url:
        raise InputError(f"[[{table}]] entry has no 'url'", *_at(origin))
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise InputError(f"[[{table}]] 'name' must be a string", *_at(origin))
    flags = {key: entry.get(key, False) for key in ("default", "explicit")}
    for key, value in flags.items():
        if not isinstance(value, bool):
            raise InputError(f"[[{table}]] '{key}' must be true or false", *_at(origin))
    fmt = entry.get("format", "simple")
    if fmt not in ("simple", "flat"):
        raise InputError(f'[[{table}]] \'format\' must be "simple" or "flat"', *_at(origin))
    codes = entry.get("ignore-error-codes")
    if codes is not None and not (
        isinstance(codes, list)
        and all(isinstance(c, int) and not isinstance(c, bool) for c in codes)
    ):
        raise InputError(
            f"[[{table}]] 'ignore-error-codes' must be a list of integers", *_at(origin)
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


def _uv_sources(uv: dict[str, Any], toml: TomlText) -> dict[NormalizedName, str]:
    """``pkg = { index = "name" }`` pins; git/path/url/workspace sources are not index pins."""
    sources = uv.get("sources", {})
    if not isinstance(sources, dict):
        at = toml.key("sources", toml.header("tool.uv"))
        raise InputError("[tool.uv.sources] must be a table", *_at(toml.origin(at)))
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
    tool = _table(data, "tool", "[tool]", toml)
    uv = tool.get("uv", {})
    if not isinstance(uv, dict):
        raise InputError("[tool.uv] must be a table", display, toml.line_of(toml.key("uv", 0)))
    return SourceSet(
        uv_indexes=uv_indexes(uv, toml, "tool.uv"),
        uv_sources=_uv_sources(uv, toml),
        files=[display],
    )


def has_requirements(path: Path) -> bool:
    """Whether a pyproject.toml declares anything to install ([project] or groups)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # let the real parse report what is wrong
    return "project" in data or "dependency-groups" in data
