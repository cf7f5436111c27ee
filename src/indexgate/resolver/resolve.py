"""Resolve each target and turn the outcome (or the reason there is none) into a report.

A check whose previous outcome is reused (``reuse``) runs no resolver: resolvelib, the
provider and the candidates are imported when a target is resolved, not at start-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from indexgate.errors import IndexUnreachable
from indexgate.index.client import (
    BlockHit,
    FetchError,
    IndexClient,
    TargetFilter,
    never_matched,
)
from indexgate.index.http import HttpClient
from indexgate.model import (
    Blocked,
    Problem,
    Report,
    Resolved,
    TargetReport,
    vendor_label,
)
from indexgate.redact import redact
from indexgate.resolver.fetch_loop import FetchLoop, Pending
from indexgate.resolver.reuse import Reuse
from indexgate.settings import Settings
from indexgate.sources.model import SourceRequirement, SourceSet
from indexgate.targets import Target

if TYPE_CHECKING:
    from indexgate.resolver.candidates import Candidate, Req
    from indexgate.resolver.conflicts import ConflictTracker
    from indexgate.resolver.finder import Finder
    from indexgate.resolver.provider import Provider

log = logging.getLogger("indexgate.resolve")
MAX_ROUNDS = 20000
SEND_MOMENT = 0.001  # seconds the loop runs for the first requests to go out


@dataclass
class Session:
    """The network side of one run, shared by every target (and by drift)."""

    settings: Settings
    fetch_loop: FetchLoop
    http: HttpClient
    client: IndexClient

    @cached_property
    def finder(self) -> Finder:
        """The index strategies, made when first asked for: a check whose previous outcome
        is reused lists no package, and leaves the finder's module out of its start-up."""
        from indexgate.resolver.finder import Finder

        return Finder(self.settings, self.client)


@contextmanager
def open_session(settings: Settings, *, only_usable: bool = False) -> Iterator[Session]:
    """``only_usable``: pages keep only the files one of the targets can install (check);
    drift reads whole pages."""
    fetch_loop = FetchLoop()
    cache = None
    if settings.cache_dir is not None:
        from indexgate.index.cache import FileCache

        cache = FileCache(settings.cache_dir, background=True)
    http = HttpClient(
        concurrency=settings.concurrency,
        cache=cache,
        request_timeout=settings.timeout,
        max_time=settings.max_time,
        max_body=settings.max_body_size,
        network=settings.network,
    )
    fetch_loop.check = http.check_run_deadline  # the run deadline also ends a computing resolver
    keep = TargetFilter(settings.targets) if only_usable else None
    client = IndexClient(http, settings.indexes, allow_build=settings.allow_build, keep=keep)
    try:
        yield Session(settings, fetch_loop, http, client)
    finally:
        fetch_loop.close(http.aclose)
        if cache is not None:
            cache.close()  # the entries written behind are on disk


def check(settings: Settings, sources: SourceSet) -> Report:
    report = Report(command="check", warnings=list(settings.warnings))
    with open_session(settings, only_usable=True) as session:
        proof = start_proof(session)
        if proof is not None:  # its requests go out before the key below is worked out
            session.fetch_loop.run(lambda: asyncio.sleep(SEND_MOMENT))
        # Nothing changed since a run with these inputs: its outcome, without resolving.
        # The key hashes each index's credentials slowly (PBKDF2, ~8 ms an index): that
        # CPU is spent while the auth checks are on the wire, not after they answered.
        reuse = Reuse.prepare(session.client, settings, sources)
        refused = proof.result() if proof is not None else []
        if refused:
            report.targets = refused_targets(settings, refused)
            return report
        reused = session.fetch_loop.run(reuse.attempt) if reuse is not None else None
        if reused is not None:
            report.targets, never = reused
        else:
            # The direct requirements' pages go out before the resolver's modules load
            # (resolvelib, the provider): the loading is CPU, the answers a round trip away.
            session.fetch_loop.run(lambda: ask_direct_pages(session, sources))
            # One thread (see fetch_loop.py): every target's prefetches start now, then each
            # target resolves in turn, the network working for the later ones meanwhile.
            providers = [start_target(session, sources, t) for t in settings.targets]
            report.targets = [finish_target(session, p) for p in providers]
            if sources.provided:  # names -e ./lib or pkg @ url supply: never from an index
                from indexgate.sources.projects import supplied_locally

                for t in report.targets:
                    supplied_locally(sources, t)
            never = never_matched(session.client)
            if reuse is not None:
                reuse.record(report.targets, never)
        report.warnings.extend(never)
        stats = session.http.stats
        log.info(
            "%d requests, %d bytes, %d answered by the cache, %d revalidated (304)",
            stats.requests,
            stats.bytes,
            stats.cache_hits,
            stats.revalidated,
        )
    return report


