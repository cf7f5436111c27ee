"""What local projects and direct references bring: their dependencies, gated like the rest.

- A local project (``-e .``, ``./lib``): its PEP 621 ``[project]`` table (name,
  dependencies, the optional-dependencies of the extras asked for, requires-python) is
  read without running anything. Dynamic dependencies (``dynamic = ["dependencies"]``, a
  ``setup.py`` project) need ``--allow-build``: then its own build backend runs on a copy
  of the folder in a throw-away environment (``dists/build.py``); without it, exit 2.
- A direct reference (URL, VCS, local archive) is not from an index: a ``not-from-index``
  warning on each target it applies to (``--fail-on not-from-index`` makes it fatal). A
  local wheel's (or static sdist's) METADATA is read, so its dependencies are gated; a
  VCS reference cannot be read without a clone and a build, so it is only reported.

The names these supply are not looked up on any index (a requirement on ``lib`` next to
``-e ./lib`` is satisfied by the folder, as pip does).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name

from indexgate.dists import metadata as md
from indexgate.dists.models import CoreMetadata
from indexgate.errors import InputError, Origin
from indexgate.model import Problem, TargetReport
from indexgate.sources.locations import DirectReference, LocalProject, display_path
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.sources.pyproject import and_marker, parse_pyproject
from indexgate.sources.toml_text import load_toml

if TYPE_CHECKING:
    from indexgate.settings import IndexConfig, Settings
    from indexgate.targets import Target

_EXTRA_TEST = re.compile(r"""\bextra\s*==\s*(["'])([^"']*)\1|(["'])([^"']*)\3\s*==\s*extra\b""")
_TRUE, _FALSE = 'python_version >= "0"', 'python_version < "0"'


def read_static(sources: SourceSet, cwd: Path) -> None:
    """While reading sources: static metadata of local projects and local archives."""
    here = cwd.resolve()
    seen: set[tuple[Path, frozenset[str]]] = set()
    projects = sources.local_projects
    position = 0
    while position < len(projects):  # a project's own local dependencies join the list
        project = replace(projects[position], display=display_path(projects[position].path, here))
        position += 1
        if (project.path, project.extras) in seen:
            continue
        seen.add((project.path, project.extras))
        found = _static_project(project)
        if found is None:
            sources.pending_builds.append(project)
            continue
        name, part = found
        if name is not None:
            sources.provided.add(name)
        sources.requirements.extend(_with_marker(part.requirements, project.marker))
        projects.extend(part.local_projects)
        sources.direct.extend(part.direct)
        sources.files.extend(part.files)
        if project.path == here and sources.requires_python is None:
            sources.requires_python = part.requires_python  # the project's own floor
        if part.requires_python is not None:
            sources.local_python.append((project, part.requires_python))
    sources.direct[:] = [_read_archive(ref, sources) for ref in sources.direct]
    sources.provided.update(ref.name for ref in sources.direct if ref.name)
    _drop_provided(sources)


def build_pending(sources: SourceSet, settings: Settings) -> None:
    """After the settings: build the metadata of projects whose dependencies are dynamic
    (``--allow-build``), else stop with exit 2 naming the line and what to do."""
    if not sources.pending_builds:
        return
    first = sources.pending_builds[0]
    if not settings.allow_build:
        raise InputError(
            f"the dependencies of the project in '{first.display}' are not static metadata (a "
            'setup.py, no [project] table, or dynamic = ["dependencies"]), so reading them '
            "means running its build backend: "
            "pass --allow-build to let indexgate build its metadata in an isolated environment, "
            "or make the metadata static ([project] dependencies in its pyproject.toml)",
            file=first.origin.file,
            line=first.origin.line,
        )
    from indexgate.dists.build import build_project_metadata

    for project in sources.pending_builds:
        try:
            meta = md.parse_core_metadata(build_project_metadata(project.path, settings.indexes))
        except md.MetadataError as exc:
            raise InputError(
                f"building the metadata of '{project.display}' failed: {exc}",
                file=project.origin.file,
                line=project.origin.line,
            ) from None
        sources.provided.add(meta.name)
        sources.requirements.extend(
            from_metadata(meta, project.extras, project.marker, project.origin)
        )
        if meta.requires_python is not None:
            sources.local_python.append((project, meta.requires_python))
    sources.pending_builds.clear()
    _drop_provided(sources)


def check_python(sources: SourceSet, settings: Settings) -> None:
    """A local project whose requires-python excludes a target cannot be installed there
    (pip refuses it): exit 2 naming its line, rather than a gate that passes."""
    for project, spec in sources.local_python:
        for target in settings.targets:
            if target.evaluate(project.marker) and not target.allows_python(spec):
                raise InputError(
                    f"the project in '{project.display}' requires Python {spec}, which "
                    f"excludes the target {target.label} (pip would refuse to install it): "
                    "check --python-version / python-versions, or its requires-python",
                    file=project.origin.file,
                    line=project.origin.line,
                )


def supplied_locally(sources: SourceSet, report: TargetReport) -> bool:
    """Errors for resolved packages that a local project or direct reference supplies.

    pip installs the folder (or URL) for every requirement on its name; indexgate's
    resolver looks up what index packages depend on, so such a package was taken from an
    index instead: the gate cannot vouch for that install (and it is the shape of a
    dependency-confusion attack). True when an error was added."""
    supplied = [r for r in report.resolution if r.name in sources.provided]
    for entry in supplied:
        by = ", ".join(entry.requested_by) or "a dependency"
        report.errors.append(
            Problem(
                kind="no-solution",
                package=entry.name,
                index=entry.index,
                message=(
                    f"{entry.name} is supplied by a local project or direct reference, but "
                    f"{by} depends on it and the resolver took {entry.name} {entry.version} "
                    f"from index '{entry.index}' instead: indexgate cannot gate a dependency "
                    "of index packages on a local project; list it in a way an index serves, "
                    "or check this install by hand"
                ),
            )
        )
    return bool(supplied)


def from_metadata(
    meta: CoreMetadata, extras: Iterable[str], marker: Marker | None, origin: Origin
) -> list[SourceRequirement]:
    """Requires-Dist as direct requirements: those of the extras asked for included, the
    line's own marker added to each, every one attributed to the line."""
    chosen = _with_own_extras(meta, {canonicalize_name(e) for e in extras})
    out = []
    for req in meta.requires_dist:
        req = _settle_extras(req, chosen)
        if canonicalize_name(req.name) == meta.name:  # its own extras: the base is here
            continue
        out.append(SourceRequirement(req, origin))
    return _with_marker(out, marker)


def _with_own_extras(meta: CoreMetadata, chosen: set[str]) -> set[str]:
    """The extras chosen plus those they name of the project itself (``all = p[a,b]``)."""
    while True:
        more = set(chosen)
        for req in meta.requires_dist:
            if canonicalize_name(req.name) != meta.name:
                continue
            tests = {canonicalize_name(m[1] or m[3]) for m in _EXTRA_TEST.findall(str(req.marker))}
            if req.marker is None or tests & chosen:
                more |= {canonicalize_name(e) for e in req.extras}
        if more == chosen:
            return chosen
        chosen = more


def not_from_index(sources: SourceSet, target: Target) -> list[Problem]:
    """The ``not-from-index`` warnings of the direct references that apply to ``target``."""
    return [_warning(ref) for ref in sources.direct if target.evaluate(ref.marker)]


# --- local projects -------------------------------------------------------------------------


def _static_project(project: LocalProject) -> tuple[NormalizedName | None, SourceSet] | None:
    """(name, what its pyproject.toml declares), or None when its metadata is dynamic."""
    folder = project.path
    pyproject = folder / "pyproject.toml"
    legacy = (folder / "setup.py").is_file() or (folder / "setup.cfg").is_file()
    if not pyproject.is_file():
        if legacy:
            return None
        raise InputError(
            f"'{project.display}' is not a Python project (no pyproject.toml or setup.py)",
            file=project.origin.file,
            line=project.origin.line,
        )
    display = os.path.normpath(os.path.join(project.display, "pyproject.toml"))
    data, _toml = load_toml(pyproject, display)
    table = data.get("project")
    if not isinstance(table, dict):  # [tool.poetry] and other pre-PEP 621 layouts
        return None
    dynamic = table.get("dynamic", [])
    dynamic = dynamic if isinstance(dynamic, list) else []
    if "dependencies" in dynamic:
        return None
    if project.extras and "optional-dependencies" in dynamic:
        return None
    part = parse_pyproject(pyproject, extras=sorted(project.extras), display=display)
    name = table.get("name")
    return (canonicalize_name(name) if isinstance(name, str) else None), part


def _with_marker(
    entries: list[SourceRequirement], marker: Marker | None
) -> list[SourceRequirement]:
    return [and_marker(e, marker) for e in entries] if marker is not None else entries


def _drop_provided(sources: SourceSet) -> None:
    """A requirement on a name a local project or direct reference supplies is met there."""
    provided = sources.provided
    if provided:
        sources.requirements[:] = [r for r in sources.requirements if r.name not in provided]


def _settle_extras(req: Requirement, chosen: set[str]) -> Requirement:
    """The requirement with each ``extra == "x"`` test decided by the extras chosen (the
    rest of its marker is left to each target, which then drops what never applies)."""
    if req.marker is None:
        return req
    text = str(req.marker)
    if "extra" not in text:
        return req

    def decide(match: re.Match[str]) -> str:
        value = match.group(2) if match.group(2) is not None else match.group(4)
        return _TRUE if canonicalize_name(value) in chosen else _FALSE

    settled = Requirement(str(req))
    settled.marker = Marker(_EXTRA_TEST.sub(decide, text))
    return settled


# --- direct references ----------------------------------------------------------------------


def _read_archive(ref: DirectReference, sources: SourceSet) -> DirectReference:
    """A local wheel's (or static sdist's) dependencies, added to the requirements."""
    if ref.kind != "archive":
        return ref
    path = Path(ref.url)
    try:
        data = path.read_bytes()
        if path.name.lower().endswith(".whl"):
            from indexgate.dists import wheelzip

            meta = md.parse_core_metadata(wheelzip.metadata_from_whole_wheel(data, ref.name))
        else:
            meta = md.static_sdist_metadata(md.read_sdist_pkg_info(data, path.name))
    except (OSError, md.MetadataError):
        return ref  # unreadable or dynamic: reported as not gated, like a VCS reference
    sources.requirements.extend(from_metadata(meta, ref.extras, ref.marker, ref.origin))
    return replace(ref, name=ref.name or meta.name, gated=True)


def read_direct_wheels(
    sources: SourceSet,
    settings: Settings,
    open_session: Callable[[Settings], AbstractContextManager[Any]],
) -> None:
    """Direct wheel or sdist URLs on a configured index's origin (scheme, host and port):
    their metadata is read as any index file's is (a wheel's by HTTP range requests, an
    sdist's static PKG-INFO; the index's credentials), so their dependencies are gated too.
    Any other host is not contacted. ``open_session`` is the resolver's (handed in by the
    front door: the inputs layer does not import the resolver)."""
    todo = [
        (position, ref, index)
        for position, ref in enumerate(sources.direct)
        if ref.kind == "url" and (index := _index_for(ref.url, settings)) is not None
    ]
    if not todo:
        return
    from indexgate.dists.models import DistFile
    from indexgate.errors import IndexgateError

    with open_session(settings) as session:
        for position, ref, index in todo:
            url, _, fragment = ref.url.partition("#")
            filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
            digest = dict(p.split("=", 1) for p in fragment.split("&") if "=" in p)
            hashes = {k: v.lower() for k, v in digest.items() if k in ("sha256", "sha512")}
            file = DistFile(filename=filename, url=url, hashes=hashes)
            try:
                result = session.fetch_loop.run(
                    lambda f=file, i=index: session.client.metadata(i, f)
                )
            except IndexgateError:  # unreachable, refused: reported as not gated
                continue
            if result.metadata is None:
                continue
            meta = result.metadata
            sources.requirements.extend(from_metadata(meta, ref.extras, ref.marker, ref.origin))
            sources.direct[position] = replace(ref, name=ref.name or meta.name, gated=True)
            sources.provided.add(meta.name)
    _drop_provided(sources)


def _index_for(url: str, settings: Settings) -> IndexConfig | None:
    """The first index on the URL's origin, for a wheel or sdist URL; else None."""
    from indexgate.dists.models import parse_filename

    parts = urlsplit(url.partition("#")[0])
    if parse_filename(unquote(parts.path.rsplit("/", 1)[-1])) is None:
        return None
    origin = (parts.scheme.lower(), parts.hostname, parts.port)
    for index in settings.indexes:
        own = urlsplit(index.url)
        if (own.scheme.lower(), own.hostname, own.port) == origin:
            return index
    return None


def _warning(ref: DirectReference) -> Problem:
    what = {"url": "a direct URL", "vcs": "a VCS reference", "archive": "a local archive"}
    if ref.gated:
        gated = "its own dependencies were gated with the rest"
    elif ref.kind == "vcs":
        gated = "nor its dependencies (reading them would need a clone and a build)"
    else:
        gated = "nor its dependencies (its metadata could not be read statically)"
    file_only = "the file itself was not gated; " if ref.gated else "indexgate did not gate it, "
    return Problem(
        kind="not-from-index",
        package=ref.name,
        message=(
            f"{ref.shown} is {what[ref.kind]}, not from an index: {file_only}{gated} "
            "(--fail-on not-from-index makes this an error)"
        ),
        file=ref.origin.file,
        line=ref.origin.line,
    )
