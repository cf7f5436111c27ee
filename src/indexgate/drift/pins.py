"""The pins a drift run watches, and the check of each pin on its index.

Pins come from lock files (``pylock.toml``, ``uv.lock``) and requirement lines (``==``
lines pin a version; other lines pin nothing and only ask for upgrades). Checking a pin
finds the file the target would install on the index that lists it, compares the hashes
the lock or ``--hash`` records, and probes that file (probes.py). A pin's findings are a
``PinOutcome``: its ``DriftEntry`` (indexgate/drift_model.py) and what it adds to the target.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from indexgate.dists.models import DistFile, parse_filename
from indexgate.drift.probes import Probe, Prober
from indexgate.drift_model import DriftEntry, PinnedFile
from indexgate.errors import Origin
from indexgate.index.client import BlockHit
from indexgate.model import Blocked, Problem, Resolved, vendor_label
from indexgate.resolver.finder import VersionEntry
from indexgate.settings import IndexConfig, Settings
from indexgate.sources.model import SourceSet
from indexgate.sources.names import filename_key
from indexgate.targets import Target

if TYPE_CHECKING:  # a drift of requirements files reads no lock
    from indexgate.sources.locks import LockedFile

__all__ = [
    "Listing",
    "Pin",
    "PinOutcome",
    "age_days",
    "candidates",
    "check_pin",
    "collect_pins",
    "group",
    "new_entry",
    "problem",
    "uploaded",
]


@dataclass(frozen=True)
class Pin:
    """One package to watch: a locked or ``==``-pinned version, or a plain requirement."""

    name: NormalizedName
    version: Version | None  # None: a requirement that pins nothing (``flask>=3``)
    origin: Origin
    specifier: SpecifierSet = field(default_factory=SpecifierSet)
    marker: Marker | None = None
    index_url: str | None = None  # the index a lock file names
    files: tuple[LockedFile, ...] = ()  # the lock's files; () for requirements lines
    hashes: frozenset[str] = frozenset()  # "sha256:<hex>" from --hash


def collect_pins(sources: SourceSet) -> list[Pin]:
    """Lock entries, then requirement lines (``==`` lines count as pins), first one wins."""
    pins: list[Pin] = []
    from_locks = set()
    for locked in sources.locked:
        try:
            version = Version(locked.version)
        except InvalidVersion:
            continue  # locks.py already rejected it; never here
        from_locks.add((locked.name, locked.origin))
        pins.append(
            Pin(
                locked.name,
                version,
                locked.origin,
                SpecifierSet(f"=={version}"),
                locked.marker,
                locked.index,
                locked.files,
            )
        )
    for sr in sources.requirements:
        if (sr.name, sr.origin) in from_locks or sr.requirement.url:
            continue
        spec = sr.requirement.specifier
        pins.append(
            Pin(
                sr.name,
                _exact(spec),
                sr.origin,
                spec,
                sr.requirement.marker,
                hashes=frozenset(h.lower() for h in sr.hashes),
            )
        )
    seen: set[tuple[str, str, str]] = set()
    unique = []
    for pin in pins:
        key = (pin.name, str(pin.version or pin.specifier), str(pin.marker))
        if key not in seen:
            seen.add(key)
            unique.append(pin)
    return unique


def _exact(spec: SpecifierSet) -> Version | None:
    items = list(spec)
    if len(items) != 1 or items[0].operator not in ("==", "===") or "*" in items[0].version:
        return None
    try:
        return Version(items[0].version)
    except InvalidVersion:
        return None


@dataclass
class PinOutcome:
    """One pin on one target: its drift entry and what it adds to the target's report."""

    entry: DriftEntry
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    resolved: Resolved | None = None
    candidates: list[Version] = field(default_factory=list)  # installable, newest first


@dataclass(frozen=True)
class Listing:
    """A pin's versions as its index (or the strategy's indexes) list them."""

    entries: tuple[VersionEntry, ...]
    searched: tuple[str, ...]
    warnings: tuple[Problem, ...] = ()


def new_entry(pin: Pin) -> DriftEntry:
    """A pin's drift entry, before anything was found out about it."""
    return DriftEntry(
        name=pin.name,
        pinned=str(pin.version) if pin.version is not None else None,
        requirement=None if pin.version is not None else f"{pin.name}{pin.specifier}",
        source=str(pin.origin),
    )


