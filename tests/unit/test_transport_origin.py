"""``origin_of``: who a URL talks to (credentials, TLS and transports are per origin). It
is parsed once per ``scheme://authority`` and must say what ``urlsplit`` says, for every
URL shape, without keeping any URL's credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from indexgate.index.transport import base
from indexgate.index.transport.base import InvalidURL, origin_of


def _reference(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return (parts.scheme, (parts.hostname or "").lower(), parts.port)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/simple/x/",
        "HTTPS://Nexus.Example:443/repository/pypi/simple/",
        "https://host?x=/y",
        "https://host#frag/more",
        "https://host?x#y/z",
        "https://host#x?y/z",
        "https://host/a?b#c",
        "https://host:8443?q",
        "://host/x",
        "https://[::1]:8443/simple/",
        "http://host",
        "file:///tmp/wheels/x.whl",
        "file:/tmp/x",
        "relative/path",
        "https://user:secret@host.example/simple/",
    ],
)
def test_origin_is_what_urlsplit_says(url: str) -> None:
    assert origin_of(url) == _reference(url)
    assert origin_of(url) == _reference(url)  # the remembered answer too


def test_a_bad_port_is_refused_every_time() -> None:
    for _ in range(2):
        with pytest.raises(InvalidURL, match="invalid port"):
            origin_of("https://host:notaport/simple/")


def test_urls_with_credentials_are_never_remembered() -> None:
    origin_of("https://user:hunter2@private.example/simple/")
    assert not any("hunter2" in key for key in base._AUTHORITIES)


@pytest.mark.parametrize(
    ("host", "delay"),
    [
        ("127.0.0.1", None),
        ("::1", None),
        ("fe80::1%eth0", None),
        ("nexus.example", 0.25),
        ("localhost", 0.25),  # ::1 and 127.0.0.1: raced
        ("127.0.0.1.nip.io", 0.25),
    ],
)
def test_only_names_race_their_addresses(host: str, delay: float | None) -> None:
    """An IP address has one address to try: no happy-eyeballs race (its task, event and
    timer per connection) for it."""
    assert base.eyeballs_delay(host) == delay
