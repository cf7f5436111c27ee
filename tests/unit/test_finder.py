"""The finder's stored listings (what a warm run's prefetch walks while pages revalidate)."""

from __future__ import annotations

import asyncio

from support.fake_client import INDEX, FakeClient, wheel

from indexgate.policy import Strategy
from indexgate.resolver.finder import Finder
from indexgate.settings import IndexConfig, Settings

OTHER = IndexConfig(name="other", url="https://other.example/simple/")


def _versions(listing) -> list[str]:
    return [str(e.version) for e in listing.entries]


def _finder(client: FakeClient, strategy: Strategy = Strategy.FIRST_INDEX) -> Finder:
    return Finder(Settings(indexes=client.indexes, strategy=strategy), client)


def test_a_stored_listing_needs_every_page_stored() -> None:
    client = FakeClient({}, stored={("idx", "lib"): [wheel("lib", "1.0")]})
    finder = _finder(client)
    listing = finder.stored_listing("lib")
    assert listing is not None and _versions(listing) == ["1.0"]
    assert finder.stored_listing("other-lib") is None
    assert client.log == []  # no network


def test_a_stored_listing_follows_the_index_strategy() -> None:
    stored = {
        ("idx", "lib"): [wheel("lib", "1.0")],
        ("other", "lib"): [wheel("lib", "2.0", index=OTHER)],
    }
    client = FakeClient({}, stored=stored, indexes=(INDEX, OTHER))
    first = _finder(client).stored_listing("lib")
    best = _finder(client, Strategy.UNSAFE_BEST_MATCH).stored_listing("lib")
    assert first is not None and _versions(first) == ["1.0"]  # the first index only
    assert best is not None and _versions(best) == ["2.0", "1.0"]
    # An index whose page is not stored (a 404 last time, or never asked): no guess.
    client = FakeClient(
        {}, stored={("other", "lib"): stored[("other", "lib")]}, indexes=(INDEX, OTHER)
    )
    assert _finder(client).stored_listing("lib") is None


def test_an_unchanged_page_gives_the_stored_listings_own_entries() -> None:
    files = [wheel("lib", "2.0"), wheel("lib", "1.0")]
    client = FakeClient({("idx", "lib"): files}, stored={("idx", "lib"): files})
    finder = _finder(client)
    stored = finder.stored_listing("lib")
    fresh = asyncio.run(_listing(finder, "lib"))
    assert stored is not None and fresh.entries == stored.entries
    assert all(a is b for a, b in zip(fresh.entries, stored.entries, strict=True))

    changed = FakeClient({("idx", "lib"): files[:1]}, stored={("idx", "lib"): files})
    finder = _finder(changed)
    stored = finder.stored_listing("lib")
    fresh = asyncio.run(_listing(finder, "lib"))
    assert stored is not None and _versions(fresh) == ["2.0"]
    assert fresh.entries[0] is not stored.entries[0]


async def _listing(finder: Finder, name: str):
    return await finder.listing(name)
