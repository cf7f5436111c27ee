"""pyproject.toml's requirements: PEP 621 ``[project]`` (dependencies, the chosen extras,
``requires-python``) and PEP 735 ``[dependency-groups]``, with file:line origins.

The ``[tool.uv]`` index setup and sources it also carries are ``uv_settings.py``'s; finding
a value's line is ``toml_text.py``'s.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import InputError, Origin
from indexgate.redact import redact
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.sources.toml_text import (
    TomlText,
    file_line,
    list_cursor,
    load_toml,
    toml_list,
    toml_table,
)
from indexgate.sources.uv_settings import split_locations, uv_indexes, uv_pins, uv_table


def parse_requirement(text: Any, origin: Origin, what: str) -> SourceRequirement:
    """One PEP 508 string from a TOML list (``name @ url`` too: see ``split_locations``)."""
    if not isinstance(text, str):
        raise InputError(f"{what}: expected a requirement string, got {text!r}", *file_line(origin))
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        message = f"{what}: invalid requirement '{text}': {reason}"
        raise InputError(redact(message), *file_line(origin)) from None
    return SourceRequirement(requirement, origin)  # a URL is read as a location later


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
    project_table = toml_table(data, "project", "[project]", toml)
    project = _read_project(project_table, toml)
    out.requires_python = _requires_python(project_table, toml)
    out.requirements.extend(project.base)
    out.requirements.extend(_selected_extras(project, project_table, extras, all_extras))
    out.requirements.extend(_selected_groups(data, toml, project, groups))
    out.requirements[:] = _unique(out.requirements)
    uv = uv_table(data, toml)
    out.uv_indexes.extend(uv_indexes(uv, toml, "tool.uv"))
    out.uv_sources.update(uv_pins(uv, toml))
    split_locations(out, uv, toml, path.parent.resolve())
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
    cursor = list_cursor(toml, ["project"], "dependencies")
    deps = toml_list(table.get("dependencies", []), "project.dependencies", cursor.here())
    for text in deps:
        entry = parse_requirement(text, cursor.origin(str(text)), "project.dependencies")
        if entry.name == project.name:
            raise InputError(
                "project.dependencies names the project itself", *file_line(entry.origin)
            )
        project.base.append(entry)
    optional = table.get("optional-dependencies", {})
    if not isinstance(optional, dict):
        at = toml.key("optional-dependencies", toml.header("project"))
        raise InputError(
            "project.optional-dependencies must be a table", *file_line(toml.origin(at))
        )
    tables = ["project.optional-dependencies", "project"]
    for extra, items in optional.items():
        cursor = list_cursor(toml, tables, extra)
        what = f"project.optional-dependencies.{extra}"
        entries = [
            parse_requirement(text, cursor.origin(str(text)), what)
            for text in toml_list(items, what, cursor.here())
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
        raise InputError(f"invalid requires-python {value!r}", *file_line(origin)) from None


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
                raise InputError(message, *file_line(entry.origin))
            if key not in seen:
                expanded.extend(_expand_self(project.optional[key], project, seen | {key}))
        out.extend(and_marker(item, entry.requirement.marker) for item in expanded)
    return out


def and_marker(entry: SourceRequirement, marker: Marker | None) -> SourceRequirement:
    if marker is None:
        return entry
    requirement = Requirement(str(entry.requirement))
    own = requirement.marker
    requirement.marker = Marker(f"({own}) and ({marker})") if own is not None else marker
    return replace(entry, requirement=requirement)


def _selected_groups(
    data: dict[str, Any], toml: TomlText, project: _Project, groups: Sequence[str]
) -> list[SourceRequirement]:
    table = toml_table(data, "dependency-groups", "[dependency-groups]", toml)
    names: dict[NormalizedName, str] = {}
    for name in table:
        key = canonicalize_name(name)
        if key in names:
            at = toml.origin(toml.key(name, toml.header("dependency-groups")))
            raise InputError(
                f"dependency groups '{names[key]}' and '{name}' have the same normalized name",
                *file_line(at),
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
    cursor = list_cursor(toml, ["dependency-groups"], name)
    what = f"dependency-groups.{name}"
    out: list[SourceRequirement] = []
    for item in toml_list(table[name], what, cursor.here()):
        if isinstance(item, str):
            entry = parse_requirement(item, cursor.origin(item), what)
            out.extend(_expand_self([entry], project, frozenset()))
            continue
        if not (isinstance(item, dict) and set(item) == {"include-group"}):
            message = f'{what}: expected a requirement string or {{include-group = "..."}}'
            raise InputError(message, *file_line(cursor.origin(str(item))))
        included = item["include-group"]
        origin = cursor.origin(str(included))
        target = canonicalize_name(str(included))
        if target not in names:
            message = f"{what} includes unknown dependency group '{included}'"
            raise InputError(message, *file_line(origin))
        chain = (*stack, key)
        if target in chain:
            cycle = " -> ".join(names[k] for k in (*chain[chain.index(target) :], target))
            raise InputError(f"dependency group cycle: {cycle}", *file_line(origin))
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


def has_requirements(path: Path) -> bool:
    """Whether a pyproject.toml declares anything to install ([project] or groups)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return True  # let the real parse report what is wrong
    return "project" in data or "dependency-groups" in data
