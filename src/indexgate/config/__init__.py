"""Settings for one run: indexes (ordered, with credentials and codes), strategy, targets.

Index order, highest priority first, as uv ranks them: ``--index``/``--extra-index-url``
on the command line, then the config file, requirements-file options, ``UV_INDEX`` /
``PIP_EXTRA_INDEX_URL``, then ``[[tool.uv.index]]`` / uv.toml; the default index
(``--default-index``/``--index-url``, ``default: true``, ``-i``, ``UV_DEFAULT_INDEX``,
``PIP_INDEX_URL``) always last. indexgate never adds PyPI by itself.
"""

from __future__ import annotations

import functools
import math
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from packaging.utils import NormalizedName, canonicalize_name

from indexgate.config.network import network_settings, tls_file
from indexgate.errors import InputError
from indexgate.policy import (
    DEFAULT_QUARANTINE_CODES,
    Fallback,
    Strategy,
    default_ignore_error_codes,
    env_name,
)
from indexgate.redact import register_secret, strip_userinfo
from indexgate.report.model import Problem
from indexgate.report.outcome import FAIL_ON
from indexgate.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_TIME,
    DEFAULT_TIMEOUT,
    CliOptions,
    IndexConfig,
    Settings,
)
from indexgate.sources.model import SourceSet
from indexgate.targets import default_python, make_target

DEFAULT_CONFIG_PATHS = (".github/indexgate.yml", "indexgate.yml")
PYPI_URL = "https://pypi.org/simple/"

# The keys a config file may use. A feature that adds a key adds it here (and parses it in
# _check_config / _check_index); any other key is an error that names the closest known one.
CONFIG_KEYS: tuple[str, ...] = (
    "index-strategy",
    "python-versions",
    "platforms",
    "fallback",
    "indexes",
    "sources",
    "fail-on",
    "pre",
    "concurrency",
    "cert",  # CA bundle for every index without its own
    "timeout",  # total deadline of one request, seconds
    "max-time",  # deadline of the whole run, seconds
    "max-body-size",  # hard cap on one response body
)
INDEX_KEYS: tuple[str, ...] = (
    "name",
    "url",
    "username",
    "password",
    "default",
    "explicit",
    "format",
    "ignore-error-codes",
    "quarantine-codes",
    "cert",
    "client-cert",
    "auth-check",
    "upstream",
    "keyring-provider",
    "password-command",
)
# Per-index keys whose value is one string, kept as written (``${VAR}`` expanded where the
# value is a path: the command of password-command is left to its shell).
INDEX_STRING_KEYS: tuple[str, ...] = (
    "cert",
    "client-cert",
    "auth-check",
    "upstream",
    "keyring-provider",
    "password-command",
)
_EXPANDED_INDEX_KEYS = ("url", "username", "password", "cert", "client-cert")
_CONFIG_ENUMS: dict[str, type] = {"index-strategy": Strategy, "fallback": Fallback}
_FORMATS = ("simple", "flat")


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
    cert: str | None = None
    client_cert: str | None = None
    auth_check: str | None = None
    upstream: str | None = None
    keyring_provider: str | None = None
    password_command: str | None = None
    line: int | None = None  # where a config-file entry begins
    cert_line: int | None = None
    client_cert_line: int | None = None


