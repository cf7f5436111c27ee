"""Fixtures the integration tests share: the in-process CLI, and the company-network parts
(a private CA, an HTTPS index it signed, a tinyproxy), and a scripted HTTP server.

A module that needs another set-up defines a fixture of the same name, which wins over
these (``test_check_backtracking.py``'s ``cli`` with a round budget, for one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from check_support import ACME_PACKAGES, CheckCli
from support.packages import Wheelhouse
from support.scripted_server import ScriptedServer
from support.tinyproxy import Tinyproxy
from support.tls import PrivateCa, TlsIndexServer


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> CheckCli:
    """``indexgate check`` in-process, in ``tmp_path``, with a clean CI runner's environment."""
    return CheckCli(tmp_path, monkeypatch, capsys)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCa:
    """A private CA generated for the module: no trust store knows it."""
    return PrivateCa(tmp_path_factory.mktemp("private-ca"))


@pytest.fixture(scope="module")
def acme_folder(wheelhouse: Wheelhouse) -> Path:
    """The wheels of ``ACME_PACKAGES``, for an index server to serve."""
    return wheelhouse.folder(ACME_PACKAGES)


@pytest.fixture
def tls_index(ca: PrivateCa, acme_folder: Path) -> Iterator[TlsIndexServer]:
    """An HTTPS index of ``ACME_PACKAGES`` whose certificate ``ca`` signed."""
    with TlsIndexServer(acme_folder, ca.server_context()) as server:
        yield server


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    """A real forward proxy (tinyproxy) without authentication."""
    with Tinyproxy(tmp_path / "proxy") as running:
        yield running


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    """A ``ScriptedServer`` on 127.0.0.1 (plain http): each test sets the routes it needs."""
    with ScriptedServer() as running:
        yield running
