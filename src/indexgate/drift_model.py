"""A drift entry (``DriftEntry``) and the facts it records about one package, typed.

Plain data at the bottom, beside model.py (whose ``TargetReport.drift`` lists these
entries, and whose JSON helpers the entry uses); a check builds no entry and never loads
it. Each fact is the JSON object of the same name in a ``drift`` entry (``pin``,
``latest``, ``stuck``, ``shadowed``, ``hidden``, ``probed[]``): ``to_dict`` writes the keys
the report has always had, in their order, optional keys only when set; ``from_dict`` reads
one back from a previous report (``--previous-report``, drift/changes.py). The previous
report is the user's file, possibly older or edited, so it is read leniently: a value of
the wrong type is None, a fact without its required strings is left out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeVar

from indexgate.model import copy_json, mark_fatal

__all__ = [
    "DriftEntry",
    "HiddenVersion",
    "HiddenVersions",
    "LatestVersion",
    "PinnedFile",
    "ProbedFile",
    "ShadowedName",
    "ShadowingIndex",
    "StuckVersions",
    "entry_fields",
]


@dataclass
class PinnedFile:
    """``pin``: the pinned file the target installs, as its index lists it (drift/pins.py)."""

    version: str
    file: str | None = None  # None: no file of the pin suits the target, or none is listed
    status: str = "missing"  # the file's probe: allowed, blocked, missing or error
    hash: str | None = None  # match, mismatch or unchecked; None (no key) when no file
    yanked: bool = False  # ``yanked`` and ``yanked_reason`` are keys only when it is
    yanked_reason: str | None = None
    upload_time: str | None = None  # PEP 700; no key when the index gives none

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"version": self.version, "file": self.file, "status": self.status}
        if self.hash is not None:
            data["hash"] = self.hash
        if self.yanked:
            data.update(yanked=True, yanked_reason=self.yanked_reason)
        if self.upload_time is not None:
            data["upload_time"] = self.upload_time
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PinnedFile:
        return cls(
            _need(data, "version"),
            _str(data.get("file")),
            _str(data.get("status")) or "missing",
            _str(data.get("hash")),
            data.get("yanked") is True,
            _str(data.get("yanked_reason")),
            _str(data.get("upload_time")),
        )


@dataclass
class LatestVersion:
    """``latest``: the newest version an install could take, and what its probe said."""

    version: str
    upload_time: str | None = None
    age_days: int | None = None
    status: str = "unprobed"  # a probe status, or unprobed (the per-package cap)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "upload_time": self.upload_time,
            "age_days": self.age_days,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LatestVersion:
        status = _str(data.get("status")) or "unprobed"
        return cls(_need(data, "version"), _str(data.get("upload_time")), _int(data), status)


@dataclass
class StuckVersions:
    """``stuck``: newer versions the firewall blocks, newest first, and since when."""

    versions: list[str]
    since: str | None = None  # the upload-time of the oldest of them
    age_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"versions": list(self.versions), "since": self.since, "age_days": self.age_days}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StuckVersions:
        return cls(_strs(data.get("versions")), _str(data.get("since")), _int(data))


@dataclass
class ShadowingIndex:
    """One later index that lists the same name for another project (``shadowed.on[]``)."""

    index: str
    versions: list[str]  # newest first

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "versions": list(self.versions)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShadowingIndex:
        return cls(_need(data, "index"), _strs(data.get("versions")))


@dataclass
class ShadowedName:
    """``shadowed``: the name also on later indexes; ``error`` where the strategy may take
    the other project, else ``warning`` (drift/shadows.py)."""

    index: str  # where the package comes from
    on: list[ShadowingIndex]
    severity: str

    def to_dict(self) -> dict[str, Any]:
        on = [o.to_dict() for o in self.on]
        return {"index": self.index, "on": on, "severity": self.severity}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShadowedName:
        on = _facts(ShadowingIndex, data.get("on"))
        return cls(_need(data, "index"), on, _str(data.get("severity")) or "warning")


@dataclass
class HiddenVersion:
    """One version an ``upstream:`` publishes that the index's page leaves out."""

    version: str
    upload_time: str | None = None
    age_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "upload_time": self.upload_time, "age_days": self.age_days}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiddenVersion:
        return cls(_need(data, "version"), _str(data.get("upload_time")), _int(data))


@dataclass
class HiddenVersions:
    """``hidden``: what ``upstream`` lists and ``index`` hides (drift/hidden.py), and since
    when the oldest of them waits."""

    index: str
    upstream: str
    versions: list[HiddenVersion]
    since: str | None = None
    age_days: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "upstream": self.upstream,
            "versions": [v.to_dict() for v in self.versions],
            "since": self.since,
            "age_days": self.age_days,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HiddenVersions:
        versions = _facts(HiddenVersion, data.get("versions"))
        upstream, since = _need(data, "upstream"), _str(data.get("since"))
        return cls(_need(data, "index"), upstream, versions, since, _int(data))


@dataclass
class ProbedFile:
    """One file probed (``probed[]``); a blocked one names its firewall's verdict."""

    version: str
    file: str
    index: str
    status: str  # allowed, blocked, missing or error (drift/probes.py)
    upload_time: str | None = None  # no key when None, as the three below
    vendor: str | None = None  # vendor, reason and state: keys only when blocked
    reason: str | None = None
    state: str | None = None
    details_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "version": self.version,
            "file": self.file,
            "index": self.index,
            "status": self.status,
        }
        if self.upload_time is not None:
            data["upload_time"] = self.upload_time
        if self.vendor is not None:
            data.update(vendor=self.vendor, reason=self.reason, state=self.state)
        if self.details_url is not None:
            data["details_url"] = self.details_url
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProbedFile:
        text = [_str(data.get(k)) for k in ("upload_time", "vendor", "reason", "state")]
        file, index = _str(data.get("file")) or "", _str(data.get("index")) or ""
        status = _str(data.get("status")) or ""
        details_url = _str(data.get("details_url"))
        return cls(_need(data, "version"), file, index, status, *text, details_url)


