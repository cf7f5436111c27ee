"""One drift run: every pin on every target it applies to, in one session.

``DriftRun`` finds where each pin's versions are listed (the index a lock names, else the
index strategy's answer), then per target checks the pin (pins.py), the shadowed-name
question (shadows.py) before any probe, the newer versions (probes.py) and what an
``upstream:`` hides (hidden.py), and sums the probes up in the pin's ``DriftEntry``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from urllib.parse import urlsplit

from packaging.markers import Marker
from packaging.version import Version

from indexgate.dists.models import DistFile
from indexgate.drift.hidden import hidden_versions
from indexgate.drift.pins import (
    Listing,
    Pin,
    PinOutcome,
    age_days,
    candidates,
    check_pin,
    group,
    new_entry,
    problem,
    uploaded,
)
from indexgate.drift.probes import Probe, Prober
from indexgate.drift.shadows import ShadowCheck
from indexgate.drift_model import LatestVersion, StuckVersions
from indexgate.errors import IndexUnreachable
from indexgate.index.client import FetchError
from indexgate.model import Problem
from indexgate.policy import PageAction, Strategy
from indexgate.redact import redact
from indexgate.resolver.finder import VersionEntry, judge_page, refusal
from indexgate.resolver.resolve import Session
from indexgate.settings import IndexConfig
from indexgate.targets import Target

__all__ = ["DriftRun"]


class DriftRun:
    """The state of one drift run: its session, the probe budgets, the shadow checks."""

    def __init__(self, session: Session, now: dt.datetime) -> None:
        self.session = session
        self.settings = session.settings
        self.client = session.client
        self.now = now
        self.prober = Prober(session.client, self.settings.max_probes_per_package)
        self.shadows = ShadowCheck(self.settings, session.client)

    async def all(
        self, pins: Sequence[Pin], targets: Sequence[Target]
    ) -> list[dict[Target, PinOutcome]]:
        """Each pin's outcome on each target its marker applies to, in the pins' order."""
        jobs = [self.pin(p, [t for t in targets if _applies(p.marker, t)]) for p in pins]
        return list(await asyncio.gather(*jobs))

    async def pin(self, pin: Pin, targets: list[Target]) -> dict[Target, PinOutcome]:
        """One pin on its targets; an index that cannot be read is an error on each."""
        if not targets:
            return {}
        try:
            found = await self.listing(pin)
            outcomes = await asyncio.gather(*(self.target(pin, found, t) for t in targets))
        except FetchError as exc:
            error = problem(exc.kind, str(exc), pin, index=exc.index, status=exc.status)
            return {t: PinOutcome(new_entry(pin), errors=[error]) for t in targets}
        except IndexUnreachable as exc:
            error = problem("index-unreachable", redact(str(exc)), pin)
            return {t: PinOutcome(new_entry(pin), errors=[error]) for t in targets}
        cap_hit = self.prober.cap_hit(pin.name)
        for outcome in outcomes:
            outcome.entry.probe_cap = cap_hit
            outcome.warnings.extend(found.warnings)
            if cap_hit:
                outcome.warnings.append(self._cap_warning(pin))
        return dict(zip(targets, outcomes, strict=True))

    def _cap_warning(self, pin: Pin) -> Problem:
        cap = self.settings.max_probes_per_package
        message = (
            f"{pin.name}: probed {cap} files (--max-probes-per-package {cap}); older "
            "versions were not checked, so the newest allowed version may be unknown"
        )
        return problem("probe-cap", message, pin)

    # -- where the pin's files are ---------------------------------------------------

    def lock_index(self, url: str | None) -> IndexConfig | None:
        """The configured index a lock file names, if any."""
        if url is None:
            return None
        key = _url_key(url)
        return next((i for i in self.settings.indexes if _url_key(i.url) == key), None)

    async def listing(self, pin: Pin) -> Listing:
        """The index the lock names when it is configured, else the strategy's answer."""
        index = self.lock_index(pin.index_url)
        if index is None:
            listing = await self.session.finder.listing(pin.name)
            # drift reports shadowed names itself (shadows.py), with the severity it decides
            kept = tuple(w for w in listing.warnings if w.kind != "shadowed-name")
            return Listing(listing.entries, listing.searched, kept)
        page = await self.client.project_page(index, pin.name)
        decision = judge_page(page, Strategy.FIRST_INDEX)
        if decision.action is PageAction.USE:
            return Listing(tuple(group(page.files, index)), (index.name,))
        if decision.action is PageAction.NEXT:
            return Listing((), (index.name,))
        if decision.kind != "auth-failure":
            decision = replace(decision, why=f"{decision.why} (the lock file's index)")
        raise refusal(page, decision)

    # -- one pin on one target -------------------------------------------------------

    async def target(self, pin: Pin, found: Listing, target: Target) -> PinOutcome:
        """The pin on one target: pinned file, shadows, newer versions, hidden ones."""
        out = PinOutcome(new_entry(pin))
        by_version: dict[Version, VersionEntry] = {}
        for entry in found.entries:
            by_version.setdefault(entry.version, entry)
        home = self.home(found.entries)
        shadow = None
        if home is not None:
            # By the pages' hashes, before any probe: a name shadowed on a later index is
            # only ever probed on its own index. A request for the other project's file
            # could make a proxy repository fetch and cache the attacker's package.
            shadow = await self.shadows.check(pin.name, home, found.entries)
            if shadow is not None:
                by_version = {v: e for v, e in by_version.items() if e.index == home}
        pinned = None
        if pin.version is not None:
            entry = by_version.get(pin.version)
            pinned = await check_pin(self.settings, self.prober, pin, entry, found, target, out)
        todo_all = candidates(self.settings, pin, by_version, target)
        out.candidates = [v for v, _, _ in todo_all]
        floor = pin.version if pinned is not None and pinned.status == "allowed" else None
        todo = [c for c in todo_all if floor is None or c[0] > floor]
        probed = await self.prober.probe_newer(pin.name, todo)
        allowed = [p.version for p in probed if p.status == "allowed"]
        newest_allowed = max(allowed, default=floor)
        if pinned is not None:
            probed.append(pinned)
        self.summarize(pin, out, by_version, todo_all, probed, newest_allowed)
        out.entry.shadowed = shadow
        if shadow is not None:
            self.shadows.report(pin, shadow, out)
        if home is not None and home.upstream is not None:
            listed = {e.version for e in found.entries if e.index == home}
            out.entry.hidden = await hidden_versions(
                self.settings, self.client, pin, home, listed, self.now
            )
        return out

    def home(self, entries: Sequence[VersionEntry]) -> IndexConfig | None:
        """The first index, in the configured order, that lists the package."""
        on = {e.index.name for e in entries}
        return next((i for i in self.settings.indexes if i.name in on), None)

    # -- what the probes say ---------------------------------------------------------

    def summarize(
        self,
        pin: Pin,
        out: PinOutcome,
        by_version: dict[Version, VersionEntry],
        installable: list[tuple[Version, VersionEntry, DistFile]],
        probed: list[Probe],
        newest_allowed: Version | None,
    ) -> None:
        """The entry's latest, newest allowed, upgrade, stuck and probed facts."""
        entry = out.entry
        status = {p.version: p for p in probed}
        listed = [v for v, _, _ in installable] + [v for v in [pin.version] if v in by_version]
        newest = max(listed, default=None)
        if newest is not None:
            stamp = uploaded(by_version[newest])
            entry.latest = LatestVersion(
                str(newest),
                stamp,
                age_days(stamp, self.now),
                status[newest].status if newest in status else "unprobed",
            )
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
            since = uploaded(by_version[held[-1].version])
            entry.stuck = StuckVersions(
                [str(p.version) for p in held], since, age_days(since, self.now)
            )
            fallback = str(pin.version or newest_allowed or "") or None
            out.blocked.extend(p.block.to_report(fallback, pin.origin) for p in held if p.block)
        entry.probed = [p.fact() for p in sorted(probed, key=lambda p: p.version)[::-1]]


def _applies(marker: Marker | None, target: Target) -> bool:
    """Lock-only marker variables (extras, dependency_groups) count as true: over-include."""
    try:
        return target.evaluate(marker)
    except (KeyError, ValueError, TypeError):
        return True


def _url_key(url: str) -> str:
    """Index URLs compare without the trailing slash (pylock writes none) and case of host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{parts.scheme.lower()}://{host}:{parts.port}{parts.path.rstrip('/')}"