def prove_credentials(session: Session) -> list[Problem]:
    """The auth check of every index with credentials (index/authcheck.py), before any
    project page is asked of any index: the failures, empty when all passed."""
    proof = start_proof(session)
    return proof.result() if proof is not None else []


def start_proof(session: Session) -> Pending[list[Problem]] | None:
    """The auth checks of ``prove_credentials``, started (they go out at the loop's next
    wait) for the caller to take the failures later; None when no index needs one."""
    from indexgate.index import authcheck

    if not any(authcheck.needs_proof(i) for i in session.settings.indexes):
        return None
    return session.fetch_loop.submit(
        lambda: authcheck.prove_credentials(session.client.prove, session.settings.indexes)
    )


def refused_targets(
    settings: Settings, problems: Sequence[Problem], *, drift: bool = False
) -> list[TargetReport]:
    """Every target's report when an auth check failed: those errors and nothing else."""
    targets = []
    for target in settings.targets:
        t = TargetReport(
            python=target.python,
            platform=target.platform,
            errors=[replace(p) for p in problems],
            drift=[] if drift else None,
        )
        targets.append(t)
    return targets


async def ask_direct_pages(session: Session, sources: SourceSet) -> None:
    """Start the listing of every target's direct requirements, then let the loop run for
    a moment: long enough for the fetches to start (a plain-http request is written in a
    few turns of the loop; a TLS connection only starts its handshake, which goes on when
    the resolver next waits), far shorter than the round trip they wait for."""
    for target in session.settings.targets:
        for sr in applicable(sources.requirements, target):
            session.finder.listing(canonicalize_name(sr.requirement.name))
    await asyncio.sleep(SEND_MOMENT)


def applicable(
    requirements: Iterable[SourceRequirement], target: Target
) -> Iterator[SourceRequirement]:
    """The requirements whose marker holds on ``target``."""
    return (sr for sr in requirements if target.evaluate(sr.requirement.marker))


def direct_requirements(sources: SourceSet, target: Target) -> tuple[list[Req], dict]:
    from indexgate.resolver.candidates import Req

    direct: list[Req] = []
    constraints: dict[NormalizedName, list[Req]] = {}
    for sr in applicable(sources.requirements, target):
        direct.append(Req.from_requirement(sr.requirement, origin=sr.origin, hashes=sr.hashes))
    for sr in applicable(sources.constraints, target):
        req = Req.from_requirement(sr.requirement, origin=sr.origin)
        constraints.setdefault(req.name, []).append(req)
    return direct, constraints


def start_target(session: Session, sources: SourceSet, target: Target) -> Provider:
    """The target's provider, its direct requirements' prefetches started."""
    from indexgate.resolver.provider import Provider

    direct, constraints = direct_requirements(sources, target)
    provider = Provider(
        session.settings,
        target,
        session.fetch_loop,
        session.finder,
        direct,
        constraints,
    )
    if sources.direct:  # pkg @ https://..., git+...: reported, not resolved
        from indexgate.sources.projects import not_from_index

        provider.findings.warnings.extend(not_from_index(sources, target))
    return provider


