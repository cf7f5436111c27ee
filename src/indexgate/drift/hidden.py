"""Hidden versions: what an index's ``upstream:`` publishes that its page leaves out.

Policy-compliant component selection (Nexus) and Curation's version filtering remove
blocked versions from the page itself: no 403 ever shows them. Comparing the two pages
does; no file is ever requested from the upstream. The result is the drift entry's
``hidden`` fact, counted as stuck for ``--fail-on stuck``.
"""

from __future__ import annotations

import datetime as dt
import logging

from packaging.version import Version

from indexgate.drift.pins import Pin, age_days, group, uploaded
from indexgate.drift_model import HiddenVersion, HiddenVersions
from indexgate.errors import IndexgateError
from indexgate.index.client import IndexClient
from indexgate.policy import PageAction, Strategy
from indexgate.resolver.finder import judge_page
from indexgate.settings import IndexConfig, Settings

__all__ = ["hidden_versions"]

log = logging.getLogger("indexgate.drift")


async def hidden_versions(
    settings: Settings,
    client: IndexClient,
    pin: Pin,
    index: IndexConfig,
    listed: set[Version],
    now: dt.datetime,
) -> HiddenVersions | None:
    """Versions ``index``'s upstream publishes that its page (``listed``) does not list."""
    upstream = next((i for i in settings.indexes if i.name == index.upstream), None)
    if upstream is None:
        return None
    try:
        page = await client.project_page(upstream, pin.name)
    except IndexgateError as exc:
        log.info("upstream page of %s on %s not read: %s", pin.name, upstream.name, exc)
        return None
    if judge_page(page, Strategy.FIRST_INDEX).action is not PageAction.USE:
        return None
    pre = settings.pre or bool(pin.specifier.prereleases)
    pre = pre or (pin.version is not None and pin.version.is_prerelease)
    rows: list[HiddenVersion] = []
    for entry in group(page.files, upstream):
        v = entry.version
        if v in listed or (v.is_prerelease and not pre):
            continue
        if pin.version is not None and v <= pin.version:
            continue
        if pin.version is None and not pin.specifier.contains(v, prereleases=True):
            continue
        stamp = uploaded(entry)
        rows.append(HiddenVersion(str(v), stamp, age_days(stamp, now)))
    if not rows:
        return None
    dated = [(r.age_days, r) for r in rows if r.age_days is not None]
    oldest = max(dated, key=lambda d: d[0])[1] if dated else None
    return HiddenVersions(
        index.name,
        upstream.name,
        rows,
        since=oldest.upload_time if oldest else None,
        age_days=oldest.age_days if oldest else None,
    )