@dataclass
class DriftEntry:
    """One package of a ``drift`` run, for one target: a pin (or a plain requirement).

    Typed throughout: the facts found (``pin``, ``latest``, ``stuck``, ``shadowed``,
    ``hidden``, ``probed``) are the small dataclasses above, None where nothing was found.
    ``to_dict`` writes every field, in this order, as the JSON always had them;
    ``from_dict`` reads an entry of a previous report back (drift/changes.py).
    """

    name: str
    pinned: str | None  # the pinned version; None for a requirement that pins nothing
    requirement: str | None  # ``flask>=3`` when nothing is pinned
    source: str  # where the pin comes from (``uv.lock:12``)
    index: str | None = None
    pin: PinnedFile | None = None  # the pinned file: version, file, status, hash, ...
    latest: LatestVersion | None = None  # the newest version listed, with its probe status
    newest_allowed: str | None = None
    upgrade: str | None = None
    stuck: StuckVersions | None = None  # newer versions the firewall blocks, and since when
    shadowed: ShadowedName | None = None  # the same name on later indexes
    hidden: HiddenVersions | None = None  # versions the upstream lists and this index hides
    probed: list[ProbedFile] = field(default_factory=list)  # newest first
    probe_cap: bool = False
    # With --previous-report only (drift/changes.py): None, not compared (no key in the
    # JSON); {} compared, nothing changed (null); else the versions per kind of change.
    changes: dict[str, list[str]] | None = None
    fail_on: list[str] | None = None  # as on Problem, by report/outcome.py

    @property
    def fatal(self) -> bool:
        """Did ``fail-on`` (``stuck``, ``shadowed``) make this entry fail the gate?"""
        return bool(self.fail_on)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "pinned": self.pinned,
            "requirement": self.requirement,
            "source": self.source,
            "index": self.index,
            "pin": _fact_dict(self.pin),
            "latest": _fact_dict(self.latest),
            "newest_allowed": self.newest_allowed,
            "upgrade": self.upgrade,
            "stuck": _fact_dict(self.stuck),
            "shadowed": _fact_dict(self.shadowed),
            "hidden": _fact_dict(self.hidden),
            "probed": [p.to_dict() for p in self.probed],
            "probe_cap": self.probe_cap,
        }
        if self.changes is not None:
            data["changes"] = copy_json(self.changes) or None
        return mark_fatal({**data, "fail_on": self.fail_on})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DriftEntry:
        """An entry as ``to_dict`` wrote it (a previous report); a fact that cannot be read
        is None, and an entry without a name a ValueError."""
        return cls(**entry_fields(data))


def _fact_dict(
    fact: PinnedFile | LatestVersion | StuckVersions | ShadowedName | HiddenVersions | None,
) -> dict[str, Any] | None:
    """A drift fact's JSON object, or null where nothing was found."""
    return None if fact is None else fact.to_dict()


def entry_fields(data: dict[str, Any]) -> dict[str, Any]:
    """``DriftEntry``'s fields read from its JSON (``DriftEntry.from_dict``): each fact read
    leniently, None where it cannot be; a ValueError without a name."""
    changes = data.get("changes", False)  # no key: not compared; null: compared, none
    if changes is not False:
        changes = {k: _strs(v) for k, v in changes.items()} if isinstance(changes, dict) else {}
    return {
        "name": _need(data, "name"),
        "pinned": _str(data.get("pinned")),
        "requirement": _str(data.get("requirement")),
        "source": _str(data.get("source")) or "",
        "index": _str(data.get("index")),
        "pin": _fact(PinnedFile, data.get("pin")),
        "latest": _fact(LatestVersion, data.get("latest")),
        "newest_allowed": _str(data.get("newest_allowed")),
        "upgrade": _str(data.get("upgrade")),
        "stuck": _fact(StuckVersions, data.get("stuck")),
        "shadowed": _fact(ShadowedName, data.get("shadowed")),
        "hidden": _fact(HiddenVersions, data.get("hidden")),
        "probed": _facts(ProbedFile, data.get("probed")),
        "probe_cap": data.get("probe_cap") is True,
        "changes": None if changes is False else changes,
        "fail_on": _strs(data.get("fail_on")) or None,
    }


# --- reading leniently ---------------------------------------------------------------

_F = TypeVar("_F")


def _fact(cls: Any, value: Any) -> Any:
    """``cls.from_dict(value)``; None for a value that is not a readable fact."""
    if not isinstance(value, dict):
        return None
    try:
        return cls.from_dict(value)
    except (KeyError, TypeError, ValueError):
        return None


def _facts(cls: type[_F], value: Any) -> list[_F]:
    """The readable facts of a JSON list; anything else in it is left out."""
    items = value if isinstance(value, list) else []
    return [f for f in (_fact(cls, v) for v in items) if f is not None]


def _need(data: dict[str, Any], key: str) -> str:
    """A fact's required string; the fact cannot be read without it."""
    value = data.get(key)
    if not isinstance(value, str):
        raise ValueError(key)
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _strs(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _int(data: dict[str, Any], key: str = "age_days") -> int | None:
    value = data.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
