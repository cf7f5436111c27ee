"""Settings for one run: indexes (ordered, with credentials and codes), strategy, targets.

Index order, highest priority first, as uv ranks them: ``--index``/``--extra-index-url``
on the command line, then the config file, requirements-file options, ``UV_INDEX`` /
``PIP_EXTRA_INDEX_URL``, then ``[[tool.uv.index]]`` / uv.toml; the default index
(``--default-index``/``--index-url``, ``default: true``, ``-i``, ``UV_DEFAULT_INDEX``,
``PIP_INDEX_URL``) always last. indexgate never adds PyPI by itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from indexgate.errors import InputError
from indexgate.index.http import DEFAULT_CONCURRENCY
from indexgate.policy import (
    DEFAULT_QUARANTINE_CODES,
    FAIL_ON,
    Fallback,
    Strategy,
    default_ignore_error_codes,
    env_name,
)
from indexgate.redact import register_secret, strip_userinfo
from indexgate.report.model import Problem
from indexgate.sources.model import SourceSet
from indexgate.targets import Target, default_python, make_target

DEFAULT_CONFIG_PATHS = (".github/indexgate.yml", "indexgate.yml")
PYPI_URL = "https://pypi.org/simple/"


@dataclass(frozen=True)
class IndexConfig:
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


@dataclass(frozen=True)
class Settings:
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
    timeout: float = 60.0  # total deadline of one request, seconds
    max_time: float = 600.0  # deadline of the whole run, seconds

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


@dataclass
class _Entry:
    """An index as declared somewhere, before credentials and codes are settled."""

    url: str
    origin: str
    name: str | None = None
    default: bool = False
    explicit: bool = False
    format: str = "simple"
    username: str | None = None
    password: str | None = None
    ignore_error_codes: frozenset[int] | None = None
    quarantine_codes: frozenset[int] | None = None


def load_settings(
    cli: CliOptions,
    sources: SourceSet,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if env is None else env
    config_path, cfg = _read_config(cli.config, cwd)
    where = config_path or "command line"

    entries: list[_Entry] = []
    defaults: list[_Entry] = []
    unchecked: list[Problem] = []

    # 1. command line
    for spec in cli.indexes:
        name, url = _split_named(spec)
        if not url:
            raise InputError(f"--index {spec!r}: expected [NAME=]URL")
        entries.append(_Entry(url, "--index", name=name))
    entries += [_Entry(u, "--extra-index-url") for u in cli.extra_index_urls]
    for url, origin in ((cli.default_index, "--default-index"), (cli.index_url, "--index-url")):
        if url:
            defaults.append(_Entry(url, origin, default=True))
    # 2. config file
    for i, raw in enumerate(cfg.get("indexes") or []):
        entry = _config_entry(raw, i, config_path or "config", env, cfg.get("__text__", ""))
        (defaults if entry.default else entries).append(entry)
    # 3. requirements-file options
    pip_has_default = False
    for hint in sources.index_hints:
        origin = str(hint.origin)
        if hint.kind == "extra-index-url":
            entries.append(_Entry(hint.url, origin))
        elif hint.kind == "find-links":
            entries.append(_Entry(hint.url, origin, format="flat"))
        else:
            pip_has_default = True
            defaults.append(_Entry(hint.url, origin, default=True))
    # 4. environment
    for spec in env.get("UV_INDEX", "").split():
        name, url = _split_named(spec)
        entries.append(_Entry(url, "UV_INDEX", name=name))
    entries += [
        _Entry(u, "PIP_EXTRA_INDEX_URL") for u in env.get("PIP_EXTRA_INDEX_URL", "").split()
    ]
    for var in ("UV_DEFAULT_INDEX", "PIP_INDEX_URL"):
        if env.get(var):
            defaults.append(_Entry(env[var], var, default=True))
            pip_has_default = True
    # 5. uv project config
    uv_has_default = False
    for uv in sources.uv_indexes:
        e = _Entry(
            uv.url,
            str(uv.origin),
            name=uv.name,
            default=uv.default,
            explicit=uv.explicit,
            format=uv.format,
            ignore_error_codes=(
                None if uv.ignore_error_codes is None else frozenset(uv.ignore_error_codes)
            ),
        )
        uv_has_default |= uv.default
        (defaults if uv.default else entries).append(e)

    if sources.uv_indexes and not uv_has_default and not defaults:
        unchecked.append(_unchecked("uv", "[[tool.uv.index]]"))
    elif any(h.kind == "extra-index-url" for h in sources.index_hints) and not defaults:
        unchecked.append(_unchecked("pip", "--extra-index-url in a requirements file"))
    del pip_has_default

    # Only the highest-priority default counts, as a CLI --default-index replaces uv's.
    chosen = entries + defaults[:1]
    indexes = _finish(chosen, env, config_path, cwd)
    if not indexes:
        raise InputError(
            "no index configured: give --index URL / --default-index URL, an `indexes:` list in "
            ".github/indexgate.yml, or index options in your requirements or uv config",
            file=config_path,
        )

    strategy = _enum(Strategy, cli.strategy or cfg.get("index-strategy"), "index-strategy", where)
    fallback = _enum(Fallback, cli.fallback or cfg.get("fallback"), "fallback", where)
    pythons = cli.python_versions or _str_list(cfg.get("python-versions"), "python-versions", where)
    platforms = cli.platforms or _str_list(cfg.get("platforms"), "platforms", where)
    pythons = pythons or [default_python(sources.requires_python)]
    platforms = platforms or ["linux_x86_64"]
    # Validate each list on its own, so an error names where the bad value was written.
    for values, given, probe in (
        (pythons, cli.python_versions, lambda v: make_target(v, "linux_x86_64")),
        (platforms, cli.platforms, lambda v: make_target("3.12", v)),
    ):
        for value in values:
            try:
                probe(value)
            except InputError as exc:
                raise InputError(exc.problem, file=None if given else config_path) from None
    targets = tuple(make_target(p, plat) for p in pythons for plat in platforms)

    pins: dict[NormalizedName, str] = dict(sources.uv_sources)
    cfg_sources = cfg.get("sources") or {}
    if not isinstance(cfg_sources, dict):
        raise InputError("`sources` must map package names to index names", file=config_path)
    pins.update({canonicalize_name(str(k)): str(v) for k, v in cfg_sources.items()})
    names = {i.name for i in indexes}
    for pkg, idx in pins.items():
        if idx not in names:
            raise InputError(
                f"sources: {pkg} is pinned to index '{idx}', which is not configured "
                f"(configured: {', '.join(sorted(names))})",
                file=config_path,
            )

    fail_on = frozenset(x for v in cli.fail_on for x in v.replace(",", " ").split())
    fail_on |= frozenset(_str_list(cfg.get("fail-on"), "fail-on", where))
    if unknown := fail_on - FAIL_ON.keys():
        raise InputError(
            f"unknown --fail-on value(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(FAIL_ON))}"
        )
    cache_dir = None
    if not (cli.no_cache or env.get("INDEXGATE_NO_CACHE")):
        cache_dir = cli.cache_dir or env.get("INDEXGATE_CACHE_DIR") or _default_cache_dir(env)
    return Settings(
        indexes=tuple(indexes),
        strategy=strategy,
        targets=targets,
        fallback=fallback,
        sources=pins,
        pre=cli.pre or bool(cfg.get("pre", False)),
        only_binary=_binary_set(cli.only_binary),
        no_binary=_binary_set(cli.no_binary),
        allow_build=cli.allow_build,
        fail_on=fail_on,
        warnings=tuple(unchecked),
        concurrency=cli.concurrency or int(cfg.get("concurrency", DEFAULT_CONCURRENCY)),
        cache_dir=Path(cache_dir) if cache_dir else None,
        max_probes_per_package=cli.max_probes_per_package or 20,
    )


def _default_cache_dir(env: Mapping[str, str]) -> str | None:
    """``$XDG_CACHE_HOME/indexgate``, else ``~/.cache/indexgate``; None without a home."""
    base = env.get("XDG_CACHE_HOME") or (
        str(Path(env["HOME"]) / ".cache") if env.get("HOME") else None
    )
    return str(Path(base) / "indexgate") if base else None


def _unchecked(tool: str, why: str) -> Problem:
    return Problem(
        kind="unchecked-default-index",
        message=(
            f"{why} adds indexes but names no default index, so {tool} would also use its "
            f"implicit default {PYPI_URL}; indexgate adds no index on its own and did not "
            "check that one (give --default-index to check it)"
        ),
        index=PYPI_URL,
    )


def _read_config(path: str | None, cwd: Path) -> tuple[str | None, dict[str, Any]]:
    if path is None:
        path = next((p for p in DEFAULT_CONFIG_PATHS if (cwd / p).is_file()), None)
        if path is None:
            return None, {}
    text, data = read_config_file(cwd / path, path)
    if not data:
        return path, {}
    known = {
        "index-strategy",
        "python-versions",
        "platforms",
        "fallback",
        "indexes",
        "sources",
        "fail-on",
        "pre",
        "concurrency",
    }
    for key in data:
        if key not in known:
            raise InputError(
                f"unknown key {key!r} (known: {', '.join(sorted(known))})",
                file=path,
                line=_line_of(text, f"{key}:"),
            )
    if "indexes" in data and not isinstance(data["indexes"], list):
        raise InputError("`indexes` must be a list", file=path, line=_line_of(text, "indexes:"))
    concurrency = data.get("concurrency")
    if "concurrency" in data and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise InputError(
            f"`concurrency` must be a whole number of requests, 1 or more (got {concurrency!r})",
            file=path,
            line=_line_of(text, "concurrency:"),
        )
    data["__text__"] = text
    return path, data


def load_yaml(text: str, label: str) -> Any:
    """YAML, or an InputError naming the file and line of the problem.

    PyYAML is imported here, not at the top: most runs have no config file, and the
    import costs more than reading a whole requirements file.
    """
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        line = mark.line + 1 if mark else None
        raise InputError(f"invalid YAML: {problem}", file=label, line=line) from None


def read_config_file(path: Path, label: str) -> tuple[str, dict[str, Any]]:
    """A config file's text and its mapping ({} when empty)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("config file not found", file=label) from None
    except OSError as exc:
        raise InputError(f"cannot read config file: {exc.strerror}", file=label) from None
    data = load_yaml(text, label)
    if data is None:
        return text, {}
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (key: value)", file=label, line=1)
    return text, data


