"""HTTP headers as indexgate uses them: case-insensitive, multi-valued, values never shown."""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping
from typing import TYPE_CHECKING, overload

if TYPE_CHECKING:
    import datetime


class Headers(Mapping[str, str]):
    """Case-insensitive, multi-valued headers (what indexgate used of ``httpx.Headers``).

    Keys are lower-cased; ``h[name]``, ``get`` and ``items`` give a repeated header's values
    joined with ", " (as httpx does), ``get_list`` gives them one by one.
    """

    __slots__ = ("_items", "_map")

    def __init__(
        self, headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None
    ) -> None:
        if headers is None:
            items: list[tuple[str, str]] = []
        elif isinstance(headers, Headers):
            items = headers._items
        else:
            pairs = headers.items() if isinstance(headers, Mapping) else headers
            items = [(str(k).lower(), str(v)) for k, v in pairs]
        self._items = items
        self._map = _joined(items)

    @classmethod
    def _lowered(cls, items: list[tuple[str, str]]) -> Headers:
        """From pairs whose names are already lower-case (the parser's)."""
        self = cls.__new__(cls)
        self._items = items
        self._map = _joined(items)
        return self

    def __getitem__(self, key: str) -> str:
        return self._map[key.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._map)

    def __len__(self) -> int:
        return len(self._map)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._map

    @overload
    def get(self, key: str) -> str | None: ...
    @overload
    def get(self, key: str, default: str) -> str: ...
    def get(self, key: str, default: str | None = None) -> str | None:
        return self._map.get(key.lower(), default)

    def keys(self) -> KeysView[str]:
        return self._map.keys()

    def items(self) -> ItemsView[str, str]:
        return self._map.items()

    def get_list(self, key: str, split_commas: bool = False) -> list[str]:
        """Every value of ``key`` in order; with ``split_commas``, comma lists split too."""
        name = key.lower()
        values = [v for k, v in self._items if k == name]
        if not split_commas:
            return values
        return [part.strip() for value in values for part in value.split(",")]

    def multi_items(self) -> list[tuple[str, str]]:
        return list(self._items)

    def __repr__(self) -> str:  # names only: values may be cookies or tokens
        return f"Headers({sorted(self._map)!r})"


def _joined(items: list[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for k, v in items:
        old = joined.get(k)
        joined[k] = v if old is None else f"{old}, {v}"
    return joined


def http_date(value: str) -> datetime.datetime | None:
    """An HTTP-date (``Retry-After``, ``Expires``, ``Date``: any of RFC 9110's three forms)
    as an aware datetime, in UTC when it names no zone; None when it is not one."""
    # Imported here: email.utils (with calendar and random) is for HTTP-dates only, which
    # few answers carry.
    import datetime
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=datetime.UTC)


FOREVER = float("inf")  # the freshness lifetime of an ``immutable`` answer


def cache_directives(headers: Headers) -> dict[str, str]:
    """``Cache-Control``'s directives: names lower-cased, arguments unquoted."""
    out: dict[str, str] = {}
    for value in headers.get_list("cache-control", split_commas=True):
        name, _, arg = value.strip().partition("=")
        if name:
            out[name.lower()] = arg.strip().strip('"')
    return out


def freshness_lifetime(headers: Headers, directives: Mapping[str, str] | None = None) -> float:
    """Seconds an answer stays fresh (RFC 9111): no heuristics, so no header means
    revalidate. ``directives``: ``cache_directives(headers)``, when the caller has them."""
    d = cache_directives(headers) if directives is None else directives
    if "no-cache" in d or "no-store" in d:
        return 0.0
    if "immutable" in d:
        return FOREVER
    if "max-age" in d:
        try:
            return max(0.0, float(int(d["max-age"])))
        except ValueError:
            return 0.0
    expires, date = headers.get("expires"), headers.get("date")
    if expires and date:
        until, now = http_date(expires), http_date(date)
        if until is not None and now is not None:
            return max(0.0, (until - now).total_seconds())
    return 0.0
