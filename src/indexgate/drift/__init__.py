"""``indexgate drift``: how the pinned dependencies stand against the firewalls, tonight.

A scheduled run re-checks every pin (lock files, ``==`` lines of requirements files) and
every other direct requirement without resolving anything: the file each target would
install is found on its index and probed (HEAD, or a one-byte GET) so a firewall that has
started refusing it is seen before a deploy is. Newer versions are probed newest first,
a few at a time, until one is allowed: that answers "upgrade available" and "stuck in
quarantine" without walking a whole history. Every URL is probed at most once per run
(the client memoizes) and at most ``max_probes_per_package`` per package.

The per-package ``drift`` section of each target is a list of ``DriftEntry``
(indexgate/model.py) whose facts are typed (indexgate/drift_model.py), each written as the
JSON's object and read back from it, so the renderers and the next run's
``--previous-report`` read the same facts; changes.py compares with that. Rendering is
report/drift.py's.

This package owns the drift run; its public face is ``drift()`` and ``read_previous``:

- ``pins.py``: the pins collected from lock files and requirements, and each pin's check
  on its index (the installed file, its hashes, its probe);
- ``probes.py``: quarantine probes of pinned and newer files, and the per-package cap;
- ``shadows.py``: shadowed names, decided by page hashes, never by a file request to a
  later index;
- ``hidden.py``: versions an ``upstream:`` publishes that the index's page hides;
- ``run.py``: ``DriftRun``, one run of every pin on every target;
- ``changes.py``: what changed since the last report (``--previous-report``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Any

from packaging.version import Version

from indexgate.drift.changes import changes as changes_since
from indexgate.drift.changes import read_previous
from indexgate.drift.pins import Pin, collect_pins
from indexgate.drift.run import DriftRun
from indexgate.index.client import never_matched
from indexgate.model import Problem, Report, TargetReport
from indexgate.resolver.resolve import open_session, prove_credentials, refused_targets
from indexgate.settings import Settings
from indexgate.sources.model import SourceSet
from indexgate.sources.projects import not_from_index

__all__ = ["Pin", "collect_pins", "drift", "read_previous"]

log = logging.getLogger("indexgate.drift")


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
        run = DriftRun(session, now)
        results = session.fetch_loop.run(lambda: run.all(pins, targets))
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
        report.changes = changes_since(report, previous, listed)
    return report


def _extend_unique(into: list[Problem], items: Iterable[Problem]) -> None:
    for item in items:
        if item not in into:
            into.append(item)