def load_settings(
    cli: CliOptions,
    sources: SourceSet,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if env is None else env
    doc = _read_config(cli.config, cwd)
    config_path, cfg = doc.path, doc.data

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
        entry = _config_entry(raw, i, doc, env)
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

    # The config's values are checked (with their lines) by _check_config.
    strategy = _enum(Strategy, cli.strategy or cfg.get("index-strategy"), "index-strategy")
    fallback = _enum(Fallback, cli.fallback or cfg.get("fallback"), "fallback")
    python_lines = [(v, None) for v in cli.python_versions] or _cfg_strings(doc, "python-versions")
    platform_lines = [(v, None) for v in cli.platforms] or _cfg_strings(doc, "platforms")
    python_lines = python_lines or [(default_python(sources.requires_python), None)]
    platform_lines = platform_lines or [("linux_x86_64", None)]
    # Validate each list on its own, so an error names where the bad value was written.
    for values, given, probe in (
        (python_lines, cli.python_versions, lambda v: make_target(v, "linux_x86_64")),
        (platform_lines, cli.platforms, lambda v: make_target("3.12", v)),
    ):
        for value, line in values:
            try:
                probe(value)
            except InputError as exc:
                if given or line is None:
                    raise
                raise InputError(exc.problem, file=config_path, line=line) from None
    pythons = [v for v, _ in python_lines]
    platforms = [v for v, _ in platform_lines]
    targets = tuple(make_target(p, plat) for p in pythons for plat in platforms)

    pins: dict[NormalizedName, str] = dict(sources.uv_sources)
    cfg_sources = cfg.get("sources") or {}
    pins.update({canonicalize_name(str(k)): v for k, v in cfg_sources.items()})
    names = {i.name for i in indexes}
    written = {canonicalize_name(str(k)): k for k in cfg_sources}  # for the line
    for pkg, idx in pins.items():
        if idx not in names:
            raise InputError(
                f"sources: {pkg} is pinned to index '{idx}', which is not configured "
                f"(configured: {', '.join(sorted(names))})",
                file=config_path if pkg in written else None,
                line=doc.lines.at(cfg_sources, written[pkg]) if pkg in written else None,
            )
    for i, raw in enumerate(cfg.get("indexes") or []):
        up = raw.get("upstream")
        if up is not None and (up not in names or up == raw.get("name")):
            raise doc.error(
                f"{_index_label(raw, i)}: upstream '{up}' must name another configured index "
                f"(configured: {', '.join(sorted(names))})",
                raw,
                "upstream",
            )

    fail_on = frozenset(x for v in cli.fail_on for x in v.replace(",", " ").split())
    fail_on |= frozenset(v for v, _ in _cfg_strings(doc, "fail-on"))  # checked, with lines
    if unknown := fail_on - FAIL_ON.keys():
        raise InputError(
            f"unknown --fail-on value(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(FAIL_ON))}"
        )
    cfg_cert = cfg.get("cert")
    cert_line = doc.lines.at(cfg, "cert")
    if cfg_cert is not None:
        cfg_cert = expand_vars(cfg_cert, env, file=config_path, line=cert_line)
    network = network_settings(cli.cert, cfg_cert, cert_line, env, cwd, config_path, indexes)
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
        cert=network.cert,
        network=network,
        timeout=cli.timeout or float(cfg.get("timeout", DEFAULT_TIMEOUT)),
        max_time=cli.max_time or float(cfg.get("max-time", DEFAULT_MAX_TIME)),
        max_body_size=(
            parse_size(cli.max_body_size, "--max-body-size")
            if cli.max_body_size
            else parse_size(cfg.get("max-body-size", DEFAULT_MAX_BODY), "max-body-size")
        ),
    )


_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?", re.I)
_SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_size(value: object, what: str, file: str | None = None, line: int | None = None) -> int:
    """A size in bytes from ``200M``, ``20MB``, ``1.5G``, ``512k`` (binary multiples, as
    curl reads them) or a whole number of bytes; InputError (exit 2) otherwise."""
    text = str(value).strip() if isinstance(value, (int, float, str)) else ""
    m = _SIZE.fullmatch(text) if not isinstance(value, bool) else None
    size = int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]) if m else 0
    if size < 1:
        raise InputError(
            f"`{what}` must be a size such as 200M, 20MB, 1G or a number of bytes (got {value!r})",
            file=file,
            line=line,
        )
    return size


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


# --- the config file: YAML with a line for every key and item ------------------------------