def problem(
    kind: str,
    message: str,
    pin: Pin,
    *,
    index: str | None = None,
    status: int | None = None,
) -> Problem:
    """A problem about ``pin``, pointing at the file and line that pinned it."""
    return Problem(
        kind=kind,
        message=message,
        package=pin.name,
        index=index,
        status_code=status,
        file=pin.origin.file,
        line=pin.origin.line,
    )


# --- the pinned file ----------------------------------------------------------------------


async def check_pin(
    settings: Settings,
    prober: Prober,
    pin: Pin,
    entry: VersionEntry | None,
    found: Listing,
    target: Target,
    out: PinOutcome,
) -> Probe | None:
    """Find the pinned file the target installs, compare hashes, probe it."""
    where = f"{pin.name}=={pin.version}"
    state = PinnedFile(str(pin.version))  # file None, status missing: until found
    out.entry.pin = state
    if entry is None:
        searched = ", ".join(f"'{s}'" for s in found.searched) or "no index"
        if found.entries:
            message = f"{where} is no longer listed on {searched} (the next install fails)"
        else:
            message = f"{pin.name} is not listed on {searched}: {where} cannot be installed"
        out.errors.append(problem("missing-pin", message, pin, index=_first(found.searched)))
        return None
    index = entry.index
    out.entry.index = index.name
    on_index = {filename_key(f.filename): f for f in entry.files}
    hash_state = "unchecked"
    if pin.files:
        listed = [_as_dist(lf, on_index.get(filename_key(lf.filename))) for lf in pin.files]
        chosen = pick(settings, pin.name, listed, target, allow_yanked=True)
        if chosen is None:
            names = ", ".join(lf.filename for lf in pin.files) or "none"
            message = f"no file the lock lists for {where} suits {target.label} ({names})"
            out.errors.append(problem("missing-pin", message, pin, index=index.name))
            return None
        file = on_index.get(filename_key(chosen.filename))
        state.file = chosen.filename
        if file is None:
            message = (
                f"{chosen.filename} ({where}) is no longer on index '{index.name}', "
                "which still lists other files of that version"
            )
            out.errors.append(problem("missing-pin", message, pin, index=index.name))
            return None
        hash_state = _compare_lock_hash(chosen.hashes, file.hashes)
    else:
        suitable = [f for f in entry.files if pick(settings, pin.name, [f], target, True)]
        matching = [f for f in suitable if _hash_in(f, pin.hashes)]
        file = pick(settings, pin.name, matching or suitable, target, allow_yanked=True)
        if file is None:
            message = f"no file of {where} on index '{index.name}' suits {target.label}"
            out.errors.append(problem("missing-pin", message, pin, index=index.name))
            return None
        state.file = file.filename
        if pin.hashes:
            comparable = any(_comparable(f, pin.hashes) for f in suitable)
            hash_state = "match" if matching else "mismatch" if comparable else "unchecked"
    state.hash = hash_state
    if hash_state == "mismatch":
        message = (
            f"{file.filename} ({where}) on index '{index.name}' no longer has the hash "
            f"{'the lock' if pin.files else 'the --hash values'} records: the index's file "
            "was replaced, or the pin was tampered with"
        )
        out.errors.append(problem("hash-mismatch", message, pin, index=index.name))
    if file.yanked:
        state.yanked = True
        state.yanked_reason = file.yanked_reason
        reason = f": {file.yanked_reason}" if file.yanked_reason else ""
        message = f"{where} was yanked from index '{index.name}'{reason}"
        out.warnings.append(problem("yanked-pin", message, pin, index=index.name))
    if file.upload_time:
        state.upload_time = file.upload_time
    prober.budget(pin.name).take(file.url, force=True)
    probe = await prober.probe(entry.version, index, file)
    state.status = probe.status
    out.resolved = Resolved(pin.name, str(pin.version), index.name, file.filename, [])
    out.resolved.requested_by.append(str(pin.origin))
    if probe.block is not None:
        message = (
            f"{file.filename} ({where}) is now blocked by {_why(probe.block)}: "
            "the next install from this pin will fail"
        )
        out.errors.append(
            problem("blocked-pin", message, pin, index=index.name, status=probe.block.status)
        )
        out.blocked.append(probe.block.to_report(None, pin.origin))
    elif probe.status != "allowed":
        message = probe.message or f"{file.filename} could not be checked"
        kind = probe.kind or "index-unreachable"
        out.errors.append(problem(kind, message, pin, index=index.name))
    return probe


