"""Describe test packages as values, build each once per session, lay them out in folders."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from indexgate.demo.wheels import build_sdist, build_wheel, escape_name


@dataclass(frozen=True)
class Dist:
    """One wheel (or, with ``sdist=True``, one sdist) to generate.

    Hashable, so a set of Dists names a package folder and the server that serves it.
    """

    name: str
    version: str
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    provides_extra: tuple[str, ...] = ()
    tag: str = "py3-none-any"
    sdist: bool = False
    metadata_version: str = "2.2"  # sdist only
    dynamic: tuple[str, ...] = ()  # sdist only
    extra_files: tuple[tuple[str, bytes], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for name in ("requires_dist", "provides_extra", "dynamic", "extra_files"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def filename(self) -> str:
        stem = f"{escape_name(self.name)}-{self.version.replace('-', '_')}"
        return f"{stem}.tar.gz" if self.sdist else f"{stem}-{self.tag}.whl"

    def build(self, dest_dir: Path) -> Path:
        if self.sdist:
            return build_sdist(
                dest_dir,
                self.name,
                self.version,
                requires_dist=self.requires_dist,
                metadata_version=self.metadata_version,
                dynamic=self.dynamic,
                requires_python=self.requires_python,
                provides_extra=self.provides_extra,
            )
        return build_wheel(
            dest_dir,
            self.name,
            self.version,
            requires_dist=self.requires_dist,
            requires_python=self.requires_python,
            provides_extra=self.provides_extra,
            tag=self.tag,
            extra_files=dict(self.extra_files) or None,
        )


def wheel(name: str, version: str, *requires_dist: str, **options: object) -> Dist:
    """``wheel("flask", "3.1.0", "werkzeug>=3", requires_python=">=3.9")``."""
    return Dist(name, version, requires_dist=requires_dist, **options)  # type: ignore[arg-type]


def sdist(name: str, version: str, *requires_dist: str, **options: object) -> Dist:
    return Dist(name, version, requires_dist=requires_dist, sdist=True, **options)  # type: ignore[arg-type]


PackageSpec = Dist | str


def as_dist(spec: PackageSpec) -> Dist:
    """A Dist, or a ``"name==version"`` shorthand for a wheel with no dependencies."""
    if isinstance(spec, Dist):
        return spec
    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip():
        raise ValueError(f"expected 'name==version' or a Dist, got {spec!r}")
    return Dist(name.strip(), version.strip())


class Wheelhouse:
    """Builds each Dist once per session and hands out folders of them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._built: dict[Dist, Path] = {}
        self._folders: dict[frozenset[Dist], Path] = {}
        self._counter = 0

    def build(self, spec: PackageSpec) -> Path:
        dist = as_dist(spec)
        with self._lock:
            if dist not in self._built:
                key = hashlib.sha256(repr(dist).encode()).hexdigest()[:16]
                self._built[dist] = dist.build(self.root / "built" / key)
            return self._built[dist]

    def folder(self, specs: Iterable[PackageSpec], *, fresh: bool = False) -> Path:
        """A folder holding exactly these files; shared between callers unless ``fresh``."""
        dists = frozenset(as_dist(spec) for spec in specs)
        filenames = [d.filename for d in dists]
        duplicates = {f for f in filenames if filenames.count(f) > 1}
        if duplicates:
            raise ValueError(f"two different packages would share the filename {duplicates}")
        with self._lock:
            if not fresh and dists in self._folders:
                return self._folders[dists]
            self._counter += 1
            folder = self.root / "folders" / f"set{self._counter}"
        folder.mkdir(parents=True)
        for dist in dists:
            add_file(folder, self.build(dist))
        if not fresh:
            with self._lock:
                folder = self._folders.setdefault(dists, folder)
        return folder

    def add(self, folder: Path, spec: PackageSpec) -> Path:
        """Put one more package into ``folder`` (only for folders made with ``fresh=True``)."""
        return add_file(folder, self.build(spec))


def add_file(folder: Path, built: Path) -> Path:
    """Copy, not link: a test that tampers with a file must not touch the shared build."""
    target = folder / built.name
    shutil.copyfile(built, target)
    return target