def config_from_yaml_text(text: str, label: str) -> list[dict[str, Any]]:
    """Parse an ``indexes`` YAML list given inline (the Action's ``indexes`` input)."""
    data = load_yaml(text, label) or []
    if isinstance(data, dict) and "indexes" in data:
        data = data["indexes"]
    if not isinstance(data, list):
        raise InputError("must be a YAML list of indexes", file=label)
    return data


def _line_of(text: str, needle: str) -> int | None:
    for n, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return n
    return None


_ENTRY_KEYS = {
    "name",
    "url",
    "username",
    "password",
    "ignore-error-codes",
    "quarantine-codes",
    "explicit",
    "format",
    "default",
}


def _config_entry(raw: Any, i: int, path: str, env: Mapping[str, str], text: str = "") -> _Entry:
    if not isinstance(raw, dict):
        raise InputError(f"indexes[{i}] must be a mapping with name and url", file=path)
    line = None
    if isinstance(raw.get("url"), str):
        line = _line_of(text, raw["url"]) if text else None
    for key in raw:
        if key not in _ENTRY_KEYS:
            raise InputError(
                f"indexes[{i}]: unknown key {key!r} (known: {', '.join(sorted(_ENTRY_KEYS))})",
                file=path,
                line=line,
            )
    url = raw.get("url")
    if not isinstance(url, str) or not url.strip():
        raise InputError(f"indexes[{i}] needs a `url`", file=path, line=line)
    fmt = raw.get("format", "simple")
    if fmt not in ("simple", "flat"):
        raise InputError(
            f"indexes[{i}]: format must be simple or flat, not {fmt!r}", file=path, line=line
        )
    name = raw.get("name")
    return _Entry(
        url=_expand(url, env, path),
        origin=path,
        name=str(name) if name is not None else None,
        default=bool(raw.get("default", False)),
        explicit=bool(raw.get("explicit", False)),
        format=fmt,
        username=_expand(raw.get("username"), env, path),
        password=_expand(raw.get("password"), env, path),
        ignore_error_codes=_codes(raw, "ignore-error-codes", i, path, line),
        quarantine_codes=_codes(raw, "quarantine-codes", i, path, line),
    )


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(value: Any, env: Mapping[str, str], path: str) -> str | None:
    if value is None:
        return None
    return _VAR.sub(lambda m: env.get(m.group(1), ""), str(value))


