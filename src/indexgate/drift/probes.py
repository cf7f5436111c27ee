"""Quarantine probes of pinned and newer files, and the per-package probe cap.

A probe asks the index for one file (HEAD, or a one-byte GET: ``IndexClient.probe``) and
reads the answer as allowed, blocked by a firewall, missing or failed. Each package has a
budget of ``max_probes_per_package`` URLs: the pinned file always gets its probe, newer
versions share what is left, ``WINDOW`` at a time, newest first, until one is allowed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.dists.models import DistFile
from indexgate.drift_model import ProbedFile
from indexgate.index.client import BlockHit, FetchError, IndexClient
from indexgate.resolver.finder import VersionEntry
from indexgate.settings import IndexConfig

__all__ = ["WINDOW", "Probe", "ProbeBudget", "ProbeStatus", "Prober"]

WINDOW = 4  # newer versions probed at once: usually the first window finds an allowed one
ProbeStatus = Literal["allowed", "blocked", "missing", "error"]


@dataclass
class Probe:
    """What the index answered for one file of one version."""

    version: Version
    file: DistFile
    index: IndexConfig
    status: ProbeStatus
    block: BlockHit | None = None
    message: str | None = None
    kind: str | None = None  # the FetchError kind when the probe failed

    def fact(self) -> ProbedFile:
        """The probe as the drift entry's ``probed`` list records it."""
        out = ProbedFile(
            str(self.version),
            self.file.filename,
            self.index.name,
            self.status,
            upload_time=self.file.upload_time or None,
        )
        if self.block is not None:
            info = self.block.info
            out.vendor, out.reason, out.state = info.vendor, info.reason, info.state
            out.details_url = info.details_url or None
        return out


@dataclass
class ProbeBudget:
    """Probe URLs of one package; pins always get theirs, newer versions share the rest."""

    cap: int
    urls: set[str] = field(default_factory=set)
    hit: bool = False

    def take(self, url: str, *, force: bool = False) -> bool:
        """Whether ``url`` may be probed; a URL already taken costs nothing again."""
        if url in self.urls:
            return True
        if not force and len(self.urls) >= self.cap:
            self.hit = True
            return False
        self.urls.add(url)
        return True


class Prober:
    """Probes files on their index within each package's budget, for one drift run."""

    def __init__(self, client: IndexClient, cap: int) -> None:
        self.client = client
        self.cap = cap
        self.budgets: dict[NormalizedName, ProbeBudget] = {}

    def budget(self, name: NormalizedName) -> ProbeBudget:
        """The package's budget, opened on first use."""
        return self.budgets.setdefault(name, ProbeBudget(self.cap))

    def cap_hit(self, name: NormalizedName) -> bool:
        """Whether some file of ``name`` went unprobed because its budget was spent."""
        budget = self.budgets.get(name)
        return bool(budget and budget.hit)

    async def probe(self, version: Version, index: IndexConfig, file: DistFile) -> Probe:
        """One file's answer; a failed request is a ``missing`` or ``error`` probe."""
        try:
            result = await self.client.probe(index, file)
        except FetchError as exc:
            status: ProbeStatus = "missing" if exc.kind == "missing-pin" else "error"
            return Probe(version, file, index, status, message=str(exc), kind=exc.kind)
        if result.block is not None:
            return Probe(version, file, index, "blocked", result.block)
        return Probe(version, file, index, "allowed")

    async def probe_newer(
        self, name: NormalizedName, todo: list[tuple[Version, VersionEntry, DistFile]]
    ) -> list[Probe]:
        """Newest first, ``WINDOW`` at a time, until one is allowed or the budget is spent."""
        budget = self.budget(name)
        probed: list[Probe] = []
        for start in range(0, len(todo), WINDOW):
            window = [c for c in todo[start : start + WINDOW] if budget.take(c[2].url)]
            results = await asyncio.gather(*(self.probe(v, e.index, f) for v, e, f in window))
            probed.extend(results)
            if any(p.status == "allowed" for p in results) or budget.hit:
                break
        return probed
