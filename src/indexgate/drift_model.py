"""The facts a drift entry records about one package, typed (``DriftEntry``'s in model.py).

Plain data at the bottom, beside model.py (which imports it): it imports nothing of
indexgate. Each fact is the JSON object of the same name in a ``drift`` entry (``pin``,
``latest``, ``stuck``, ``shadowed``, ``hidden``, ``probed[]``): ``to_dict`` writes the keys
the report has always had, in their order, optional keys only when set; ``from_dict`` reads
one back from a previous report (``--previous-report``, drift/changes.py). The previous
report is the user's file, possibly older or edited, so it is read leniently: a value of
the wrong type is None, a fact without its required strings is left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
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