def _codes(
    raw: Mapping[str, Any], key: str, i: int, path: str, line: int | None = None
) -> frozenset[int] | None:
    if key not in raw:
        return None
    value = raw[key]
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(c, int) for c in value):
        raise InputError(
            f"indexes[{i}].{key} must be a list of HTTP status codes", file=path, line=line
        )
    return _valid_codes(value, f"indexes[{i}].{key}", path)


def _valid_codes(codes: Sequence[int], what: str, path: str | None) -> frozenset[int]:
    for c in codes:
        if not 400 <= c <= 599:
            raise InputError(f"{what}: {c} is not an HTTP error status (400-599)", file=path)
    return frozenset(codes)


def _env_codes(env: Mapping[str, str], var: str) -> frozenset[int] | None:
    if var not in env:
        return None
    try:
        codes = [int(c) for c in env[var].replace(",", " ").split()]
    except ValueError:
        raise InputError(f"{var} must be comma-separated HTTP status codes") from None
    return _valid_codes(codes, var, None)


def _split_named(spec: str) -> tuple[str | None, str]:
    name, sep, url = spec.partition("=")
    if sep and "://" not in name and "/" not in name:
        return name.strip(), url.strip()
    return None, spec.strip()


def _finish(
    entries: list[_Entry], env: Mapping[str, str], config_path: str | None, cwd: Path
) -> list[IndexConfig]:
    """Deduplicate, name, attach credentials and codes."""
    out: list[IndexConfig] = []
    seen_urls: set[str] = set()
    used: set[str] = set()
    for e in entries:
        url = _normalize_url(e.url, cwd, flat=e.format == "flat")
        bare = strip_userinfo(url)
        if bare in seen_urls:
            continue
        seen_urls.add(bare)
        name = e.name or _derive_name(bare, used)
        if name in used:
            raise InputError(
                f"two indexes are named '{name}'; index names must be unique", file=config_path
            )
        used.add(name)
        user, password = _credentials(e, url, name, env)
        register_secret(password)
        ignore = _env_codes(env, f"INDEXGATE_INDEX_{env_name(name)}_IGNORE_ERROR_CODES")
        if ignore is None:
            ignore = e.ignore_error_codes
        if ignore is None:
            ignore = default_ignore_error_codes(bare)
        quarantine = _env_codes(env, f"INDEXGATE_INDEX_{env_name(name)}_QUARANTINE_CODES")
        if quarantine is None:
            quarantine = e.quarantine_codes
        if quarantine is None:
            quarantine = DEFAULT_QUARANTINE_CODES
        out.append(
            IndexConfig(
                name=name,
                url=bare,
                username=user,
                password=password,
                default=e.default,
                explicit=e.explicit,
                format="flat" if e.format == "flat" else "simple",
                ignore_error_codes=ignore,
                quarantine_codes=quarantine,
                origin=e.origin,
            )
        )
    # The default index is always last.
    return [i for i in out if not i.default] + [i for i in out if i.default]


