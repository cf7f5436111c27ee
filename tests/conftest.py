"""Shared fixtures: generated packages and real local indexes on 127.0.0.1.

Servers for the same package set are started once per session and shared (their access
log restarts for each test); ask for ``fresh=True`` to get a server of your own that you
may add packages to.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import pytest
from support.packages import Dist, PackageSpec, Wheelhouse, as_dist
from support.pypi_process import PypiServer, start_pypiserver

from indexgate.demo import (
    AccessLogEntry,
    FirewallRule,
    IndexServer,
    QuarantineProxy,
    ServerConfig,
)

PRIVATE_USER = "ci"


@pytest.fixture(autouse=True)
def _private_cache_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """indexgate caches under $XDG_CACHE_HOME by default: give each test its own, so no
    test is warmed (or its request counts changed) by another, nor by the developer's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A restrictive umask, as some self-hosted runners have: the modes must not depend on it."""
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Wheelhouse:
    """Builds packages once per session: ``wheelhouse.build(wheel("a", "1.0"))``,
    ``wheelhouse.folder(["a==1.0", wheel("b", "2.0", "a>=1")])``."""
    return Wheelhouse(tmp_path_factory.mktemp("wheelhouse"))


@pytest.fixture(scope="session")
def private_credentials() -> tuple[str, str]:
    """``("ci", <random password>)``, the same for every private index of the session."""
    return PRIVATE_USER, secrets.token_urlsafe(12)


class _ServerPool:
    """One pypiserver per (package set, auth), started on first use, stopped at the end."""

    def __init__(self, wheelhouse: Wheelhouse) -> None:
        self.wheelhouse = wheelhouse
        self._lock = threading.Lock()
        self._shared: dict[tuple[frozenset[Dist], tuple[str, str] | None], PypiServer] = {}
        self._all: list[PypiServer] = []

    def get(
        self, specs: Iterable[PackageSpec], auth: tuple[str, str] | None, fresh: bool
    ) -> PypiServer:
        dists = frozenset(as_dist(s) for s in specs)
        key = (dists, auth)
        with self._lock:
            if not fresh and key in self._shared and self._shared[key].process.poll() is None:
                return self._shared[key]
        folder = self.wheelhouse.folder(dists, fresh=True)
        server = start_pypiserver(folder, htpasswd=auth)
        server.shared = not fresh
        with self._lock:
            self._all.append(server)
            if not fresh:
                self._shared[key] = server
        return server

    def close(self) -> None:
        for server in self._all:
            server.stop()


@pytest.fixture(scope="session")
def _pypiserver_pool(wheelhouse: Wheelhouse) -> Iterator[_ServerPool]:
    pool = _ServerPool(wheelhouse)
    yield pool
    pool.close()


IndexFactory = Callable[..., PypiServer]


def _index_factory(pool: _ServerPool, auth: tuple[str, str] | None) -> Iterator[IndexFactory]:
    """A test's factory of pypiservers; at the end of the test it stops the fresh ones (the
    shared ones live until the session ends)."""
    handed_out: list[PypiServer] = []

    def factory(packages: Iterable[PackageSpec] = (), *, fresh: bool = False) -> PypiServer:
        server = pool.get(packages, auth, fresh)
        if not any(server is s for s in handed_out):
            server.mark_log()  # this test sees only its own requests
            handed_out.append(server)
        return server

    yield factory
    for server in handed_out:
        if not server.shared:
            server.stop()


@pytest.fixture
def private_index(
    _pypiserver_pool: _ServerPool, private_credentials: tuple[str, str]
) -> Iterator[IndexFactory]:
    """``private_index(["acme-core==1.0", wheel(...)]) -> PypiServer`` with htpasswd auth
    (``.credentials``), ``--disable-fallback``, 401 without credentials, 403 with wrong ones."""
    yield from _index_factory(_pypiserver_pool, private_credentials)


@pytest.fixture
def public_index(_pypiserver_pool: _ServerPool) -> Iterator[IndexFactory]:
    """``public_index([...]) -> PypiServer`` without auth."""
    yield from _index_factory(_pypiserver_pool, None)


@dataclass
class FirewalledIndex:
    """A QuarantineProxy in front of a private pypiserver; use ``url`` and ``credentials``."""

    proxy: QuarantineProxy
    upstream: PypiServer

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def base_url(self) -> str:
        return self.proxy.base_url

    @property
    def credentials(self) -> tuple[str, str] | None:
        return self.upstream.credentials

    def file_url(self, filename: str) -> str:
        return f"{self.proxy.base_url}/packages/{filename}"

    def set_rules(self, rules: Mapping[str, FirewallRule | str]) -> None:
        self.proxy.set_rules(rules)

    def requests_for(self, path_prefix: str) -> list[AccessLogEntry]:
        """What reached the proxy (the upstream's own log: ``upstream.requests_for``)."""
        return self.proxy.requests_for(path_prefix)


@pytest.fixture
def firewalled_private(private_index: IndexFactory) -> Iterator[Callable[..., FirewalledIndex]]:
    """``firewalled_private(packages, {"flask-3.1.0-py3-none-any.whl": "nexus"}, fresh=False)``.

    Rules map a filename to a FirewallRule or a format name (nexus, nexus-problem, curation,
    xray, plain); see ``QuarantineProxy``.
    """
    proxies: list[QuarantineProxy] = []

    def factory(
        packages: Iterable[PackageSpec] = (),
        rules: Mapping[str, FirewallRule | str] | None = None,
        *,
        fresh: bool = False,
    ) -> FirewalledIndex:
        upstream = private_index(packages, fresh=fresh)
        proxy = QuarantineProxy(upstream.base_url, rules or {}).start()
        proxies.append(proxy)
        return FirewalledIndex(proxy, upstream)

    yield factory
    for proxy in proxies:
        proxy.stop()


@pytest.fixture
def dev_index(wheelhouse: Wheelhouse) -> Iterator[Callable[..., IndexServer]]:
    """``dev_index(packages, config=None, **ServerConfig fields) -> IndexServer`` (in-process,
    PEP 691/658/700, yanked, firewall); its folder (``.root``) is its own, so tests may add
    files with ``wheelhouse.add(server.root, spec)``."""
    servers: list[IndexServer] = []

    def factory(
        packages: Iterable[PackageSpec] = (),
        config: ServerConfig | None = None,
        **options: object,
    ) -> IndexServer:
        if config is None:
            config = ServerConfig(**options)  # type: ignore[arg-type]
        elif options:
            raise TypeError("pass either config or ServerConfig fields, not both")
        server = IndexServer(wheelhouse.folder(packages, fresh=True), config).start()
        servers.append(server)
        return server

    yield factory
    for server in servers:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that use a real server are ``integration`` tests (``-m "not integration"``)."""
    server_fixtures = {"private_index", "public_index", "firewalled_private", "dev_index"}
    for item in items:
        if server_fixtures & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
