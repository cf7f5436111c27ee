"""Shadowed names: the pin's name also listed on a later index, by another project.

Decided from the project pages alone, before any probe: a name shadowed on a later index
is only ever probed on its own index, and no file is ever requested from the later one. A
request for the other project's file could make a proxy repository fetch and cache the
attacker's package. A later index serving the very same files (same sha256) is a mirror
of the same project, not a shadow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from packaging.utils import NormalizedName

from indexgate.dists.models import parse_filename
from indexgate.drift.pins import Pin, PinOutcome, problem
from indexgate.drift_model import ShadowedName, ShadowingIndex
from indexgate.errors import IndexgateError
from indexgate.index.client import IndexClient
from indexgate.policy import PageAction, Strategy
from indexgate.resolver.finder import VersionEntry, judge_page, mirrors
from indexgate.settings import IndexConfig, Settings

__all__ = ["ShadowCheck"]

log = logging.getLogger("indexgate.drift")


class ShadowCheck:
    """Each (name, home index) checked once per run, shared by every pin and target."""

    def __init__(self, settings: Settings, client: IndexClient) -> None:
        self.settings = settings
        self.client = client
        self._tasks: dict[tuple[str, str], asyncio.Future[ShadowedName | None]] = {}

    def check(
        self, name: NormalizedName, index: IndexConfig, entries: Sequence[VersionEntry]
    ) -> asyncio.Future[ShadowedName | None]:
        """The drift entry's ``shadowed`` fact for ``name`` listed first on ``index``."""
        key = (name, index.name)
        task = self._tasks.get(key)
        if task is None:
            task = asyncio.ensure_future(self._check(name, index, entries))
            self._tasks[key] = task
        return task

    async def _check(
        self, name: NormalizedName, index: IndexConfig, entries: Sequence[VersionEntry]
    ) -> ShadowedName | None:
        """The same name on a later index, unless that index serves the very same files.

        A later index holding every file of ours byte for byte (same sha256) is a mirror of
        the same project (a Nexus group proxying PyPI), not a second project with our name.
        """
        indexes = self.settings.indexes
        later = [i for i in indexes[indexes.index(index) + 1 :] if not i.explicit]
        found: list[ShadowingIndex] = []
        for other in later:
            try:
                page = await self.client.project_page(other, name)
            except IndexgateError as exc:
                log.info("shadow check of %s on %s skipped: %s", name, other.name, exc)
                continue
            # not there, or refused (a login page): only a page it serves can shadow ours
            if (
                judge_page(page, Strategy.FIRST_INDEX).action is not PageAction.USE
                or not page.files
            ):
                continue
            ours = [f for e in entries if e.index == index for f in e.files]
            if mirrors(ours, page.files):
                continue
            versions = {p.version for f in page.files if (p := parse_filename(f.filename))}
            newest_first = [str(v) for v in sorted(versions, reverse=True)]
            found.append(ShadowingIndex(other.name, newest_first))
        if not found:
            return None
        unsafe = self.settings.strategy is not Strategy.FIRST_INDEX
        severity = "error" if unsafe and name not in self.settings.sources else "warning"
        return ShadowedName(index.name, found, severity)

    def report(self, pin: Pin, shadow: ShadowedName, out: PinOutcome) -> None:
        """The shadowed-name problem: an error where the strategy may take the other one."""
        on = "; ".join(f"'{s.index}' ({_some(s.versions)})" for s in shadow.on)
        message = (
            f"{pin.name} comes from index '{shadow.index}' but the name also exists on {on}: "
            "a dependency-confusion risk"
        )
        if shadow.severity == "error":
            message += (
                f"; under {self.settings.strategy} an install may take the other project. "
                "Pin the package to its index (`sources:`) or use first-index"
            )
            out.errors.append(problem("shadowed-name", message, pin, index=shadow.index))
        else:
            message += "; first-index keeps it on its own index as long as that index lists it"
            out.warnings.append(problem("shadowed-name", message, pin, index=shadow.index))


def _some(versions: Sequence[str], n: int = 5) -> str:
    return ", ".join(versions[:n]) + (", …" if len(versions) > n else "")
