"""The plain data of one run: what the inputs layer decides and every layer below reads.

Owns the settings types (``IndexConfig``, ``Settings``, ``CliOptions``), the network part as
data (the CA bundle and where it came from, the proxies and ``no_proxy`` rules as parsed),
and the built-in defaults (concurrency, deadlines, body cap). It imports nothing from
``indexgate.index``: the loader (``indexgate.config``) builds these values, the index
client (``indexgate.index``) and the resolver read them; TLS contexts and proxy matching
are built from this data in ``indexgate.index.network``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.utils import NormalizedName

from indexgate.policy import DEFAULT_QUARANTINE_CODES, Fallback, IndexPolicy, Strategy
from indexgate.targets import Target

if TYPE_CHECKING:
    from indexgate.model import Problem

# Requests in flight per index host. uv's default (50 concurrent downloads) is what
# Artifactory and Nexus already see from CI today; a server that throttles bursts (JFrog
# answers them with 401s) is configured lower with --concurrency / `concurrency:`.
DEFAULT_CONCURRENCY = 50
DEFAULT_TIMEOUT = 60.0  # total deadline of one request (--timeout): connect, head and body
DEFAULT_MAX_TIME = 600.0  # deadline of the whole run (--max-time)
DEFAULT_MAX_BODY = 200 * 1024 * 1024  # the largest answer read (--max-body-size)


# -- the network, as data -----------------------------------------------------------------


@dataclass(frozen=True)
class Proxy:
    """One forward proxy; ``display`` is safe to show, ``url`` and ``authorization`` are not."""

    host: str
    port: int
    display: str  # scheme://host:port, with *** for any credentials
    variable: str  # the environment variable it came from
    url: str = field(repr=False)  # with credentials: for the HTTP client
    authorization: str | None = field(default=None, repr=False)  # Proxy-Authorization value

    def __str__(self) -> str:
        return self.display


@dataclass(frozen=True)
class Proxies:
    """The proxies of a run, as the environment gave them, and the ``no_proxy`` rules
    (parsed by ``indexgate.config.network``, matched by ``indexgate.index.network``)."""

    http: Proxy | None = None
    https: Proxy | None = None
    no_proxy: tuple[str, ...] = ()


@dataclass(frozen=True)
class Network:
    """What a run's HTTP client needs to know of the network (built by the config loader;
    ``indexgate.index.network`` makes TLS contexts and picks proxies from it)."""

    cert: str | None = None  # the CA bundle for every index without its own `cert:`
    cert_origin: str | None = None  # where that came from: "--cert", "PIP_CERT", ...
    proxies: Proxies = field(default_factory=Proxies)


# -- indexes and the run ----------------------------------------------------------------


@dataclass(frozen=True)
class IndexConfig:
    """One index of the run: its URL, credentials, network settings and policy."""

    name: str
    url: str  # no userinfo: credentials live in username/password
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    default: bool = False
    explicit: bool = False
    format: Literal["simple", "flat"] = "simple"
    ignore_error_codes: frozenset[int] = frozenset()
    quarantine_codes: frozenset[int] = DEFAULT_QUARANTINE_CODES
    origin: str = "command line"
    # Networks: a CA bundle for this index only, and a PEM certificate+key for mutual TLS.
    cert: str | None = None
    client_cert: str | None = None
    # Index realities: a project known to exist here (the auth check), the index whose page
    # this one filters (drift's hidden versions), and where short-lived tokens come from.
    auth_check: str | None = None
    upstream: str | None = None
    keyring_provider: str | None = None
    password_command: str | None = field(default=None, repr=False)

    @property
    def auth(self) -> tuple[str, str] | None:
        if self.username is None and self.password is None:
            return None
        return (self.username or "", self.password or "")

    @cached_property
    def policy(self) -> IndexPolicy:
        """What this index's answers mean (first-index; ``.under(strategy)`` for another)."""
        return IndexPolicy.for_index(self)


@dataclass(frozen=True)
class Settings:
    """Everything a run decides before its first request (the loader builds it)."""

    indexes: tuple[IndexConfig, ...]
    strategy: Strategy = Strategy.FIRST_INDEX
    targets: tuple[Target, ...] = ()
    fallback: Fallback = Fallback.NEXT_VERSION
    sources: Mapping[NormalizedName, str] = field(default_factory=dict)
    pre: bool = False
    only_binary: frozenset[str] = frozenset()  # normalized names or ":all:"
    no_binary: frozenset[str] = frozenset()
    allow_build: bool = False
    fail_on: frozenset[str] = frozenset()
    warnings: tuple[Problem, ...] = ()  # run-wide, e.g. an implicit default not checked
    concurrency: int = DEFAULT_CONCURRENCY
    cache_dir: Path | None = None
    max_probes_per_package: int = 20
    cert: str | None = None  # CA bundle for every index without its own `cert:`
    timeout: float = DEFAULT_TIMEOUT  # total deadline of one request, seconds
    max_time: float = DEFAULT_MAX_TIME  # deadline of the whole run, seconds
    max_body_size: int = DEFAULT_MAX_BODY  # the largest answer read, bytes
    network: Network = field(default_factory=Network)  # the CA bundle above, and proxies

    def index(self, name: str) -> IndexConfig:
        return next(i for i in self.indexes if i.name == name)

    def binary_only(self, name: str) -> bool:
        return bool({":all:", name} & self.only_binary) and name not in self.no_binary

    def source_only(self, name: str) -> bool:
        return bool({":all:", name} & self.no_binary) and name not in self.only_binary


@dataclass
class CliOptions:
    """What the command line says; None means "not given"."""

    config: str | None = None
    indexes: list[str] = field(default_factory=list)  # [NAME=]URL
    default_index: str | None = None
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    strategy: str | None = None
    python_versions: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    fallback: str | None = None
    pre: bool = False
    only_binary: list[str] = field(default_factory=list)
    no_binary: list[str] = field(default_factory=list)
    allow_build: bool = False
    fail_on: list[str] = field(default_factory=list)
    concurrency: int | None = None
    cache_dir: str | None = None
    max_probes_per_package: int | None = None
    no_cache: bool = False
    cert: str | None = None  # --cert
    timeout: float | None = None
    max_time: float | None = None
    max_body_size: str | None = None  # as written: "200M", "1G", bytes
