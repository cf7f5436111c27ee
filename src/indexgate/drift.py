"""``indexgate drift``: how the pinned dependencies stand against the firewalls, tonight.

A scheduled run re-checks every pin (lock files, ``==`` lines of requirements files) and
every other direct requirement without resolving anything: the file each target would
install is found on its index and probed (HEAD, or a one-byte GET) so a firewall that has
started refusing it is seen before a deploy is. Newer versions are probed newest first,
a few at a time, until one is allowed: that answers "upgrade available" and "stuck in
quarantine" without walking a whole history. Every URL is probed at most once per run
(the client memoizes) and at most ``max_probes_per_package`` per package.

The per-package ``drift`` section of each target is a list of ``DriftEntry`` (report/model.py)
whose facts are JSON-shaped (so the renderers and the next run's ``--previous-report`` read
the same facts); ``changes`` compares with that.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from packaging.markers import Marker
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import NormalizedName
from packaging.version import InvalidVersion, Version

from indexgate.drift_changes import changes, read_previous
from indexgate.errors import IndexgateError, IndexUnreachable
from indexgate.index.client import BlockHit, FetchError, never_matched
from indexgate.index.firewall import vendor_label
from indexgate.index.models import DistFile, parse_filename
from indexgate.policy import PageAction, Strategy
from indexgate.redact import redact
from indexgate.report.model import (
    Blocked,
    DriftEntry,
    Problem,
    Report,
    Resolved,
    Status,
    TargetReport,
)
from indexgate.report.outcome import decide_target
from indexgate.resolver.finder import VersionEntry, decide, mirrors, refusal
from indexgate.resolver.resolve import (
    Session,
    open_session,
    prove_credentials,
    refused_targets,
)
from indexgate.settings import IndexConfig, Settings
from indexgate.sources.model import LockedFile, Origin, SourceSet
from indexgate.sources.names import filename_key
from indexgate.sources.projects import not_from_index
from indexgate.targets import Target

__all__ = ["Pin", "collect_pins", "drift", "read_previous"]

log = logging.getLogger("indexgate.drift")
WINDOW = 4  # newer versions probed at once: usually the first window finds an allowed one
ProbeStatus = Literal["allowed", "blocked", "missing", "error"]


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


# --- one run --------------------------------------------------------------------------


@dataclass
class _Probe:
    version: Version
    file: DistFile
    index: IndexConfig
    status: ProbeStatus
    block: BlockHit | None = None
    message: str | None = None
    kind: str | None = None  # the FetchError kind when the probe failed

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "version": str(self.version),
            "file": self.file.filename,
            "index": self.index.name,
            "status": self.status,
        }
        if self.file.upload_time:
            out["upload_time"] = self.file.upload_time
        if self.block is not None:
            out["vendor"] = self.block.info.vendor
            out["reason"] = self.block.info.reason
            out["state"] = self.block.info.state
            if self.block.info.details_url:
                out["details_url"] = self.block.info.details_url
        return out


@dataclass
class _Outcome:
    """One pin on one target: its drift entry and what it adds to the target's report."""

    entry: DriftEntry
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    resolved: Resolved | None = None
    candidates: list[Version] = field(default_factory=list)  # installable, newest first


@dataclass
class _Budget:
    """Probe URLs of one package; pins always get theirs, newer versions share the rest."""

    cap: int
    urls: set[str] = field(default_factory=set)
    hit: bool = False

    def take(self, url: str, *, force: bool = False) -> bool:
        if url in self.urls:
            return True
        if not force and len(self.urls) >= self.cap:
            self.hit = True
            return False
        self.urls.add(url)
        return True


@dataclass(frozen=True)
class _Found:
    entries: tuple[VersionEntry, ...]
    searched: tuple[str, ...]
    warnings: tuple[Problem, ...] = ()


