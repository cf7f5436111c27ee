"""The run's indexes, in order, each with its name, credentials, codes and TLS files.

Index order, highest priority first, as uv ranks them: ``--index``/``--extra-index-url``
on the command line, then the config file, requirements-file options, ``UV_INDEX`` /
``PIP_EXTRA_INDEX_URL``, then ``[[tool.uv.index]]`` / uv.toml; the default index
(``--default-index``/``--index-url``, ``default: true``, ``-i``, ``UV_DEFAULT_INDEX``,
``PIP_INDEX_URL``) always last. indexgate never adds PyPI by itself. Duplicates (by URL
without userinfo) are dropped and each index is named once; names must be unique.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from indexgate.config.file import (
    EXPANDED_INDEX_KEYS,
    ConfigDoc,
    check_indexes,
    index_label,
)
from indexgate.config.network import tls_file
from indexgate.config.values import expand_vars
from indexgate.config.yaml_lines import load_yaml_lines
from indexgate.credentials import discover
from indexgate.errors import InputError
from indexgate.model import Problem
from indexgate.policy import IndexPolicy, env_name
from indexgate.redact import redact, strip_userinfo
from indexgate.settings import (
    CliOptions,
    IndexConfig,
)
from indexgate.sources.model import SourceSet

PYPI_URL = "https://pypi.org/simple/"


@dataclass
class Entry:
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
    cert: str | None = None
    client_cert: str | None = None
    auth_check: str | None = None
    upstream: str | None = None
    keyring_provider: str | None = None
    password_command: str | None = None
    line: int | None = None  # where a config-file entry begins
    cert_line: int | None = None
    client_cert_line: int | None = None


def declared_indexes(
    cli: CliOptions, sources: SourceSet, doc: ConfigDoc, env: Mapping[str, str]
) -> tuple[list[Entry], list[Entry], list[Problem]]:
    """Every index as declared, in priority order (the module doc says which): the
    non-default ones, the default candidates (only the first counts), and a warning when
    a tool's implicit default would be used unchecked."""
    cfg = doc.data
    entries: list[Entry] = []
    defaults: list[Entry] = []
    unchecked: list[Problem] = []

    # 1. command line
    for spec in cli.indexes:
        name, url = split_named(spec)
        if not url:
            raise InputError(f"--index {spec!r}: expected [NAME=]URL")
        entries.append(Entry(url, "--index", name=name))
    entries += [Entry(u, "--extra-index-url") for u in cli.extra_index_urls]
    for url, origin in (
        (cli.default_index, "--default-index"),
        (cli.index_url, "--index-url"),
    ):
        if url:
            defaults.append(Entry(url, origin, default=True))
    # 2. config file
    for i, raw in enumerate(cfg.get("indexes") or []):
        entry = config_entry(raw, i, doc, env)
        (defaults if entry.default else entries).append(entry)
    # 3. requirements-file options
    pip_has_default = False
    for hint in sources.index_hints:
        origin = str(hint.origin)
        if hint.kind == "extra-index-url":
            entries.append(Entry(hint.url, origin))
        elif hint.kind == "find-links":
            entries.append(Entry(hint.url, origin, format="flat"))
        else:
            pip_has_default = True
            defaults.append(Entry(hint.url, origin, default=True))
    # 4. environment
    for spec in env.get("UV_INDEX", "").split():
        name, url = split_named(spec)
        entries.append(Entry(url, "UV_INDEX", name=name))
    entries += [Entry(u, "PIP_EXTRA_INDEX_URL") for u in env.get("PIP_EXTRA_INDEX_URL", "").split()]
    for var in ("UV_DEFAULT_INDEX", "PIP_INDEX_URL"):
        if env.get(var):
            defaults.append(Entry(env[var], var, default=True))
            pip_has_default = True
    # 5. uv project config
    uv_has_default = False
    for uv in sources.uv_indexes:
        e = Entry(
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
        unchecked.append(unchecked_default("uv", "[[tool.uv.index]]"))
    elif any(h.kind == "extra-index-url" for h in sources.index_hints) and not defaults:
        unchecked.append(unchecked_default("pip", "--extra-index-url in a requirements file"))
    del pip_has_default

    return entries, defaults, unchecked


def config_from_yaml_text(
    text: str, label: str, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Parse and check an ``indexes`` YAML list given inline (the Action's ``indexes`` input).

    Errors name ``label`` and the line within ``text``. With ``env``, every ``${VAR}`` must
    be set there too (the values are not kept: the CLI expands them again).
    """
    data, lines = load_yaml_lines(text, label)
    doc = ConfigDoc(label, {}, lines)
    if isinstance(data, dict) and "indexes" in data:
        if other := [k for k in data if k != "indexes"]:
            raise doc.error(
                f"only `indexes` belongs here, not {other[0]!r} (put other keys in the config "
                "file)",
                data,
                other[0],
            )
        data = data["indexes"]
    data = data or []
    if not isinstance(data, list):
        raise InputError("must be a YAML list of indexes", file=label, line=lines.start(data) or 1)
    check_indexes(data, doc)
    if env is not None:
        for i, raw in enumerate(data):
            config_entry(raw, i, doc, env)
    return data


def unchecked_default(tool: str, why: str) -> Problem:
    return Problem(
        kind="unchecked-default-index",
        message=(
            f"{why} adds indexes but names no default index, so {tool} would also use its "
            f"implicit default {PYPI_URL}; indexgate adds no index on its own and did not "
            "check that one (give --default-index to check it)"
        ),
        index=PYPI_URL,
    )


def config_entry(raw: dict[str, Any], i: int, doc: ConfigDoc, env: Mapping[str, str]) -> Entry:
    """One checked ``indexes`` entry, its ``${VAR}`` expanded (an unset one names its line)."""
    label = index_label(raw, i)
    path = doc.path or "config"

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is None or key not in EXPANDED_INDEX_KEYS:
            return value
        line = doc.lines.at(raw, key)
        return expand_vars(value, env, file=doc.path, line=line, what=f"{label}: {key}")

    url = text("url") or ""
    if not url.strip():
        raise doc.error(f"{label}: `url` is empty once its variables are expanded", raw, "url")
    name = raw.get("name")
    return Entry(
        url=url,
        origin=path,
        name=name.strip() if name is not None else None,
        default=bool(raw.get("default", False)),
        explicit=bool(raw.get("explicit", False)),
        format=raw.get("format", "simple"),
        username=text("username"),
        password=text("password"),
        ignore_error_codes=_codes(raw, "ignore-error-codes"),
        quarantine_codes=_codes(raw, "quarantine-codes"),
        cert=text("cert"),
        client_cert=text("client-cert"),
        auth_check=text("auth-check"),
        upstream=text("upstream"),
        **_token_provider(raw, label, doc, env),
        line=doc.lines.start(raw),
        cert_line=doc.lines.at(raw, "cert"),
        client_cert_line=doc.lines.at(raw, "client-cert"),
    )


def _token_provider(
    raw: Mapping[str, Any], label: str, doc: ConfigDoc, env: Mapping[str, str]
) -> dict[str, str]:
    """``keyring-provider`` (subprocess or disabled, as uv spells it) or ``password-command``
    (its ``${VAR}`` expanded as in ``url``), never both."""
    out: dict[str, str] = {}
    provider = raw.get("keyring-provider")
    if provider is not None:
        provider = provider.strip()
        if provider not in ("subprocess", "disabled"):
            raise doc.error(
                f"{label}: keyring-provider must be subprocess or disabled (as uv spells it), "
                f"not {provider!r}",
                raw,
                "keyring-provider",
            )
        if provider == "subprocess":
            out["keyring_provider"] = provider
    command = raw.get("password-command")
    if command is not None:
        if not command.strip():
            raise doc.error(f"{label}: password-command is empty", raw, "password-command")
        out["password_command"] = expand_vars(
            command.strip(),
            env,
            file=doc.path,
            line=doc.lines.at(raw, "password-command"),
            what=f"{label}: password-command",
        )
    if len(out) == 2:
        raise doc.error(
            f"{label}: give keyring-provider or password-command, not both",
            raw,
            "password-command",
        )
    return out


def _codes(raw: Mapping[str, Any], key: str) -> frozenset[int] | None:
    """A checked code list: None when the key is absent, {} when it is empty."""
    if key not in raw:
        return None
    return frozenset(raw[key] or ())


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


def split_named(spec: str) -> tuple[str | None, str]:
    name, sep, url = spec.partition("=")
    if sep and "://" not in name and "/" not in name:
        return name.strip(), url.strip()
    return None, spec.strip()


def finish_indexes(
    entries: list[Entry], env: Mapping[str, str], config_path: str | None, cwd: Path
) -> list[IndexConfig]:
    """Deduplicate, name, attach credentials and codes."""
    out: list[IndexConfig] = []
    seen_urls: set[str] = set()
    used: dict[str, Entry] = {}
    for e in entries:
        url = normalize_url(e.url, cwd, flat=e.format == "flat")
        bare = _readable(url, e, config_path)
        if bare in seen_urls:
            continue
        seen_urls.add(bare)
        name = e.name or _derive_name(bare, used)
        if name in used:
            first = used[name]
            file, line = _config_place(e, config_path)
            raise InputError(
                f"two indexes are named '{name}' ({_where(first)} and {_where(e)}); "
                "index names must be unique",
                file=file,
                line=line,
            )
        used[name] = e
        user, password = discover(
            name,
            url,
            e.username,
            e.password,
            env,
            keyring_provider=e.keyring_provider,
            password_command=e.password_command,
        )
        ignore = _env_codes(env, f"INDEXGATE_INDEX_{env_name(name)}_IGNORE_ERROR_CODES")
        if ignore is None:
            ignore = e.ignore_error_codes
        quarantine = _env_codes(env, f"INDEXGATE_INDEX_{env_name(name)}_QUARANTINE_CODES")
        if quarantine is None:
            quarantine = e.quarantine_codes
        # The lists not given take the URL's defaults (IndexPolicy.from_url).
        policy = IndexPolicy.from_url(
            name, bare, ignore_error_codes=ignore, quarantine_codes=quarantine
        )
        out.append(
            IndexConfig(
                name=name,
                url=bare,
                username=user,
                password=password,
                default=e.default,
                explicit=e.explicit,
                format="flat" if e.format == "flat" else "simple",
                ignore_error_codes=policy.ignore_error_codes,
                quarantine_codes=policy.quarantine_codes,
                origin=e.origin,
                cert=tls_file(e.cert, "cert", e.cert_line, cwd, config_path),
                client_cert=tls_file(
                    e.client_cert, "client-cert", e.client_cert_line, cwd, config_path
                ),
                auth_check=e.auth_check,
                upstream=e.upstream,
                keyring_provider=e.keyring_provider,
                password_command=e.password_command,
            )
        )
    # `upstream:` names another configured index: load_settings checks it, with its line.
    # The default index is always last.
    return [i for i in out if not i.default] + [i for i in out if i.default]


def normalize_url(url: str, cwd: Path, *, flat: bool = False) -> str:
    """An absolute URL; a simple index's base always ends with ``/``, as pip and uv join it
    (``.../simple`` + ``httpx`` is ``.../simple/httpx/``, never ``.../simplehttpx/``), for
    ``http(s)`` and ``file`` alike. A flat index may name a single HTML file: kept as is."""
    if "://" not in url:  # a local folder or file path
        path = (cwd / url).resolve()
        url = path.as_uri() + ("/" if path.is_dir() else "")
    if flat or url.endswith("/"):
        return url
    return url + "/"


def _readable(url: str, e: Entry, config_path: str | None) -> str:
    """The URL without its userinfo, once its host and port are known to read: else an
    input error naming where it was declared. urllib's own error would quote the whole
    ``user:password@host`` (a password with a character that NFKC normalization turns into
    ``/?#@:`` makes it refuse the netloc), so its words are never passed on as they are."""
    try:
        bare = strip_userinfo(url)
        _ = urlsplit(bare).port  # a port that is not a number, or out of range, raises
    except ValueError as exc:
        reason = (
            "its user or host part has characters that Unicode normalization (NFKC) changes"
            if "NFKC" in str(exc)
            else redact(str(exc))
        )
        file, line = _config_place(e, config_path)
        where = "" if file else f"{_where(e)}: "  # else the error names file and line
        raise InputError(
            f"{where}the index URL {redact(url)} cannot be read: {reason}", file=file, line=line
        ) from None
    return bare


def _config_place(e: Entry, config_path: str | None) -> tuple[str | None, int | None]:
    """The config file and line of an entry declared there, for an error to name; (None,
    None) for one from the command line, the environment or a requirements file."""
    if e.line is not None and e.origin == config_path:
        return config_path, e.line
    return None, None


def _where(e: Entry) -> str:
    """Where an index was declared, for an error: ``--index``, ``indexgate.yml:3``..."""
    return f"{e.origin}:{e.line}" if e.line is not None else e.origin


def _derive_name(url: str, used: Collection[str]) -> str:
    parts = urlsplit(url)
    base = parts.hostname or Path(parts.path).name or "index"
    if base in ("pypi.org", "pypi.python.org"):
        base = "pypi"
    name, n = base, 2
    while name in used:
        name, n = f"{base}-{n}", n + 1
    return name
