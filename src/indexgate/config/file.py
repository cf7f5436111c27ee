"""The config file (``.github/indexgate.yml``): where it is, its keys, and their checks.

Owns the list of known keys (top level and per index), reading a config file into a
``ConfigDoc`` (data plus the line of each key), and checking every key's type and range,
each error naming the file and line (and the closest known key for a misspelt one).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexgate.config.values import parse_size
from indexgate.config.yaml_lines import YamlLines, load_yaml_lines
from indexgate.errors import InputError
from indexgate.policy import (
    FAIL_ON,
    Fallback,
    Strategy,
)
from indexgate.redact import strip_userinfo

DEFAULT_CONFIG_PATHS = (".github/indexgate.yml", "indexgate.yml")

# The keys a config file may use. A feature that adds a key adds it here (and parses it in
# check_config / _check_index); any other key is an error that names the closest known one.
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
# Per-index keys whose value is one string (``${VAR}`` expanded in the paths and in
# password-command's arguments).
INDEX_STRING_KEYS: tuple[str, ...] = (
    "cert",
    "client-cert",
    "auth-check",
    "upstream",
    "keyring-provider",
    "password-command",
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
    *INDEX_STRING_KEYS,
)
EXPANDED_INDEX_KEYS = ("url", "username", "password", "cert", "client-cert")
_CONFIG_ENUMS: dict[str, type] = {"index-strategy": Strategy, "fallback": Fallback}
_FORMATS = ("simple", "flat")


@dataclass
class ConfigDoc:
    """One parsed config: where it came from, its data, and the line of each key and item."""

    path: str | None  # None: no config file
    data: dict[str, Any]
    lines: YamlLines = field(default_factory=YamlLines)

    def error(self, message: str, container: object = None, key: Any = None) -> InputError:
        """An InputError at the line of ``container[key]`` (or where ``container`` begins)."""
        line = None if container is None else self.lines.at(container, key)
        return InputError(message, file=self.path, line=line)


def read_config(path: str | None, cwd: Path) -> ConfigDoc:
    if path is None:
        path = next((p for p in DEFAULT_CONFIG_PATHS if (cwd / p).is_file()), None)
        if path is None:
            return ConfigDoc(None, {})
    return _read_doc(cwd / path, path)


def _read_doc(path: Path, label: str) -> ConfigDoc:
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
        return ConfigDoc(label, {}, lines)
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping (key: value)", file=label, line=1)
    doc = ConfigDoc(label, data, lines)
    check_config(doc)
    return doc


def read_config_file(path: Path, label: str) -> tuple[str, dict[str, Any]]:
    """A config file's text and its mapping ({} when empty), checked as ``check`` checks it."""
    doc = _read_doc(path, label)
    return path.read_text(encoding="utf-8"), doc.data


def _closest(word: str, known: Collection[str]) -> str:
    """``; did you mean 'password'?`` for a misspelt word, else nothing."""
    import difflib  # only on this error path: start-up time counts on every CI run

    close = difflib.get_close_matches(word.replace("_", "-").lower(), known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _unknown_key(key: Any, known: Collection[str]) -> str:
    """``unknown key 'passwd'; did you mean 'password'? (known: ...)``"""
    return f"unknown key {key!r}{_closest(str(key), known)} (known: {', '.join(sorted(known))})"


def kind_of(value: Any) -> str:
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


def check_config(doc: ConfigDoc) -> None:
    """Every top-level key of a config file: known, of the right type, in range."""
    cfg = doc.data
    for key in cfg:
        if key not in CONFIG_KEYS:
            raise doc.error(_unknown_key(key, CONFIG_KEYS), cfg, key)
    if "indexes" in cfg and not isinstance(cfg["indexes"] or [], list):
        raise doc.error("`indexes` must be a list", cfg, "indexes")
    check_indexes(cfg.get("indexes") or [], doc)
    for key, kind in _CONFIG_ENUMS.items():
        value = cfg.get(key)
        if key in cfg and value not in {m.value for m in kind}:
            allowed = ", ".join(m.value for m in kind)
            shown = repr(value) if isinstance(value, str) else kind_of(value)
            raise doc.error(f"{key} must be one of {allowed}, not {shown}", cfg, key)
    for key in ("python-versions", "platforms"):
        cfg_strings(doc, key)  # types only: load_settings checks the values, with their lines
    for value, line in cfg_strings(doc, "fail-on"):
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
                    f"sources: {pkg} must name an index (a string), not {kind_of(idx)}",
                    sources,
                    pkg,
                )
    if "pre" in cfg and not isinstance(cfg["pre"], bool):
        raise doc.error(f"`pre` must be true or false, not {kind_of(cfg['pre'])}", cfg, "pre")
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
            shown = value if isinstance(value, int | float) else kind_of(value)
            raise doc.error(f"`{key}` must be a number of seconds above 0 (got {shown})", cfg, key)
    if "max-body-size" in cfg:
        parse_size(
            cfg["max-body-size"],
            "max-body-size",
            doc.path,
            doc.lines.at(cfg, "max-body-size"),
        )
    if cfg.get("cert") is not None and not isinstance(cfg["cert"], str):
        raise doc.error(
            f"`cert` must be a path (a string), not {kind_of(cfg['cert'])}", cfg, "cert"
        )