def finish_target(session: Session, provider: Provider) -> TargetReport:
    """Resolve the provider's target and report the outcome."""
    from resolvelib import ResolutionImpossible
    from resolvelib.resolvers import ResolutionTooDeep

    from indexgate.resolver.conflicts import ConflictTracker

    target = provider.target
    report = TargetReport(python=target.python, platform=target.platform)
    tracker = ConflictTracker(provider)
    try:
        result = _resolve(provider, tracker)
    except FetchError as exc:
        report.errors.append(_fetch_problem(exc, provider))
    except IndexUnreachable as exc:
        report.errors.append(Problem(kind="index-unreachable", message=redact(str(exc))))
    except ResolutionImpossible as exc:
        report.errors.extend(explain(exc.causes, provider))
    except ResolutionTooDeep:
        report.errors.append(tracker.too_deep(MAX_ROUNDS))
    else:
        report.resolution = _resolution(result)
    findings = provider.findings
    chosen = {r.name: r.version for r in report.resolution}
    report.blocked = in_report_order(
        [
            hit.to_report(chosen.get(hit.name), provider.origins.get(hit.name))
            for hit in findings.blocks.values()
        ]
    )
    report.warnings = list(findings.warnings)
    _shadow_errors(report, provider)
    return report


def _resolve(provider: Provider, tracker: ConflictTracker) -> object:
    """The resolver's result, once a pass met no block that a probe it did not wait for
    found afterwards (``Provider.settle``, found.py): then that pass knew every block."""
    from resolvelib import ResolutionImpossible
    from resolvelib.resolvers import ResolutionTooDeep

    from indexgate.resolver.pins import PinMemoResolver  # pin checks remembered

    while True:
        try:
            resolver = PinMemoResolver(provider, tracker)
            result = resolver.resolve(provider.direct, max_rounds=MAX_ROUNDS)
        except (ResolutionImpossible, ResolutionTooDeep, FetchError, IndexUnreachable):
            if provider.settle():
                raise
            continue
        if provider.settle():
            return result


def in_report_order(blocks: list[Blocked]) -> list[Blocked]:
    """Blocks by package, newest version first, then file: the same order on every run
    (probes run concurrently and answer in any order), so that reports compare."""
    by_file = sorted(blocks, key=lambda b: (b.file, b.index))
    by_version = sorted(by_file, key=_version_key, reverse=True)
    return sorted(by_version, key=lambda b: b.name)


def _version_key(blocked: Blocked) -> tuple[int, Version | str]:
    try:
        return (1, Version(blocked.version))
    except InvalidVersion:
        return (0, blocked.version)


def _shadow_errors(report: TargetReport, provider: Provider) -> None:
    """A shadowed name (finder.shadowed, unsafe strategies only) is an error, as in drift:
    for each resolved package, or for every package when nothing resolved."""
    resolved = {r.name for r in report.resolution}
    shadows = [w for w in report.warnings if w.kind == "shadowed-name"]
    for w in shadows:
        report.warnings.remove(w)
        if resolved and w.package not in resolved:
            continue
        origin = provider.origins.get(w.package) if w.package else None
        if origin is not None:
            w = replace(w, file=origin.file, line=origin.line)
        report.errors.append(w)


def _resolution(result: object) -> list[Resolved]:
    mapping: dict[str, Candidate] = result.mapping  # type: ignore[attr-defined]
    criteria = result.criteria  # type: ignore[attr-defined]
    requested: dict[str, list[str]] = {}
    for ident, criterion in criteria.items():
        base = ident.split("[", 1)[0]
        for info in criterion.information:
            who = info.requirement.requested_by if info.parent is None else str(info.parent)
            if (
                who not in requested.setdefault(base, [])
                and who != f"{base} {mapping[ident].version}"
            ):
                requested[base].append(who)
    out = []
    for ident, c in sorted(mapping.items()):
        if c.extras:
            continue
        out.append(
            Resolved(
                c.name, str(c.version), c.index.name, c.file.filename, requested.get(ident, [])
            )
        )
    return out


def _fetch_problem(exc: FetchError, provider: Provider) -> Problem:
    package = getattr(exc, "package", None)
    origin = provider.origins.get(package) if package else None
    return Problem(
        kind=exc.kind,
        message=str(exc),
        package=package,
        index=exc.index,
        status_code=exc.status,
        file=origin.file if origin else None,
        line=origin.line if origin else None,
    )


