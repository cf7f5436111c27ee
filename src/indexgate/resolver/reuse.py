"""Take the previous run's outcome when nothing it depended on changed.

A pull request that changes no requirement is the common case for a required check, and
its run would resolve the same pages to the same answer. So a ``check`` run that passed
without errors is kept in the cache, keyed by everything it was computed from
(``inputs_key``): the requirements as parsed (with the lines they came from), the settings
that shape a resolution (indexes with their order, codes and strategy, targets, pre, binary
rules, fallback, ``sources`` pins, ``fail-on``), a slow hash of each index's credentials
(never the credentials), indexgate's version and its code. With it go the project pages the
run read (each one's status and the hash of its bytes) and every file whose metadata or
downloadability it asked about, with the block found on it, if any.

The next run with the same key asks for all of it again at once: every recorded page
(a 304 where the index offers validators; under first-index a package's later index only
once its earlier ones still answer as before) and a probe of every recorded file (its
metadata is immutable by its hash, and a warm resolution would read it from the cache
too). Only when every page is byte for byte the same and every file answers as before
(downloadable, or blocked for the same reason) is the recorded report used, without
running the resolver: its result was a function of exactly these answers. Anything else (a
new version on a page, a page gone, a probe that now answers 403, a block lifted or
changed, an error) and the run resolves in full, from the answers already fetched (every
fetch is memoized for the run, so falling back costs no request twice); the first answer
that differs starts it.

Blocked artifacts are re-verified, not assumed: each recorded block is asked again as the
resolution asked it, and must answer with the same status, vendor, reason and details, or
the run resolves in full. Runs are not kept when they had errors, used ``--allow-build``
(a build may read more than the pages), a flat index (a folder or find-links page), a token
provider, or a file (or PEP 658 metadata file) without a sha256 on its page (its bytes could
change under an unchanged page).
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path
from typing import Any

import indexgate
from indexgate.dists.models import DistFile, dist_files, dist_row
from indexgate.index.client import (
    BlockHit,
    IndexClient,
    MetadataResult,
    ProbeResult,
    file_key,
)
from indexgate.model import Blocked, Problem, Resolved, TargetReport
from indexgate.policy import Strategy
from indexgate.redact import redact
from indexgate.settings import IndexConfig, Settings
from indexgate.sources.model import SourceSet

log = logging.getLogger("indexgate.reuse")

KIND = "reuse1"  # the cache's blob kind: a new format gets a new kind
# Settings that change how fast a run is, not what it finds.
_NOT_INPUTS = frozenset(
    {"cache_dir", "concurrency", "timeout", "max_time", "max_body_size", "network"}
)
# Per-index secrets: never written anywhere, only into ``_credential_hash``.
_SECRET_FIELDS = frozenset({"username", "password", "password_command"})
# A block's identity, as a report shows it (the rest of a ``Blocked`` comes from the run).
_RUN_FIELDS = ("name", "version", "file", "index", "fallback", "file_path", "line")
_KDF_ROUNDS = 10_000


def inputs_key(settings: Settings, sources: SourceSet) -> str | None:
    """What the run's outcome is a function of, hashed; None when it must not be reused."""
    if settings.allow_build or not settings.targets:
        return None
    # Local projects and direct references are read from disk or their URL, not from the
    # pages this records: a change there would go unseen.
    if any(getattr(sources, part, None) for part in ("local_projects", "direct", "provided")):
        return None
    for index in settings.indexes:
        if index.format != "simple" or index.keyring_provider or index.password_command:
            return None
    try:
        data = {
            "version": indexgate.__version__,
            "code": _code_fingerprint(),
            "settings": {
                f.name: _canon(getattr(settings, f.name))
                for f in fields(settings)
                if f.name not in _NOT_INPUTS
            },
            "credentials": [_credential_hash(i) for i in settings.indexes],
            "sources": _canon(sources),
            "report": [[f.name for f in fields(c)] for c in (TargetReport, Resolved, Blocked)],
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    except _NotCanonical as exc:  # a value without a stable text: never match
        log.debug("no reuse: %s", exc)
        return None
    return hashlib.sha256(f"{KIND}\0{text}".encode()).hexdigest()


class Reuse:
    """One run's attempt to reuse, and its record for the next run."""

    def __init__(self, client: IndexClient, settings: Settings, key: str) -> None:
        self.client = client
        self.settings = settings
        self.key = key
        self._cache = client.http.cache  # blobs through the HttpCache protocol

    @classmethod
    def prepare(cls, client: IndexClient, settings: Settings, sources: SourceSet) -> Reuse | None:
        """None without a cache that keeps blobs, or for a run that is never reused."""
        cache = client.http.cache
        if cache is None or not cache.enabled:
            return None
        try:
            key = inputs_key(settings, sources)
        except Exception as exc:  # reuse only saves time: resolve in full instead
            log.debug("no reuse: %s", type(exc).__name__)
            return None
        return cls(client, settings, key) if key is not None else None

    # -- the next run -------------------------------------------------------------

    async def attempt(self) -> tuple[list[TargetReport], list[Problem]] | None:
        """The recorded targets and run-wide warnings when every recorded answer is the
        same now; else None (the fetches made stay memoized for the full resolution that
        follows).

        Reuse only ever saves time: whatever goes wrong here, the run resolves in full.
        """
        try:
            return await self._attempt()
        except Exception as exc:  # a full resolution is always correct
            log.debug("reuse failed (%s): resolving", type(exc).__name__)
            return None

    async def _attempt(self) -> tuple[list[TargetReport], list[Problem]] | None:
        entry = self._load()
        if entry is None:
            return None
        pages, files, targets, warnings = entry
        by_name: dict[str, list[tuple[IndexConfig, str, int, str | None]]] = {}
        for index, name, status, key in pages:
            by_name.setdefault(name, []).append((index, name, status, key))
        in_order = self.settings.strategy is Strategy.FIRST_INDEX
        checks = [self._page_check(chain, in_order) for chain in by_name.values()]
        checks += [self._file_check(index, f, block) for index, f, block in files]
        # Every revalidation and probe at once; each says whether its answer is the same.
        # The first that differs ends the wait: the resolution starts while the others
        # finish (their answers are memoized for it, and their errors left for it to meet).
        outcome = await _first_difference(checks)
        if outcome is not True:
            log.info("previous resolution not reused (%s): resolving", redact(str(outcome)))
            return None
        log.info(
            "reused the previous resolution: %d pages unchanged, %d files probed",
            len(pages),
            len(files),
        )
        return targets, warnings

    def _page_check(
        self, chain: list[tuple[IndexConfig, str, int, str | None]], in_order: bool
    ) -> Check:
        """One package's pages. The usual one, a single index's page that had files, is
        judged as its answer comes (no task of its own: a warm run has hundreds); any
        other is ``_same_pages``."""
        if len(chain) == 1 and chain[0][3] is not None:
            index, name, status, key = chain[0]
            answer = asyncio.ensure_future(self.client.page_answer(index, name))
            return answer, lambda got: _same_answer(got, index, name, status, key)
        return asyncio.ensure_future(self._same_pages(chain, in_order)), _as_is

    async def _same_pages(
        self, chain: list[tuple[IndexConfig, str, int, str | None]], in_order: bool
    ) -> bool | str:
        """One package's pages, in index order; under first-index one after another, so a
        later index is asked only when the earlier ones still do not have the package."""

        async def same(index: IndexConfig, name: str, status: int, key: str | None) -> bool | str:
            got = await self.client.page_answer(index, name)
            outcome = _same_answer(got, index, name, status, key)
            if outcome is True and key is None:  # a 404, say: read as a resolution reads it
                page = await self.client.project_page(index, name)
                if page.status != status or page.refused is not None:  # a refusal?
                    return _changed(index, name)
            return outcome

        if in_order:
            for item in chain:
                outcome = await same(*item)
                if outcome is not True:
                    return outcome
            return True
        results = await asyncio.gather(*(same(*item) for item in chain))
        return next((r for r in results if r is not True), True)

    def _file_check(self, index: IndexConfig, f: DistFile, block: dict[str, Any] | None) -> Check:
        """Ask what a resolution asks of the file; True when the answer is as recorded.

        A file that was fine is probed (its metadata, read by its hash, cannot have
        changed, and a warm resolution reads it from the cache too): judged as the probe
        answers, with no task of its own. A blocked one is asked exactly as a resolution
        asks, so its block must read the same.
        """
        if block is None:
            probe = asyncio.ensure_future(self.client.probe(index, f, track=False))
            return probe, lambda result: _same_block(f, block, result.block)
        now = asyncio.ensure_future(self._block_now(index, f))
        return now, lambda hit: _same_block(f, block, hit)

    async def _block_now(self, index: IndexConfig, f: DistFile) -> BlockHit | None:
        """The block a resolution would meet on the file now, if any."""
        meta, probe = await _metadata_and_probe(self.client, index, f)
        return meta.block or (probe.block if probe else None)

    def _load(
        self,
    ) -> (
        tuple[
            list[tuple[IndexConfig, str, int, str | None]],
            list[tuple[IndexConfig, DistFile, dict[str, Any] | None]],
            list[TargetReport],
            list[Problem],
        ]
        | None
    ):
        raw = self._cache.get_blob(KIND, self.key) if self._cache is not None else None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            indexes = {i.name: i for i in self.settings.indexes}
            pages = [(indexes[i], n, int(s), k) for i, n, s, k in data["pages"]]
            rows = data["files"]
            dists = dist_files(row for _, row, _ in rows)
            files = [(indexes[i], f, b) for (i, _, b), f in zip(rows, dists, strict=True)]
            targets = [_target(t) for t in data["targets"]]
            warnings = [Problem(**w) for w in data["warnings"]]
        except (ValueError, TypeError, KeyError) as exc:
            log.debug("reuse entry unreadable (%s): ignored", exc)
            return None
        return pages, files, targets, warnings

    # -- this run, for the next ------------------------------------------------------

    def record(self, targets: list[TargetReport], warnings: list[Problem]) -> None:
        """Keep this run's outcome (its targets, and the run-wide warnings the pages gave,
        such as ``index-never-matched``) and what it depended on, if it may be reused."""
        try:
            self._record(targets, warnings)
        except Exception as exc:  # not recording costs the next run time only
            log.debug("outcome not recorded for reuse (%s)", type(exc).__name__)

    def _record(self, targets: list[TargetReport], warnings: list[Problem]) -> None:
        cache = self._cache
        if cache is None or any(t.errors for t in targets):
            return
        pages = self.client.pages_read()
        if any(p.refused for p in pages):  # a refusal is an error, never an outcome to keep
            return
        # The files as the pages list them now (speculation may have asked about a file as
        # the cache's older copy of its page listed it: the same file when the same key).
        listed = {(p.index.name, f.url): f for p in pages for f in p.files}
        blocks = {(b.index, b.file): _block_identity(asdict(b)) for t in targets for b in t.blocked}
        picked = {(r.index, r.file) for t in targets for r in t.resolution}
        files = []
        for index, asked in self.client.touched_files():
            f = listed.get((index.name, asked.url))
            if f is None or (f is not asked and file_key(f) != file_key(asked)):
                continue  # not on the page now: no resolution of these pages can use it
            if not (f.hashes or {}).get("sha256") or (
                f.metadata_hashes is not None and not f.metadata_hashes.get("sha256")
            ):  # bytes that may change under an unchanged page: resolve every time
                log.debug("no reuse: %s has no sha256 on its page", f.filename)
                return
            hit = self.client.block_found(asked)
            if hit == "unknown":  # a fetch nobody waited for: the outcome cannot rest on it
                if (index.name, f.filename) in picked or (index.name, f.filename) in blocks:
                    return
                continue
            block = _block_identity(asdict(hit.to_report(None, None))) if hit else None
            reported = blocks.pop((index.name, f.filename), block)
            if reported != block:  # the report and the fetches disagree: do not guess
                return
            files.append([index.name, list(dist_row(f)), block])
        if blocks:  # a block not traced to a file this run asked about: do not guess
            return
        data = {
            "pages": [[p.index.name, p.name, p.status, p.key] for p in pages],
            "files": files,
            "targets": [asdict(t) for t in targets],
            "warnings": [asdict(w) for w in warnings],
        }
        cache.put_blob(KIND, self.key, json.dumps(data, separators=(",", ":")).encode())


async def _metadata_and_probe(
    client: IndexClient, index: IndexConfig, f: DistFile
) -> tuple[MetadataResult, ProbeResult | None]:
    """The fetches preparing a candidate makes (as the provider makes them): metadata
    and, unless it was just read from the file itself over the network, a probe."""
    if f.metadata_url is None:
        meta = await client.metadata(index, f, track=False)
        if not meta.from_cache or meta.block is not None:
            return meta, None
        return meta, await client.probe(index, f, track=False)
    return await asyncio.gather(
        client.metadata(index, f, track=False), client.probe(index, f, track=False)
    )


# A check: the fetch's future and what says of its result whether it is as recorded (True)
# or how it differs (words).
Check = tuple[asyncio.Future[Any], Callable[[Any], bool | str]]


def _same_answer(
    got: tuple[Any, str | None], index: IndexConfig, name: str, status: int, key: str | None
) -> bool | str:
    """A page's answer (``page_answer``'s) against its recorded status and key."""
    answer, now = got
    return True if answer.status == status and now == key else _changed(index, name)


def _changed(index: IndexConfig, name: str) -> str:
    return f"the page of {name} on '{index.name}' changed"


def _same_block(f: DistFile, block: dict[str, Any] | None, hit: BlockHit | None) -> bool | str:
    """The file's block now against the recorded one."""
    now = _block_identity(asdict(hit.to_report(None, None))) if hit is not None else None
    if now != block:
        if now is None:
            return f"{f.filename} is downloadable now"
        return f"{f.filename} is blocked now" + (" (another answer)" if block else "")
    return True


def _as_is(outcome: bool | str) -> bool | str:
    return outcome


async def _first_difference(checks: list[Check]) -> bool | str:
    """True when every check judged its result True; else the first other judgement (an
    error in words), as soon as it comes. Judged in the fetches' own done callbacks: one
    wake-up for the caller, and no task per check (a warm run has hundreds). A check still
    running then is nobody's to wait for: its error (if any) is the resolution's to meet."""
    verdict: asyncio.Future[bool | str] = asyncio.get_running_loop().create_future()
    left = len(checks)

    def done(judge: Callable[[Any], bool | str], fetch: asyncio.Future[Any]) -> None:
        nonlocal left
        left -= 1
        if fetch.cancelled():
            outcome: bool | str = "cancelled"
        elif (error := fetch.exception()) is not None:  # marks the error as retrieved
            outcome = f"{type(error).__name__}: {error}"
        else:
            try:
                outcome = judge(fetch.result())
            except Exception as exc:  # a judgement that fails is a difference too
                outcome = f"{type(exc).__name__}: {exc}"
        if verdict.done():
            return
        if outcome is not True:
            verdict.set_result(outcome)
        elif left == 0:
            verdict.set_result(True)

    if not checks:
        return True
    for fetch, judge in checks:
        fetch.add_done_callback(lambda future, judge=judge: done(judge, future))
    return await verdict


def _block_identity(blocked: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in blocked.items() if k not in _RUN_FIELDS}


def _target(data: dict[str, Any]) -> TargetReport:
    if data.get("errors") or data.get("drift") is not None:
        raise ValueError("not a recorded check target")
    return TargetReport(
        python=data["python"],
        platform=data["platform"],
        status=data["status"],
        resolution=[Resolved(**r) for r in data["resolution"]],
        blocked=[Blocked(**b) for b in data["blocked"]],
        errors=[],
        warnings=[Problem(**w) for w in data["warnings"]],
    )


# -- the key ---------------------------------------------------------------------------


class _NotCanonical(Exception):
    pass


def _canon(value: Any) -> Any:
    """A JSON value that is equal exactly when the inputs are: dataclasses field by field
    (secrets and fields left out of ``repr`` skipped), sets sorted, enums by value."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return _canon(value.value)
    if isinstance(value, Path):
        return str(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: _canon(getattr(value, f.name))
            for f in fields(value)
            if f.repr and f.name not in _SECRET_FIELDS
        }
    if isinstance(value, Mapping):
        return sorted([_canon(k), _canon(v)] for k, v in value.items())
    if isinstance(value, set | frozenset):
        return sorted((_canon(v) for v in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    text = str(value)  # Requirement, Marker, SpecifierSet, Version: canonical texts
    if " at 0x" in text or " object at " in text:
        raise _NotCanonical(f"{type(value).__name__} has no stable text")
    return [type(value).__name__, text]


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _credential_hash(index: IndexConfig) -> str | None:
    """The index's credentials, stretched (PBKDF2) and salted with its URL: equal for the
    same credentials, useless for finding them; None without credentials."""
    if index.auth is None:
        return None
    user, password = index.auth
    secret = f"{user}\0{password}".encode()
    salt = f"indexgate-reuse\0{index.url}".encode()
    return hashlib.pbkdf2_hmac("sha256", secret, salt, _KDF_ROUNDS).hex()


_FINGERPRINT: list[str] = []


def _code_fingerprint() -> str:
    """indexgate's own files by name, size and modification time: a changed install (or a
    working tree edited between runs) never reuses an outcome the old code produced."""
    if not _FINGERPRINT:
        parts: list[str] = []
        _fingerprint_folder(str(Path(indexgate.__file__).parent), "", parts)
        _FINGERPRINT.append(hashlib.sha256("\n".join(parts).encode()).hexdigest())
    return _FINGERPRINT[0]


def _fingerprint_folder(folder: str, rel: str, parts: list[str]) -> None:
    """``name:size:mtime`` of each ``.py`` file, in the order (and with the relative names)
    of a sorted ``os.walk``: this folder's files, then each subfolder but ``__pycache__``.
    One ``scandir`` per folder, no ``relpath``: a hundred files are read on every run."""
    files: list[os.DirEntry[str]] = []
    folders: list[os.DirEntry[str]] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_dir():
                if entry.name != "__pycache__" and not entry.is_symlink():
                    folders.append(entry)
            elif entry.name.endswith(".py"):
                files.append(entry)
    for entry in sorted(files, key=lambda e: e.name):
        st = entry.stat()
        parts.append(f"{rel}{entry.name}:{st.st_size}:{st.st_mtime_ns}")
    for entry in sorted(folders, key=lambda e: e.name):
        _fingerprint_folder(entry.path, f"{rel}{entry.name}{os.sep}", parts)