def candidates(
    settings: Settings, pin: Pin, by_version: dict[Version, VersionEntry], target: Target
) -> list[tuple[Version, VersionEntry, DistFile]]:
    """Versions an install could take for this target, newest first, with its file."""
    pre = (
        settings.pre
        or (pin.version is not None and pin.version.is_prerelease)
        or bool(pin.specifier.prereleases)
    )
    out = []
    for version in sorted(by_version, reverse=True):
        if version == pin.version or (version.is_prerelease and not pre):
            continue
        if pin.version is None and not pin.specifier.contains(version, prereleases=True):
            continue
        entry = by_version[version]
        file = pick(settings, pin.name, entry.files, target, allow_yanked=False)
        if file is not None:
            out.append((version, entry, file))
    return out


def pick(
    settings: Settings, name: str, files: Iterable[DistFile], target: Target, allow_yanked: bool
) -> DistFile | None:
    """The file an installer takes for ``target``: best-tagged wheel, else the sdist."""
    best: tuple[int, DistFile] | None = None
    sdist = None
    for f in files:
        if (f.yanked and not allow_yanked) or not _python_ok(target, f.requires_python):
            continue
        parsed = parse_filename(f.filename)
        if parsed is None:
            continue
        if parsed.kind == "wheel" and not settings.source_only(name):
            rank = target.tag_rank(parsed.tags)
            if rank is not None and (best is None or rank < best[0]):
                best = (rank, f)
        elif parsed.kind == "sdist" and sdist is None and not settings.binary_only(name):
            sdist = f
    return best[1] if best else sdist


# --- versions and their dates -------------------------------------------------------------


def group(files: Iterable[DistFile], index: IndexConfig) -> list[VersionEntry]:
    """A page's files grouped by version, newest first."""
    groups: dict[Version, list[DistFile]] = {}
    for f in files:
        parsed = parse_filename(f.filename)
        if parsed is not None:
            groups.setdefault(parsed.version, []).append(f)
    return [VersionEntry(v, index, tuple(groups[v])) for v in sorted(groups, reverse=True)]


def uploaded(entry: VersionEntry) -> str | None:
    """When a version became available: its earliest file's PEP 700 upload-time."""
    stamps = [(t, f.upload_time) for f in entry.files if (t := _parse_time(f.upload_time))]
    return min(stamps)[1] if stamps else None


def age_days(stamp: str | None, now: dt.datetime) -> int | None:
    """Whole days from ``stamp`` to ``now``; None for a missing or unreadable stamp."""
    when = _parse_time(stamp)
    return None if when is None else max((now - when).days, 0)


def _parse_time(stamp: str | None) -> dt.datetime | None:
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


# --- small helpers ------------------------------------------------------------------------


def _why(hit: BlockHit) -> str:
    text = f"{vendor_label(hit.info.vendor)} on index '{hit.index}' (HTTP {hit.status}: "
    text += f"{hit.info.reason})"
    return text + (f", details: {hit.info.details_url}" if hit.info.details_url else "")


def _as_dist(locked: LockedFile, listed: DistFile | None) -> DistFile:
    """A lock's file, with the index's requires-python and yank state when it lists it."""
    return DistFile(
        filename=locked.filename,
        url=listed.url if listed else (locked.url or locked.filename),
        hashes=dict(locked.hashes),
        requires_python=listed.requires_python if listed else None,
        yanked=listed.yanked if listed else False,
    )


def _compare_lock_hash(locked: dict[str, str], listed: dict[str, str]) -> str:
    common = [a for a in locked if a in listed]
    if not common:
        return "unchecked"
    return "match" if all(locked[a] == listed[a].lower() for a in common) else "mismatch"


def _hash_in(file: DistFile, hashes: frozenset[str]) -> bool:
    return any(f"{a}:{h.lower()}" in hashes for a, h in file.hashes.items())


def _comparable(file: DistFile, hashes: frozenset[str]) -> bool:
    algorithms = {h.partition(":")[0] for h in hashes}
    return any(a in algorithms for a in file.hashes)


def _python_ok(target: Target, requires_python: str | None) -> bool:
    try:
        return target.allows_python(requires_python)
    except InvalidSpecifier:
        return True  # an unreadable Requires-Python excludes nothing (installers ignore it)


def _first(items: Sequence[str]) -> str | None:
    return items[0] if items else None