class YamlLines:
    """Where each mapping key and sequence item of one parsed YAML document was written.

    The parsed data stays plain dicts and lists (the rest of the code, and the Action's
    ``yaml.safe_dump`` of a merged config, need exactly those); this side table answers
    "which line?" for an error message. Lines are 1-based. A key merged in from an anchor
    (``<<: *base``) has the anchor's line.
    """

    def __init__(self) -> None:
        self._start: dict[int, int] = {}
        self._keys: dict[int, dict[Any, int]] = {}
        self._items: dict[int, list[int]] = {}
        self._numbers: dict[tuple[int, Any], str] = {}
        self._keep: list[object] = []  # ids stay unique while the table lives

    def _record(self, container: object, start: int) -> None:
        self._keep.append(container)
        self._start[id(container)] = start

    def start(self, container: object) -> int | None:
        """The line a mapping or sequence begins on (its first key or item)."""
        return self._start.get(id(container))

    def at(self, container: object, key: Any = None) -> int | None:
        """The line of a mapping's key or a sequence's item; else where the container begins."""
        if isinstance(container, dict):
            line = self._keys.get(id(container), {}).get(key)
        elif isinstance(container, list) and isinstance(key, int):
            items = self._items.get(id(container), [])
            line = items[key] if 0 <= key < len(items) else None
        else:
            line = None
        return line if line is not None else self.start(container)

    def number_text(self, container: object, key: Any) -> str | None:
        """A number's text as written (``3.10``, which YAML reads as the float 3.1)."""
        return self._numbers.get((id(container), key))


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@functools.cache
def _line_loader() -> type:
    """A SafeLoader that fills a YamlLines while it builds plain dicts and lists.

    Built on first use: PyYAML is imported only when there is a config to read.
    """
    import yaml
    from yaml.constructor import ConstructorError

    class LineLoader(yaml.SafeLoader):
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.lines = YamlLines()

        def construct_object(self, node: Any, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except (ValueError, OverflowError) as exc:  # e.g. a date 2024-02-30
                raise ConstructorError(None, None, f"bad value: {exc}", node.start_mark) from None

        def _number_texts(self, data: object, pairs: Iterator[tuple[Any, Any]]) -> None:
            for key, node in pairs:
                if isinstance(node, yaml.ScalarNode) and node.tag in (_INT_TAG, _FLOAT_TAG):
                    self.lines._numbers[(id(data), key)] = node.value

        def construct_line_map(self, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
            data: dict[Any, Any] = {}
            self.lines._record(data, node.start_mark.line + 1)
            yield data
            # PyYAML keeps the last of two equal keys silently; a config must not.
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node)
                try:
                    first = seen.get(key)
                except TypeError:  # unhashable: construct_mapping says so
                    continue
                if first is not None:
                    raise ConstructorError(
                        None,
                        None,
                        f"duplicate key {key!r} (first on line {first})",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line + 1
            data.update(self.construct_mapping(node))  # flattens merges into node.value
            keys = self.lines._keys.setdefault(id(data), {})
            for key_node, _ in node.value:
                keys[self.construct_object(key_node)] = key_node.start_mark.line + 1
            self._number_texts(data, ((self.construct_object(k), v) for k, v in node.value))

        def construct_line_seq(self, node: yaml.SequenceNode) -> Iterator[list[Any]]:
            data: list[Any] = []
            self.lines._record(data, node.start_mark.line + 1)
            yield data
            data.extend(self.construct_sequence(node))
            self.lines._items[id(data)] = [n.start_mark.line + 1 for n in node.value]
            self._number_texts(data, enumerate(node.value))

    LineLoader.add_constructor("tag:yaml.org,2002:map", LineLoader.construct_line_map)
    LineLoader.add_constructor("tag:yaml.org,2002:seq", LineLoader.construct_line_seq)
    return LineLoader


def load_yaml_lines(text: str, label: str) -> tuple[Any, YamlLines]:
    """YAML as plain data plus the line of every key and item; InputError names file:line.

    PyYAML is imported here, not at the top: most runs have no config file, and the
    import costs more than reading a whole requirements file.
    """
    import yaml

    loader = _line_loader()(text)
    try:
        return loader.get_single_data(), loader.lines
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if mark is None:
            raise InputError(f"invalid YAML: {problem}", file=label) from None
        raise InputError(
            f"invalid YAML (column {mark.column + 1}): {problem}", file=label, line=mark.line + 1
        ) from None
    except RecursionError:
        raise InputError("invalid YAML: nested too deeply", file=label) from None
    finally:
        loader.dispose()


def load_yaml(text: str, label: str) -> Any:
    """YAML, or an InputError naming the file and line of the problem."""
    return load_yaml_lines(text, label)[0]


@dataclass
class _Doc:
    """One parsed config: where it came from, its data, and the line of each key and item."""

    path: str | None  # None: no config file
    data: dict[str, Any]
    lines: YamlLines = field(default_factory=YamlLines)

    def error(self, message: str, container: object = None, key: Any = None) -> InputError:
        """An InputError at the line of ``container[key]`` (or where ``container`` begins)."""
        line = None if container is None else self.lines.at(container, key)
        return InputError(message, file=self.path, line=line)


def _read_config(path: str | None, cwd: Path) -> _Doc:
    if path is None:
        path = next((p for p in DEFAULT_CONFIG_PATHS if (cwd / p).is_file()), None)
        if path is None:
            return _Doc(None, {})
    return _read_doc(cwd / path, path)


def _read_doc(path: Path, label: str) -> _Doc:
    """A config file, read and checked: every error names the file and the line."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError("config file not found", file=label) from None
    except OSError as exc:
        raise InputError(f"cannot read config file: {exc.strerror}", file=label) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", file=label, line=line) from None
    data, lines = load_yaml_lines(text, label)
    if data is None:
        return _Doc(label, {}, lines)
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (key: value)", file=label, line=1)
    doc = _Doc(label, data, lines)
    _check_config(doc)
    return doc


def read_config_file(path: Path, label: str) -> tuple[str, dict[str, Any]]:
    """A config file's text and its mapping ({} when empty), checked as ``check`` checks it."""
    doc = _read_doc(path, label)
    return path.read_text(encoding="utf-8"), doc.data


def config_from_yaml_text(
    text: str, label: str, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Parse and check an ``indexes`` YAML list given inline (the Action's ``indexes`` input).

    Errors name ``label`` and the line within ``text``. With ``env``, every ``${VAR}`` must
    be set there too (the values are not kept: the CLI expands them again).
    """
    data, lines = load_yaml_lines(text, label)
    doc = _Doc(label, {}, lines)
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
    _check_indexes(data, doc)
    if env is not None:
        for i, raw in enumerate(data):
            _config_entry(raw, i, doc, env)
    return data


def _closest(word: str, known: Collection[str]) -> str:
    """``; did you mean 'password'?`` for a misspelt word, else nothing."""
    import difflib  # only on this error path: start-up time counts on every CI run

    close = difflib.get_close_matches(word.replace("_", "-").lower(), known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown_key(key: Any, known: Collection[str]) -> str:
    """``unknown key 'passwd'; did you mean 'password'? (known: ...)``"""
    return f"unknown key {key!r}{_closest(str(key), known)} (known: {', '.join(sorted(known))})"


def _kind(value: Any) -> str:
    """What YAML made of a value, for "must be a string, not a number" (never the value)."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "a string" if isinstance(value, str) else f"a {type(value).__name__}"


def _check_config(doc: _Doc) -> None:
    """Every top-level key of a config file: known, of the right type, in range."""
    cfg = doc.data
    for key in cfg:
        if key not in CONFIG_KEYS:
            raise doc.error(_unknown_key(key, CONFIG_KEYS), cfg, key)
    if "indexes" in cfg and not isinstance(cfg["indexes"] or [], list):
        raise doc.error("`indexes` must be a list", cfg, "indexes")
    _check_indexes(cfg.get("indexes") or [], doc)
    for key, kind in _CONFIG_ENUMS.items():
        value = cfg.get(key)
        if key in cfg and value not in {m.value for m in kind}:
            allowed = ", ".join(m.value for m in kind)
            shown = repr(value) if isinstance(value, str) else _kind(value)
            raise doc.error(f"{key} must be one of {allowed}, not {shown}", cfg, key)
    for key in ("python-versions", "platforms"):
        _cfg_strings(doc, key)  # types only: load_settings checks the values, with their lines
    for value, line in _cfg_strings(doc, "fail-on"):
        if value not in FAIL_ON:
            raise InputError(
                f"fail-on: unknown value {value!r}{_closest(value, FAIL_ON)} "
                f"(known: {', '.join(sorted(FAIL_ON))})",
                file=doc.path,
                line=line,
            )
    sources = cfg.get("sources")
    if sources is not None:
        if not isinstance(sources, dict):
            raise doc.error("`sources` must map package names to index names", cfg, "sources")
        for pkg, idx in sources.items():
            if not isinstance(idx, str):
                raise doc.error(
                    f"sources: {pkg} must name an index (a string), not {_kind(idx)}", sources, pkg
                )
    if "pre" in cfg and not isinstance(cfg["pre"], bool):
        raise doc.error(f"`pre` must be true or false, not {_kind(cfg['pre'])}", cfg, "pre")
    concurrency = cfg.get("concurrency")
    if "concurrency" in cfg and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise doc.error(
            f"`concurrency` must be a whole number of requests, 1 or more (got {concurrency!r})",
            cfg,
            "concurrency",
        )
    for key in ("timeout", "max-time"):
        value = cfg.get(key)
        if key in cfg and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            shown = value if isinstance(value, int | float) else _kind(value)
            raise doc.error(f"`{key}` must be a number of seconds above 0 (got {shown})", cfg, key)
    if "max-body-size" in cfg:
        parse_size(
            cfg["max-body-size"], "max-body-size", doc.path, doc.lines.at(cfg, "max-body-size")
        )
    if cfg.get("cert") is not None and not isinstance(cfg["cert"], str):
        raise doc.error(f"`cert` must be a path (a string), not {_kind(cfg['cert'])}", cfg, "cert")


def _cfg_strings(doc: _Doc, key: str) -> list[tuple[str, int | None]]:
    """A config value that is one string or a list of them, each with its line.

    Numbers are taken as written: ``python-versions: [3.10]`` means "3.10", not YAML's 3.1.
    """
    cfg = doc.data
    value = cfg.get(key)
    if value is None:
        return []
    if isinstance(value, list):
        pairs = [(value, i, v) for i, v in enumerate(value)]
    else:
        pairs = [(cfg, key, value)]
    out: list[tuple[str, int | None]] = []
    for container, k, v in pairs:
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            raise doc.error(f"{key} must be a list of strings, not {_kind(v)}", container, k)
        text = v if isinstance(v, str) else doc.lines.number_text(container, k) or str(v)
        out.append((text, doc.lines.at(container, k)))
    return out


def _index_label(raw: Any, i: int) -> str:
    """How an error names an index: by its name, else its URL (no userinfo), else its place."""
    if isinstance(raw, dict):
        name = raw.get("name")
        if isinstance(name, str) and name.strip():
            return f"index '{name.strip()}'"
        url = raw.get("url")
        if isinstance(url, str) and url.strip():
            try:
                return f"index {strip_userinfo(url.strip())}"
            except ValueError:  # not even a URL: the place will do
                pass
    return f"indexes[{i}]"


def _check_indexes(entries: list[Any], doc: _Doc) -> None:
    """Each entry of an ``indexes`` list, and no two with the same name (naming both lines)."""
    names: dict[str, int | None] = {}
    for i, raw in enumerate(entries):
        _check_index(raw, i, doc, doc.lines.at(entries, i))
        if raw.get("name") is None:
            continue
        name = raw["name"].strip()  # as _config_entry keeps it
        line = doc.lines.at(raw, "name")
        if name in names:
            raise doc.error(
                f"two indexes are named '{name}' (lines {names[name]} and {line}); "
                "index names must be unique",
                raw,
                "name",
            )
        names[name] = line


def _check_index(raw: Any, i: int, doc: _Doc, line: int | None) -> None:
    """One ``indexes`` entry: known keys, types, an url, codes that are HTTP error codes."""
    label = _index_label(raw, i)
    if not isinstance(raw, dict):
        hint = " (write `- url: ...`)" if isinstance(raw, str) else ""
        raise InputError(
            f"{label} must be a mapping with name and url, not {_kind(raw)}{hint}",
            file=doc.path,
            line=line,
        )
    for key in raw:
        if key not in INDEX_KEYS:
            raise doc.error(f"{label}: {_unknown_key(key, INDEX_KEYS)}", raw, key)
    for key in ("name", "url", "username", "password", *INDEX_STRING_KEYS):
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            hint = " (put it in quotes)" if isinstance(value, int | float) else ""
            raise doc.error(
                f"{label}: `{key}` must be a string, not {_kind(value)}{hint}", raw, key
            )
    if "name" in raw and not (raw["name"] or "").strip():
        raise doc.error(f"{label}: `name` is empty", raw, "name")
    if not (raw.get("url") or "").strip():
        raise doc.error(f"{label} needs a `url`", raw, "url")
    for key in ("default", "explicit"):
        if raw.get(key) is not None and not isinstance(raw[key], bool):
            raise doc.error(
                f"{label}: `{key}` must be true or false, not {_kind(raw[key])}", raw, key
            )
    fmt = raw.get("format", "simple")
    if fmt not in _FORMATS:
        shown = repr(fmt) if isinstance(fmt, str) else _kind(fmt)
        raise doc.error(f"{label}: format must be simple or flat, not {shown}", raw, "format")
    for key in ("ignore-error-codes", "quarantine-codes"):
        codes = raw.get(key)
        if codes is None:
            continue
        if not isinstance(codes, list):
            raise doc.error(
                f"{label}: `{key}` must be a list of HTTP status codes, e.g. [403], "
                f"not {_kind(codes)}",
                raw,
                key,
            )
        for n, code in enumerate(codes):
            if isinstance(code, bool) or not isinstance(code, int):
                shown = repr(code) if isinstance(code, str | float) else _kind(code)
                raise doc.error(f"{label}: {key}: {shown} is not an HTTP status code", codes, n)
            if not 400 <= code <= 599:
                raise doc.error(
                    f"{label}: {key}: {code} is not an HTTP error status (400-599)", codes, n
                )


def _config_entry(raw: dict[str, Any], i: int, doc: _Doc, env: Mapping[str, str]) -> _Entry:
    """One checked ``indexes`` entry, its ``${VAR}`` expanded (an unset one names its line)."""
    label = _index_label(raw, i)
    path = doc.path or "config"

    def text(key: str) -> str | None:
        value = raw.get(key)
        if value is None or key not in _EXPANDED_INDEX_KEYS:
            return value
        line = doc.lines.at(raw, key)
        return expand_vars(value, env, file=doc.path, line=line, what=f"{label}: {key}")

    url = text("url") or ""
    if not url.strip():
        raise doc.error(f"{label}: `url` is empty once its variables are expanded", raw, "url")
    name = raw.get("name")
    return _Entry(
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
    raw: Mapping[str, Any], label: str, doc: _Doc, env: Mapping[str, str]
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
            f"{label}: give keyring-provider or password-command, not both", raw, "password-command"
        )
    return out


def _codes(raw: Mapping[str, Any], key: str) -> frozenset[int] | None:
    """A checked code list: None when the key is absent, {} when it is empty."""
    if key not in raw:
        return None
    return frozenset(raw[key] or ())


# ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset), ``$${`` (a
# literal ``${``), and any other ``${`` (a mistake, e.g. GitHub's ``${{ }}``, in strict mode).
_VAR = re.compile(
    r"\$(?:(?P<escape>\$)(?=\{)|\{(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<op>:?-)(?P<default>[^}]*))?\})?)"
)


def expand_vars(
    value: str,
    env: Mapping[str, str],
    *,
    file: str | None = None,
    line: int | None = None,
    what: str = "",
    strict: bool = True,
) -> str:
    """Expand ``${VAR}`` references as a shell does, or say exactly which one is missing.

    ``${VAR:-default}`` uses the default when VAR is unset or empty, ``${VAR-default}`` only
    when it is unset; ``$${`` is a literal ``${``. In strict mode (config files) a plain
    ``${VAR}`` that is unset or empty is an InputError naming the file, line and variable:
    an empty password would only fail later, as the server's auth failure (and GitHub passes
    a secret that does not exist as an empty string). ``${VAR:-}`` says empty is meant.
    With ``strict=False`` (masking secrets before anything else runs) nothing raises and
    a missing variable is empty.
    """
    prefix = f"{what}: " if what else ""

    def one(m: re.Match[str]) -> str:
        if m["escape"]:
            return "$"
        name = m["name"]
        if name is None:
            if not strict:
                return m[0]
            hint = (
                " (GitHub's ${{ }} is not expanded here: pass the value in `env:` and write ${VAR})"
                if value[m.end() : m.end() + 1] == "{"
                else " (write ${VAR}, ${VAR:-default}, or $${ for a literal ${)"
            )
            raise InputError(f"{prefix}malformed variable reference{hint}", file=file, line=line)
        current = env.get(name)
        op = m["op"]
        if (op == ":-" and not current) or (op == "-" and current is None):
            return m["default"]
        if op or current or not strict:
            return current or ""
        state = "is not set" if current is None else "is set but empty"
        raise InputError(
            f"{prefix}environment variable {name} {state} (needed by ${{{name}}}; "
            f"write ${{{name}:-}} if empty is meant)",
            file=file,
            line=line,
        )

    return _VAR.sub(one, value)


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
    used: dict[str, _Entry] = {}
    for e in entries:
        url = _normalize_url(e.url, cwd, flat=e.format == "flat")
        bare = strip_userinfo(url)
        if bare in seen_urls:
            continue
        seen_urls.add(bare)
        name = e.name or _derive_name(bare, used)
        if name in used:
            first = used[name]
            in_config = e.line is not None and e.origin == config_path
            raise InputError(
                f"two indexes are named '{name}' ({_where(first)} and {_where(e)}); "
                "index names must be unique",
                file=config_path if in_config else None,
                line=e.line if in_config else None,
            )
        used[name] = e
        user, password = _credentials(e, url, name, env)
        if password is None and (e.keyring_provider or e.password_command):
            from indexgate.index.credentials import obtain  # runs a command: only when asked

            user, password = obtain(bare, name, user, e.keyring_provider, e.password_command)
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


def _where(e: _Entry) -> str:
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


def _enum(kind: type, value: Any, what: str) -> Any:
    """A command-line (or already checked config) value; the first member when not given."""
    if value is None:
        return next(iter(kind))
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise InputError(f"{what} must be one of {allowed}, not {value!r}") from None


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