def explain(causes: Sequence, provider: Provider) -> list[Problem]:
    """Name the requirements that conflict, and the blocked artifacts in the way."""
    unmet = _unmet_direct(provider)
    if unmet:
        return unmet
    by_name: dict[NormalizedName, list] = {}
    for cause in causes:
        by_name.setdefault(cause.requirement.name, []).append(cause)
    problems = []
    findings = provider.findings
    for name, infos in by_name.items():
        reqs = [i.requirement for i in infos]
        origin = next((r.origin for r in reqs if r.origin), None) or provider.origins.get(name)
        asked = ", ".join(
            f"{r} (from {r.requested_by if i.parent is None else i.parent})"
            for r, i in zip(reqs, infos, strict=True)
        )
        # -c constraints narrow the versions too, and an == there is a pin like any other
        limits = [*reqs, *provider.constraints.get(name, [])]
        blocks = [
            h
            for h in findings.blocks.values()
            if h.name == name
            and all(r.specifier.contains(h.version, prereleases=True) for r in limits)
        ]
        pinned = [r for r in limits if r.exact_version is not None and r.origin is not None]
        kind = "no-solution"
        if blocks:
            detail = ", ".join(f"{name} {h.version} ({_why(h)})" for h in blocks)
            spec = " and ".join(
                str(r) if r in reqs else f"{r} (constraint, {r.origin})" for r in limits
            )
            message = f"{name}: every version allowed by {spec} is blocked: {detail}"
            if pinned:
                kind = "blocked-pin"
                origin = pinned[0].origin
        elif name in findings.hash_mismatch:
            kind = "hash-mismatch"
            message = f"{name}: no file of {name} on the index matches the --hash values of {asked}"
        else:
            listing = provider.listing(name)
            if not listing.entries:
                searched = ", ".join(listing.searched) or "none"
                message = (
                    f"{name} was not found on any index (searched: {searched}); required by {asked}"
                )
            else:
                message = f"no usable version of {name} satisfies all of: {asked}"
                why = _exclusions(provider, name)
                if why:
                    message += f". Skipped: {why}"
                dead = next(filter(None, map(provider.dead_end, reqs)), None)
                if dead:
                    message += f". Conflict: {dead}"
            refused = [w for w in listing.warnings if w.kind == "skipped-index"]
            if refused:  # a likely cause: say which index would not answer
                message += "; not searched under the unsafe index strategy: " + ", ".join(
                    f"{w.index} (HTTP {w.status_code})" for w in refused
                )
        problems.append(
            Problem(
                kind=kind,
                message=message,
                package=name,
                file=origin.file if origin else None,
                line=origin.line if origin else None,
            )
        )
    return problems


def _unmet_direct(provider: Provider) -> list[Problem]:
    """The user's requirements that no version can meet because each one's dependencies
    conflict with the user's other requirements: the root of the conflict, as uv reports
    it, rather than the last requirement the resolver happened to try. Blocked artifacts
    keep their own explanation (the causes path)."""
    problems = []
    blocked = {h.name for h in provider.findings.blocks.values()}
    for req in provider.direct:
        if req.name in blocked or not provider.cannot_be_met(req):
            continue
        chain = provider.dead_end(req)
        if chain is None or blocked & provider.dead_names(req):
            continue
        origin = req.origin
        problems.append(
            Problem(
                kind="no-solution",
                package=req.name,
                message=(
                    f"no version of {req} ({req.requested_by}) can be used with the other "
                    f"requirements: {chain}"
                ),
                file=origin.file if origin else None,
                line=origin.line if origin else None,
            )
        )
    return problems


def _why(hit: BlockHit) -> str:
    text = f"{vendor_label(hit.info.vendor)}: {hit.info.reason}"
    if hit.info.details_url:
        text += f" {hit.info.details_url}"
    return text


def _exclusions(provider: Provider, name: NormalizedName) -> str:
    findings = provider.findings
    parts = [f"{n} file(s) skipped: {why}" for why, n in findings.excluded.get(name, {}).items()]
    parts += findings.unusable.get(name, [])[:3]
    return "; ".join(parts)
