"""The inputs loader: command line, config file, requirements and uv options, environment,
turned into one ``indexgate.settings.Settings``.

The package owns reading and checking the inputs (every error names file and line, exit
2). Its modules: ``yaml_lines`` (YAML with lines), ``file`` (the config file's keys and
checks), ``indexes`` (index order, names, codes), ``network`` (CA bundle and proxies),
``values`` (``${VAR}``, sizes). Credentials come from ``indexgate.credentials``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from packaging.utils import NormalizedName, canonicalize_name

from indexgate.config.file import (
    DEFAULT_CONFIG_PATHS,
    cfg_strings,
    index_label,
    read_config,
    read_config_file,
)
from indexgate.config.indexes import config_from_yaml_text, declared_indexes, finish_indexes
from indexgate.config.network import network_settings
from indexgate.config.values import binary_set, enum_value, expand_vars, parse_size
from indexgate.config.yaml_lines import YamlLines, load_yaml, load_yaml_lines
from indexgate.errors import InputError
from indexgate.policy import FAIL_ON, Fallback, Strategy
from indexgate.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_TIME,
    DEFAULT_TIMEOUT,
    CliOptions,
    Settings,
)
from indexgate.sources.model import SourceSet
from indexgate.targets import default_python, make_target

__all__ = [
    "DEFAULT_CONFIG_PATHS",
    "YamlLines",
    "config_from_yaml_text",
    "expand_vars",
    "load_settings",
    "load_yaml",
    "load_yaml_lines",
    "parse_size",
    "read_config_file",
]


def load_settings(
    cli: CliOptions,
    sources: SourceSet,
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
) -> Settings:
    env = os.environ if env is None else env
    doc = read_config(cli.config, cwd)
    config_path, cfg = doc.path, doc.data

    entries, defaults, unchecked = declared_indexes(cli, sources, doc, env)

    # Only the highest-priority default counts, as a CLI --default-index replaces uv's.
    chosen = entries + defaults[:1]
    indexes = finish_indexes(chosen, env, config_path, cwd)
    if not indexes:
        raise InputError(
            "no index configured: give --index URL / --default-index URL, an `indexes:` list in "
            ".github/indexgate.yml, or index options in your requirements or uv config",
            file=config_path,
        )

    # The config's values are checked (with their lines) by check_config.
    strategy = enum_value(Strategy, cli.strategy or cfg.get("index-strategy"), "index-strategy")
    fallback = enum_value(Fallback, cli.fallback or cfg.get("fallback"), "fallback")
    python_lines = [(v, None) for v in cli.python_versions] or cfg_strings(doc, "python-versions")
    platform_lines = [(v, None) for v in cli.platforms] or cfg_strings(doc, "platforms")
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
                f"{index_label(raw, i)}: upstream '{up}' must name another configured index "
                f"(configured: {', '.join(sorted(names))})",
                raw,
                "upstream",
            )

    fail_on = frozenset(x for v in cli.fail_on for x in v.replace(",", " ").split())
    fail_on |= frozenset(v for v, _ in cfg_strings(doc, "fail-on"))  # checked, with lines
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
        only_binary=binary_set(cli.only_binary),
        no_binary=binary_set(cli.no_binary),
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


def _default_cache_dir(env: Mapping[str, str]) -> str | None:
    """``$XDG_CACHE_HOME/indexgate``, else ``~/.cache/indexgate``; None without a home."""
    base = env.get("XDG_CACHE_HOME") or (
        str(Path(env["HOME"]) / ".cache") if env.get("HOME") else None
    )
    return str(Path(base) / "indexgate") if base else None
