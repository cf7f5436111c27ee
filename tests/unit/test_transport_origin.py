"""``origin_of``: who a URL talks to (credentials, TLS and transports are per origin). It
is parsed once per ``scheme://authority`` and must say what ``urlsplit`` says, for every
URL shape, without keeping any URL's credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from indexgate.index.transport import base
from indexgate.index.transport.base import origin_of


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
        with pytest.raises(ValueError):
            origin_of("https://host:notaport/simple/")


def test_urls_with_credentials_are_never_remembered() -> None:
    origin_of("https://user:hunter2@private.example/simple/")
    assert not any("hunter2" in key for key in base._ORIGINS)
