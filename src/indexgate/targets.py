"""Resolution targets: one Python version on one platform, with its markers and tags."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import cached_property

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags, mac_platforms
from packaging.version import Version

from indexgate.errors import InputError
from indexgate.lazy_re import LazyPattern

# ubuntu-latest (24.04): glibc 2.39.
_UBUNTU_GLIBC = 39
_ALIASES = {"linux_x86_64": "x86_64", "linux_aarch64": "aarch64"}
_PLATFORM_RE = LazyPattern(  # not for linux_x86_64 and the like (_ALIASES)
    r"^(?:(?P<ml>manylinux)_(?P<glibc_major>\d+)_(?P<glibc_minor>\d+)_(?P<ml_arch>\w+)"
    r"|(?P<musl>musllinux)_(?P<musl_major>\d+)_(?P<musl_minor>\d+)_(?P<musl_arch>\w+)"
    r"|macosx_(?P<mac_major>\d+)_(?P<mac_minor>\d+)_(?P<mac_arch>\w+)"
    r"|(?P<win>win_amd64|win_arm64|win32))$"
)
_MACHINE = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "arm64", "universal2": "arm64"}


@dataclass(frozen=True)
class Target:
    """One target environment: a Python version and a platform, as the user wrote them."""

    python: str  # as the user wrote it: "3.12" or "3.12.4"
    platform: str  # as the user wrote it: "linux_x86_64"
    _platforms: tuple[str, ...] = field(compare=False, repr=False, default=())
    _env: tuple[tuple[str, str], ...] = field(compare=False, repr=False, default=())

    @cached_property
    def python_version(self) -> Version:
        """``3.11`` means 3.11.0 for ``python_full_version``, as uv reads it."""
        release = Version(self.python).release
        return Version(".".join(map(str, (*release, 0, 0)[:3])))

    @cached_property
    def tags(self) -> list[Tag]:
        """Wheel tags this target accepts, most preferred first."""
        major, minor = self.python_version.release[:2]
        interp = f"cp{major}{minor}"
        platforms = list(self._platforms)
        return [
            *cpython_tags((major, minor), [interp], platforms),
            *compatible_tags((major, minor), interp, platforms),
        ]

    @cached_property
    def _tag_rank(self) -> dict[Tag, int]:
        return {tag: i for i, tag in reversed(list(enumerate(self.tags)))}

    @cached_property
    def _rank_memo(self) -> dict[frozenset[Tag], int | None]:
        return {}

    def tag_rank(self, tags: frozenset[Tag]) -> int | None:
        """Lower is better; None when no tag of the wheel suits this target.

        Memoized: a run sees a few dozen distinct tag sets over thousands of wheels (and a
        frozenset keeps its hash, so the lookup is cheap).
        """
        try:
            return self._rank_memo[tags]
        except KeyError:
            pass
        table = self._tag_rank
        ranks = [table[t] for t in tags if t in table]
        rank = self._rank_memo[tags] = min(ranks) if ranks else None
        return rank

    def environment(self, extra: str = "") -> dict[str, str]:
        env = dict(self._env)
        env["python_version"] = "{}.{}".format(*self.python_version.release[:2])
        env["python_full_version"] = str(self.python_version)
        env["implementation_version"] = str(self.python_version)  # CPython: the same
        env["extra"] = extra
        return env

    @cached_property
    def _marker_memo(self) -> dict[tuple[int, frozenset[str]], tuple[Marker, bool]]:
        return {}

    @cached_property
    def _marker_text_memo(self) -> dict[tuple[str, frozenset[str]], bool]:
        return {}

    def evaluate(self, marker: Marker | None, extras: frozenset[str] = frozenset()) -> bool:
        """Does the marker hold here (for any of the extras)?

        Memoized by the marker object (kept alive by the memo, so its id is not reused),
        then by its text: metadata repeats a few markers (``python_version < "3.9"``,
        ``extra == "test"``) across hundreds of requirements, each its own object.
        """
        if marker is None:
            return True
        key = (id(marker), extras)
        hit = self._marker_memo.get(key)
        if hit is not None and hit[0] is marker:
            return hit[1]
        text_key = (str(marker), extras)
        ok = self._marker_text_memo.get(text_key)
        if ok is None:
            ok = any(marker.evaluate(self.environment(e)) for e in (extras or {""}))
            self._marker_text_memo[text_key] = ok
        self._marker_memo[key] = (marker, ok)
        return ok

    @cached_property
    def _allows_memo(self) -> dict[str, bool]:
        return {}

    def allows_python(self, requires_python: SpecifierSet | str | None) -> bool:
        if not requires_python:
            return True
        if isinstance(requires_python, SpecifierSet):
            return lower_bounds_allow(requires_python, self.python_version)
        # A page repeats a handful of Requires-Python strings over hundreds of files.
        ok = self._allows_memo.get(requires_python)
        if ok is None:
            try:
                spec = SpecifierSet(requires_python)
            except InvalidSpecifier:  # pages drop such files; a malformed one never fits
                ok = self._allows_memo[requires_python] = False
                return ok
            ok = self._allows_memo[requires_python] = lower_bounds_allow(spec, self.python_version)
        return ok

    @property
    def label(self) -> str:
        return f"Python {self.python} on {self.platform}"


def make_target(python: str, platform: str) -> Target:
    """Validate a ``--python-version`` / ``--platform`` pair into a Target."""
    try:
        version = Version(python)
    except ValueError:
        raise InputError(f"invalid Python version {python!r} (expected X.Y or X.Y.Z)") from None
    if len(version.release) < 2 or version.release[0] != 3:
        raise InputError(f"invalid Python version {python!r} (expected 3.X or 3.X.Y)")
    platforms, env = _platform_facts(platform)
    return Target(python, platform, tuple(platforms), tuple(sorted(env.items())))


def _platform_facts(platform: str) -> tuple[list[str], dict[str, str]]:
    name = _ALIASES.get(platform)
    if name:  # GitHub's ubuntu-latest runner
        platforms = _manylinux(_UBUNTU_GLIBC, name) + [f"linux_{name}"]
        return platforms, _linux_env(name)
    m = _PLATFORM_RE.match(platform)
    if not m:
        raise InputError(
            f"unknown platform {platform!r}: use linux_x86_64, linux_aarch64, "
            "manylinux_2_28_x86_64, musllinux_1_2_x86_64, macosx_14_0_arm64 or win_amd64"
        )
    if m["ml"]:
        if int(m["glibc_major"]) != 2:
            raise InputError(f"unknown platform {platform!r}: manylinux needs glibc 2.x")
        arch = m["ml_arch"]
        return _manylinux(int(m["glibc_minor"]), arch) + [f"linux_{arch}"], _linux_env(arch)
    if m["musl"]:
        arch, minor = m["musl_arch"], int(m["musl_minor"])
        plats = [f"musllinux_1_{i}_{arch}" for i in range(minor, -1, -1)] + [f"linux_{arch}"]
        return plats, _linux_env(arch)
    if m["mac_arch"]:
        version = (int(m["mac_major"]), int(m["mac_minor"]))
        arch = m["mac_arch"]
        env = {
            "sys_platform": "darwin",
            "platform_system": "Darwin",
            "os_name": "posix",
            "platform_machine": _MACHINE.get(arch, arch),
        }
        return list(mac_platforms(version, arch)), _common(env)
    machine = {"win_amd64": "AMD64", "win_arm64": "ARM64", "win32": "x86"}[m["win"]]
    env = {
        "sys_platform": "win32",
        "platform_system": "Windows",
        "os_name": "nt",
        "platform_machine": machine,
    }
    return [m["win"]], _common(env)


def _manylinux(glibc_minor: int, arch: str) -> list[str]:
    legacy = {17: "manylinux2014", 12: "manylinux2010", 5: "manylinux1"}
    out: list[str] = []
    for minor in range(glibc_minor, 4, -1):
        out.append(f"manylinux_2_{minor}_{arch}")
        if minor in legacy and (minor == 17 or arch in ("x86_64", "i686")):
            out.append(f"{legacy[minor]}_{arch}")
    return out


def _linux_env(arch: str) -> dict[str, str]:
    env = {
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "platform_machine": arch,
    }
    return _common(env)


def _common(env: dict[str, str]) -> dict[str, str]:
    env.update(
        implementation_name="cpython",
        platform_python_implementation="CPython",
        implementation_version="",
        platform_release="",
        platform_version="",
    )
    return env


def default_python(requires_python: SpecifierSet | None) -> str:
    """The project's ``requires-python`` floor, else the running interpreter (X.Y)."""
    if requires_python:
        for minor in range(6, 20):
            candidate = Version(f"3.{minor}")
            if requires_python.contains(candidate, prereleases=True):
                return f"3.{minor}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def lower_bounds_allow(requires_python: SpecifierSet, python: Version) -> bool:
    """Whether ``python`` meets the lower bounds of a Requires-Python, as uv checks it.

    uv ignores upper bounds (``<``, ``<=``, ``!=``): a package that says ``<=3.8`` is
    taken on 3.12 (packse's ``python-less-than-current``), since such bounds are mostly
    stale guesses. ``==X``, ``===X``, ``==X.*`` and ``~=X`` count as ``>=X``.
    """
    for spec in requires_python:
        op, text = spec.operator, spec.version
        if op in ("<", "<=", "!="):
            continue
        if op == "==" and text.endswith(".*"):
            text = text[:-2]
        try:
            bound = Version(text)
        except ValueError:  # an arbitrary (===) string: nothing to compare
            continue
        if op == ">":
            if not python > bound:
                return False
        elif python < bound:
            return False
    return True