def _normalize_url(url: str, cwd: Path, *, flat: bool = False) -> str:
    """An absolute URL; a simple index's base always ends with ``/``, as pip and uv join it
    (``.../simple`` + ``httpx`` is ``.../simple/httpx/``, never ``.../simplehttpx/``), for
    ``http(s)`` and ``file`` alike. A flat index may name a single HTML file: kept as is."""
    if "://" not in url:  # a local folder or file path
        path = (cwd / url).resolve()
        url = path.as_uri() + ("/" if path.is_dir() else "")
    if flat or url.endswith("/"):
        return url
    return url + "/"


def _derive_name(url: str, used: set[str]) -> str:
    parts = urlsplit(url)
    base = parts.hostname or Path(parts.path).name or "index"
    if base in ("pypi.org", "pypi.python.org"):
        base = "pypi"
    name, n = base, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    return name


def _credentials(
    e: _Entry, url: str, name: str, env: Mapping[str, str]
) -> tuple[str | None, str | None]:
    """Config, then INDEXGATE_INDEX_*, then UV_INDEX_*, then the URL, then netrc."""
    key = env_name(name)
    for user, password in (
        (e.username, e.password),
        (env.get(f"INDEXGATE_INDEX_{key}_USERNAME"), env.get(f"INDEXGATE_INDEX_{key}_PASSWORD")),
        (env.get(f"UV_INDEX_{key}_USERNAME"), env.get(f"UV_INDEX_{key}_PASSWORD")),
    ):
        if user or password:
            return user or None, password or None
    parts = urlsplit(url)
    if parts.username or parts.password:
        return (
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )
    return _netrc(parts.hostname, env)


def _netrc(host: str | None, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    if not host:
        return None, None
    path = Path(env.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None, None
    import netrc  # only when there is one to read

    try:
        auth = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise InputError(f"cannot read netrc: {exc}", file=str(path)) from None
    if not auth:
        return None, None
    login, _account, password = auth
    return login or None, password or None


def _enum(kind: type, value: Any, what: str, where: str) -> Any:
    if value is None:
        return next(iter(kind))
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError(f"{what} must be one of {allowed}, not {value!r}", file=where) from None


def _str_list(value: Any, what: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | int | float):
        return [str(value)]
    if not isinstance(value, list):
        raise InputError(f"{what} must be a list", file=where)
    return [str(v) for v in value]


def _binary_set(values: Sequence[str]) -> frozenset[str]:
    out: set[str] = set()
    for v in values:
        for item in v.split(","):
            item = item.strip()
            if item == ":none:":
                out.clear()
            elif item:
                out.add(item if item == ":all:" else canonicalize_name(item))
    return frozenset(out)