class _Run:
    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.settings = session.settings
        self.client = session.client
        self.now = now
        self.budgets: dict[NormalizedName, _Budget] = {}
        self._shadows: dict[tuple[str, str], asyncio.Future[dict[str, Any] | None]] = {}

    async def all(
        self, pins: Sequence[Pin], targets: Sequence[Target]
    ) -> list[dict[Target, _Outcome]]:
        jobs = [self.pin(p, [t for t in targets if _applies(p.marker, t)]) for p in pins]
        return list(await asyncio.gather(*jobs))

    async def pin(self, pin: Pin, targets: list[Target]) -> dict[Target, _Outcome]:
        if not targets:
            return {}
        try:
            found = await self.listing(pin)
            outcomes = await asyncio.gather(*(self.target(pin, found, t) for t in targets))
        except FetchError as exc:
            problem = _problem(exc.kind, str(exc), pin, index=exc.index, status=exc.status)
            return {t: _Outcome(_entry(pin), errors=[problem]) for t in targets}
        except IndexUnreachable as exc:
            problem = _problem("index-unreachable", redact(str(exc)), pin)
            return {t: _Outcome(_entry(pin), errors=[problem]) for t in targets}
        budget = self.budgets.get(pin.name)
        for outcome in outcomes:
            outcome.entry.probe_cap = bool(budget and budget.hit)
            outcome.warnings.extend(found.warnings)
            if budget and budget.hit:
                outcome.warnings.append(self._cap_warning(pin))
        return dict(zip(targets, outcomes, strict=True))

    def _cap_warning(self, pin: Pin) -> Problem:
        cap = self.settings.max_probes_per_package
        message = (
            f"{pin.name}: probed {cap} files (--max-probes-per-package {cap}); older "
            "versions were not checked, so the newest allowed version may be unknown"
        )
        return _problem("probe-cap", message, pin)

    # -- where the pin's files are ---------------------------------------------------

    def lock_index(self, url: str | None) -> IndexConfig | None:
        if url is None:
            return None
        key = _url_key(url)
        return next((i for i in self.settings.indexes if _url_key(i.url) == key), None)

    async def listing(self, pin: Pin) -> _Found:
        """The index the lock names when it is configured, else the strategy's answer."""
        index = self.lock_index(pin.index_url)
        if index is None:
            listing = await self.session.finder.listing(pin.name)
            # drift reports shadowed names itself (``shadow``), with the severity it decides
            kept = tuple(w for w in listing.warnings if w.kind != "shadowed-name")
            return _Found(listing.entries, listing.searched, kept)
        page = await self.client.project_page(index, pin.name)
        decision = decide(page, Strategy.FIRST_INDEX)
        if decision.action is PageAction.USE:
            return _Found(tuple(_group(page.files, index)), (index.name,))
        if decision.action is PageAction.NEXT:
            return _Found((), (index.name,))
        if decision.kind != "auth-failure":
            decision = replace(decision, why=f"{decision.why} (the lock file's index)")
        raise refusal(page, decision)

    # -- one pin on one target -------------------------------------------------------

    async def target(self, pin: Pin, found: _Found, target: Target) -> _Outcome:
        out = _Outcome(_entry(pin))
        by_version: dict[Version, VersionEntry] = {}
        for entry in found.entries:
            by_version.setdefault(entry.version, entry)
        home = self.home(found.entries)
        shadow = None
        if home is not None:
            # By the pages' hashes, before any probe: a name shadowed on a later index is
            # only ever probed on its own index. A request for the other project's file
            # could make a proxy repository fetch and cache the attacker's package.
            shadow = await self.shadow(pin.name, home, found.entries)
            if shadow is not None:
                by_version = {v: e for v, e in by_version.items() if e.index == home}
        pinned = None
        if pin.version is not None:
            pinned = await self.check_pin(pin, by_version.get(pin.version), found, target, out)
        candidates = self.candidates(pin, by_version, target)
        out.candidates = [v for v, _, _ in candidates]
        floor = pin.version if pinned is not None and pinned.status == "allowed" else None
        todo = [c for c in candidates if floor is None or c[0] > floor]
        probed = await self.probe_newer(pin, todo)
        allowed = [p.version for p in probed if p.status == "allowed"]
        newest_allowed = max(allowed, default=floor)
        if pinned is not None:
            probed.append(pinned)
        self.summarize(pin, out, by_version, candidates, probed, newest_allowed)
        out.entry.shadowed = shadow
        if shadow is not None:
            self.shadow_problem(pin, shadow, out)
        if home is not None and home.upstream is not None:
            listed = {e.version for e in found.entries if e.index == home}
            out.entry.hidden = await self.hidden(pin, home, listed)
        return out

    def home(self, entries: Sequence[VersionEntry]) -> IndexConfig | None:
        """The first index, in the configured order, that lists the package."""
        on = {e.index.name for e in entries}
        return next((i for i in self.settings.indexes if i.name in on), None)

    async def hidden(
        self, pin: Pin, index: IndexConfig, listed: set[Version]
    ) -> dict[str, Any] | None:
        """Versions ``index``'s upstream publishes that its page does not list.

        Policy-compliant component selection (Nexus) and Curation's version filtering
        remove blocked versions from the page itself: no 403 ever shows them. Comparing
        the two pages does; no file is ever requested from the upstream.
        """
        upstream = next((i for i in self.settings.indexes if i.name == index.upstream), None)
        if upstream is None:
            return None
        try:
            page = await self.client.project_page(upstream, pin.name)
        except IndexgateError as exc:
            log.info("upstream page of %s on %s not read: %s", pin.name, upstream.name, exc)
            return None
        if not 200 <= page.status < 300:
            return None
        pre = self.settings.pre or bool(pin.specifier.prereleases)
        pre = pre or (pin.version is not None and pin.version.is_prerelease)
        rows = []
        for entry in _group(page.files, upstream):
            v = entry.version
            if v in listed or (v.is_prerelease and not pre):
                continue
            if pin.version is not None and v <= pin.version:
                continue
            if pin.version is None and not pin.specifier.contains(v, prereleases=True):
                continue
            uploaded = _uploaded(entry)
            rows.append(
                {"version": str(v), "upload_time": uploaded, "age_days": self.age(uploaded)}
            )
        if not rows:
            return None
        dated = [r for r in rows if r["age_days"] is not None]
        oldest = max(dated, key=lambda r: r["age_days"]) if dated else None
        return {
            "index": index.name,
            "upstream": upstream.name,
            "versions": rows,
            "since": oldest["upload_time"] if oldest else None,
            "age_days": oldest["age_days"] if oldest else None,
        }

    async def check_pin(
        self,
        pin: Pin,
        entry: VersionEntry | None,
        found: _Found,
        target: Target,
        out: _Outcome,
    ) -> _Probe | None:
        """Find the pinned file the target installs, compare hashes, probe it."""
        where = f"{pin.name}=={pin.version}"
        state: dict[str, Any] = {"version": str(pin.version), "file": None, "status": "missing"}
        out.entry.pin = state
        if entry is None:
            searched = ", ".join(f"'{s}'" for s in found.searched) or "no index"
            if found.entries:
                message = f"{where} is no longer listed on {searched} (the next install fails)"
            else:
                message = f"{pin.name} is not listed on {searched}: {where} cannot be installed"
            out.errors.append(_problem("missing-pin", message, pin, index=_first(found.searched)))
            return None
        index = entry.index
        out.entry.index = index.name
        on_index = {filename_key(f.filename): f for f in entry.files}
        hash_state = "unchecked"
        if pin.files:
            listed = [_as_dist(lf, on_index.get(filename_key(lf.filename))) for lf in pin.files]
            chosen = self.pick(pin.name, listed, target, allow_yanked=True)
            if chosen is None:
                names = ", ".join(lf.filename for lf in pin.files) or "none"
                message = f"no file the lock lists for {where} suits {target.label} ({names})"
                out.errors.append(_problem("missing-pin", message, pin, index=index.name))
                return None
            file = on_index.get(filename_key(chosen.filename))
            state["file"] = chosen.filename
            if file is None:
                message = (
                    f"{chosen.filename} ({where}) is no longer on index '{index.name}', "
                    "which still lists other files of that version"
                )
                out.errors.append(_problem("missing-pin", message, pin, index=index.name))
                return None
            hash_state = _compare_lock_hash(chosen.hashes, file.hashes)
        else:
            suitable = [f for f in entry.files if self.pick(pin.name, [f], target, True)]
            matching = [f for f in suitable if _hash_in(f, pin.hashes)]
            file = self.pick(pin.name, matching or suitable, target, allow_yanked=True)
            if file is None:
                message = f"no file of {where} on index '{index.name}' suits {target.label}"
                out.errors.append(_problem("missing-pin", message, pin, index=index.name))
                return None
            state["file"] = file.filename
            if pin.hashes:
                comparable = any(_comparable(f, pin.hashes) for f in suitable)
                hash_state = "match" if matching else "mismatch" if comparable else "unchecked"
        state["hash"] = hash_state
        if hash_state == "mismatch":
            message = (
                f"{file.filename} ({where}) on index '{index.name}' no longer has the hash "
                f"{'the lock' if pin.files else 'the --hash values'} records: the index's file "
                "was replaced, or the pin was tampered with"
            )
            out.errors.append(_problem("hash-mismatch", message, pin, index=index.name))
        if file.yanked:
            state["yanked"] = True
            state["yanked_reason"] = file.yanked_reason
            reason = f": {file.yanked_reason}" if file.yanked_reason else ""
            message = f"{where} was yanked from index '{index.name}'{reason}"
            out.warnings.append(_problem("yanked-pin", message, pin, index=index.name))
        if file.upload_time:
            state["upload_time"] = file.upload_time
        self._budget(pin.name).take(file.url, force=True)
        probe = await self.probe(entry.version, index, file)
        state["status"] = probe.status
        out.resolved = Resolved(pin.name, str(pin.version), index.name, file.filename, [])
        out.resolved.requested_by.append(str(pin.origin))
        if probe.block is not None:
            message = (
                f"{file.filename} ({where}) is now blocked by {_why(probe.block)}: "
                "the next install from this pin will fail"
            )
            out.errors.append(
                _problem("blocked-pin", message, pin, index=index.name, status=probe.block.status)
            )
            out.blocked.append(probe.block.to_report(None, pin.origin))
        elif probe.status != "allowed":
            message = probe.message or f"{file.filename} could not be checked"
            kind = probe.kind or "index-unreachable"
            out.errors.append(_problem(kind, message, pin, index=index.name))
        return probe

    def candidates(
        self, pin: Pin, by_version: dict[Version, VersionEntry], target: Target
    ) -> list[tuple[Version, VersionEntry, DistFile]]:
        """Versions an install could take for this target, newest first, with its file."""
        pre = (
            self.settings.pre
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
            file = self.pick(pin.name, entry.files, target, allow_yanked=False)
            if file is not None:
                out.append((version, entry, file))
        return out

    def pick(
        self, name: str, files: Iterable[DistFile], target: Target, allow_yanked: bool
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
            if parsed.kind == "wheel" and not self.settings.source_only(name):
                rank = target.tag_rank(parsed.tags)
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, f)
            elif parsed.kind == "sdist" and sdist is None and not self.settings.binary_only(name):
                sdist = f
        return best[1] if best else sdist

    async def probe_newer(
        self, pin: Pin, todo: list[tuple[Version, VersionEntry, DistFile]]
    ) -> list[_Probe]:
        """Newest first, ``WINDOW`` at a time, until one is allowed or the budget is spent."""
        budget = self._budget(pin.name)
        probed: list[_Probe] = []
        for start in range(0, len(todo), WINDOW):
            window = [c for c in todo[start : start + WINDOW] if budget.take(c[2].url)]
            results = await asyncio.gather(*(self.probe(v, e.index, f) for v, e, f in window))
            probed.extend(results)
            if any(p.status == "allowed" for p in results) or budget.hit:
                break
        return probed

    async def probe(self, version: Version, index: IndexConfig, file: DistFile) -> _Probe:
        try:
            result = await self.client.probe(index, file)
        except FetchError as exc:
            status: ProbeStatus = "missing" if exc.kind == "missing-pin" else "error"
            return _Probe(version, file, index, status, message=str(exc), kind=exc.kind)
        if result.block is not None:
            return _Probe(version, file, index, "blocked", result.block)
        return _Probe(version, file, index, "allowed")

    def _budget(self, name: NormalizedName) -> _Budget:
        return self.budgets.setdefault(name, _Budget(self.settings.max_probes_per_package))

    # -- what the probes say ---------------------------------------------------------

    def summarize(
        self,
        pin: Pin,
        out: _Outcome,
        by_version: dict[Version, VersionEntry],
        candidates: list[tuple[Version, VersionEntry, DistFile]],
        probed: list[_Probe],
        newest_allowed: Version | None,
    ) -> None:
        entry = out.entry
        status = {p.version: p for p in probed}
        listed = [v for v, _, _ in candidates] + [v for v in [pin.version] if v in by_version]
        newest = max(listed, default=None)
        if newest is not None:
            uploaded = _uploaded(by_version[newest])
            entry.latest = {
                "version": str(newest),
                "upload_time": uploaded,
                "age_days": self.age(uploaded),
                "status": status[newest].status if newest in status else "unprobed",
            }
        entry.newest_allowed = str(newest_allowed) if newest_allowed is not None else None
        if entry.index is None and newest_allowed is not None:
            entry.index = by_version[newest_allowed].index.name
        if pin.version is not None and newest_allowed is not None and newest_allowed > pin.version:
            entry.upgrade = str(newest_allowed)
        above = max((v for v in (pin.version, newest_allowed) if v is not None), default=None)
        held = sorted(
            (p for p in probed if p.status == "blocked" and (above is None or p.version > above)),
            key=lambda p: p.version,
            reverse=True,
        )
        if held:
            since = _uploaded(by_version[held[-1].version])
            entry.stuck = {
                "versions": [str(p.version) for p in held],
                "since": since,
                "age_days": self.age(since),
            }
            fallback = str(pin.version or newest_allowed or "") or None
            out.blocked.extend(p.block.to_report(fallback, pin.origin) for p in held if p.block)
        entry.probed = [p.as_dict() for p in sorted(probed, key=lambda p: p.version)[::-1]]

    def age(self, stamp: str | None) -> int | None:
        when = _parse_time(stamp)
        return None if when is None else max((self.now - when).days, 0)

    # -- shadowed names --------------------------------------------------------------

    def shadow(
        self, name: NormalizedName, index: IndexConfig, entries: Sequence[VersionEntry]
    ) -> asyncio.Future[dict[str, Any] | None]:
        key = (name, index.name)
        task = self._shadows.get(key)
        if task is None:
            task = asyncio.ensure_future(self._shadow(name, index, entries))
            self._shadows[key] = task
        return task

    async def _shadow(
        self, name: NormalizedName, index: IndexConfig, entries: Sequence[VersionEntry]
    ) -> dict[str, Any] | None:
        """The same name on a later index, unless that index serves the very same files.

        A later index holding every file of ours byte for byte (same sha256) is a mirror of
        the same project (a Nexus group proxying PyPI), not a second project with our name.
        """
        indexes = self.settings.indexes
        later = [i for i in indexes[indexes.index(index) + 1 :] if not i.explicit]
        found = []
        for other in later:
            try:
                page = await self.client.project_page(other, name)
            except IndexgateError as exc:
                log.info("shadow check of %s on %s skipped: %s", name, other.name, exc)
                continue
            if not 200 <= page.status < 300 or not page.files:
                continue
            ours = [f for e in entries if e.index == index for f in e.files]
            if mirrors(ours, page.files):
                continue
            versions = {p.version for f in page.files if (p := parse_filename(f.filename))}
            found.append(
                {"index": other.name, "versions": [str(v) for v in sorted(versions, reverse=True)]}
            )
        if not found:
            return None
        unsafe = self.settings.strategy is not Strategy.FIRST_INDEX
        severity = "error" if unsafe and name not in self.settings.sources else "warning"
        return {"index": index.name, "on": found, "severity": severity}

    def shadow_problem(self, pin: Pin, shadow: dict[str, Any], out: _Outcome) -> None:
        on = "; ".join(f"'{s['index']}' ({_some(s['versions'])})" for s in shadow["on"])
        message = (
            f"{pin.name} comes from index '{shadow['index']}' but the name also exists on {on}: "
            "a dependency-confusion risk"
        )
        if shadow["severity"] == "error":
            message += (
                f"; under {self.settings.strategy} an install may take the other project. "
                "Pin the package to its index (`sources:`) or use first-index"
            )
            out.errors.append(_problem("shadowed-name", message, pin, index=shadow["index"]))
        else:
            message += "; first-index keeps it on its own index as long as that index lists it"
            out.warnings.append(_problem("shadowed-name", message, pin, index=shadow["index"]))


# --- the command ------------------------------------------------------------------------


def drift(
    settings: Settings,
    sources: SourceSet,
    previous: dict[str, Any] | None = None,
    *,
    now: dt.datetime | None = None,
) -> Report:
    """Check every pin and requirement of ``sources`` on every target; see the module doc."""
    now = now or dt.datetime.now(dt.UTC)
    pins = collect_pins(sources)
    report = Report(command="drift", warnings=list(settings.warnings))
    targets = list(settings.targets)
    with open_session(settings) as session:
        refused = prove_credentials(session)
        if refused:
            report.targets = refused_targets(settings, refused, drift=True)
            return report
        run = _Run(session, now)
        results = session.bridge.run(lambda: run.all(pins, targets))
        report.warnings.extend(never_matched(session.client))
        log.info("%d requests, %d bytes", session.http.stats.requests, session.http.stats.bytes)
    for target in targets:
        t = TargetReport(python=target.python, platform=target.platform, drift=[])
        t.warnings.extend(not_from_index(sources, target))  # pkg @ https://..., git+...
        seen: set[tuple[str, str]] = set()
        for per_target in results:
            outcome = per_target.get(target)
            if outcome is None:
                continue
            key = (outcome.entry.name, str(outcome.entry.pinned or outcome.entry.requirement))
            if key in seen:
                continue
            seen.add(key)
            t.drift.append(outcome.entry)
            t.errors.extend(outcome.errors)
            _extend_unique(t.warnings, outcome.warnings)
            t.blocked.extend(outcome.blocked)
            if outcome.resolved is not None:
                t.resolution.append(outcome.resolved)
        t.resolution.sort(key=lambda r: r.name)
        report.targets.append(t)
    if previous is not None:
        listed: dict[str, set[Version]] = {}
        for per_target in results:
            for outcome in per_target.values():
                listed.setdefault(outcome.entry.name, set()).update(outcome.candidates)
        report.changes = changes(report, previous, listed)
    for t in report.targets:
        t.status = _status(t, settings)
    return report


def _status(t: TargetReport, settings: Settings) -> Status:
    """The target's status; report/outcome.py also records what ``fail-on`` made fatal
    (blocked pins, entries stuck in quarantine or hidden, shadowed names, warnings)."""
    return decide_target(t, settings.fail_on)


# --- small helpers ----------------------------------------------------------------------


def _entry(pin: Pin) -> DriftEntry:
    """A pin's drift entry, before anything was found out about it."""
    return DriftEntry(
        name=pin.name,
        pinned=str(pin.version) if pin.version is not None else None,
        requirement=None if pin.version is not None else f"{pin.name}{pin.specifier}",
        source=str(pin.origin),
    )


def _problem(
    kind: str,
    message: str,
    pin: Pin,
    *,
    index: str | None = None,
    status: int | None = None,
) -> Problem:
    return Problem(
        kind=kind,
        message=message,
        package=pin.name,
        index=index,
        status_code=status,
        file=pin.origin.file,
        line=pin.origin.line,
    )


def _why(hit: BlockHit) -> str:
    text = f"{vendor_label(hit.info.vendor)} on index '{hit.index}' (HTTP {hit.status}: "
    text += f"{hit.info.reason})"
    return text + (f", details: {hit.info.details_url}" if hit.info.details_url else "")


def _group(files: Iterable[DistFile], index: IndexConfig) -> list[VersionEntry]:
    groups: dict[Version, list[DistFile]] = {}
    for f in files:
        parsed = parse_filename(f.filename)
        if parsed is not None:
            groups.setdefault(parsed.version, []).append(f)
    return [VersionEntry(v, index, tuple(groups[v])) for v in sorted(groups, reverse=True)]


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


def _applies(marker: Marker | None, target: Target) -> bool:
    """Lock-only marker variables (extras, dependency_groups) count as true: over-include."""
    try:
        return target.evaluate(marker)
    except (KeyError, ValueError, TypeError):
        return True


def _uploaded(entry: VersionEntry) -> str | None:
    """When a version became available: its earliest file's PEP 700 upload-time."""
    stamps = [(t, f.upload_time) for f in entry.files if (t := _parse_time(f.upload_time))]
    return min(stamps)[1] if stamps else None


def _parse_time(stamp: str | None) -> dt.datetime | None:
    if not stamp:
        return None
    try:
        when = dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _url_key(url: str) -> str:
    """Index URLs compare without the trailing slash (pylock writes none) and case of host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{host}:{parts.port}{parts.path.rstrip('/')}"


def _some(versions: Sequence[str], n: int = 5) -> str:
    return ", ".join(versions[:n]) + (", …" if len(versions) > n else "")


def _first(items: Sequence[str]) -> str | None:
    return items[0] if items else None


def _extend_unique(into: list[Problem], items: Iterable[Problem]) -> None:
    for item in items:
        if item not in into:
            into.append(item)