def cfg_strings(doc: ConfigDoc, key: str) -> list[tuple[str, int | None]]:
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
            raise doc.error(f"{key} must be a list of strings, not {kind_of(v)}", container, k)
        text = v if isinstance(v, str) else doc.lines.number_text(container, k) or str(v)
        out.append((text, doc.lines.at(container, k)))
    return out


def index_label(raw: Any, i: int) -> str:
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


def check_indexes(entries: list[Any], doc: ConfigDoc) -> None:
    """Each entry of an ``indexes`` list, and no two with the same name (naming both lines)."""
    names: dict[str, int | None] = {}
    for i, raw in enumerate(entries):
        _check_index(raw, i, doc, doc.lines.at(entries, i))
        if raw.get("name") is None:
            continue
        name = raw["name"].strip()  # as config_entry keeps it
        line = doc.lines.at(raw, "name")
        if name in names:
            raise doc.error(
                f"two indexes are named '{name}' (lines {names[name]} and {line}); "
                "index names must be unique",
                raw,
                "name",
            )
        names[name] = line


def _check_index(raw: Any, i: int, doc: ConfigDoc, line: int | None) -> None:
    """One ``indexes`` entry: known keys, types, an url, codes that are HTTP error codes."""
    label = index_label(raw, i)
    if not isinstance(raw, dict):
        hint = " (write `- url: ...`)" if isinstance(raw, str) else ""
        raise InputError(
            f"{label} must be a mapping with name and url, not {kind_of(raw)}{hint}",
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
                f"{label}: `{key}` must be a string, not {kind_of(value)}{hint}",
                raw,
                key,
            )
    if "name" in raw and not (raw["name"] or "").strip():
        raise doc.error(f"{label}: `name` is empty", raw, "name")
    if not (raw.get("url") or "").strip():
        raise doc.error(f"{label} needs a `url`", raw, "url")
    for key in ("default", "explicit"):
        if raw.get(key) is not None and not isinstance(raw[key], bool):
            raise doc.error(
                f"{label}: `{key}` must be true or false, not {kind_of(raw[key])}",
                raw,
                key,
            )
    fmt = raw.get("format", "simple")
    if fmt not in _FORMATS:
        shown = repr(fmt) if isinstance(fmt, str) else kind_of(fmt)
        raise doc.error(f"{label}: format must be simple or flat, not {shown}", raw, "format")
    for key in ("ignore-error-codes", "quarantine-codes"):
        codes = raw.get(key)
        if codes is None:
            continue
        if not isinstance(codes, list):
            raise doc.error(
                f"{label}: `{key}` must be a list of HTTP status codes, e.g. [403], "
                f"not {kind_of(codes)}",
                raw,
                key,
            )
        for n, code in enumerate(codes):
            if isinstance(code, bool) or not isinstance(code, int):
                shown = repr(code) if isinstance(code, str | float) else kind_of(code)
                raise doc.error(f"{label}: {key}: {shown} is not an HTTP status code", codes, n)
            if not 400 <= code <= 599:
                raise doc.error(
                    f"{label}: {key}: {code} is not an HTTP error status (400-599)",
                    codes,
                    n,
                )
