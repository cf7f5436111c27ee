"""pip requirements files, read the way pip reads them, with file:line for every entry.

The syntax follows pip's ``req_file.py`` (continuations, comments, ``${VAR}``, the
args-then-options split and optparse for the options) so that a file pip accepts reads
the same here. Local projects (``-e .``, ``./lib``), direct URLs, VCS references and
archives are read as locations (``locations.py``): they are not resolved from an index.
Remote includes are refused.
"""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, NoReturn, cast

from packaging.requirements import InvalidRequirement, Requirement

if TYPE_CHECKING:
    import optparse

from indexgate.errors import InputError, Origin, read_input_bytes
from indexgate.lazy_re import LazyPattern
from indexgate.redact import redact
from indexgate.sources.model import IndexHint, SourceRequirement, SourceSet

_COMMENT = re.compile(r"(^|\s+)#.*$")
_ENV_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")
_OPTION_START = re.compile(r"(?:^|\s)(?=-)")
# Compiled on first use: only --hash values, and -r/-c/--find-links targets, need them.
_HASH = LazyPattern(r"^(sha256|sha384|sha512):([0-9a-fA-F]+)$")
_URL = LazyPattern(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tar", ".zip")
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Options pip accepts after a requirement on the same line; every other one must stand alone.
_PER_REQUIREMENT = {"hashes", "config_settings", "global_option"}
_OPTION_NAMES = {
    "requirements": "-r/--requirement",
    "constraints": "-c/--constraint",
    "editables": "-e/--editable",
    "index_url": "-i/--index-url",
    "extra_index_urls": "--extra-index-url",
    "no_index": "--no-index",
    "find_links": "-f/--find-links",
    "pre": "--pre",
    "only_binary": "--only-binary",
    "no_binary": "--no-binary",
    "prefer_binary": "--prefer-binary",
    "require_hashes": "--require-hashes",
    "trusted_host": "--trusted-host",
    "use_feature": "--use-feature",
}


class _OptionError(Exception):
    pass


class _Unterminated(Exception):
    """The file ends inside a backslash continuation that began on line ``first``."""

    def __init__(self, first: int) -> None:
        self.first = first


# pip's options of a requirements file: flags, optparse's action, and where the value goes.
_OPTIONS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("-r", "--requirement"), "append", "requirements"),
    (("-c", "--constraint"), "append", "constraints"),
    (("-e", "--editable"), "append", "editables"),
    (("-i", "--index-url"), "store", "index_url"),
    (("--extra-index-url",), "append", "extra_index_urls"),
    (("--no-index",), "store_true", "no_index"),
    (("-f", "--find-links"), "append", "find_links"),
    (("--pre",), "store_true", "pre"),
    (("--only-binary",), "append", "only_binary"),
    (("--no-binary",), "append", "no_binary"),
    (("--prefer-binary",), "store_true", "prefer_binary"),
    (("--require-hashes",), "store_true", "require_hashes"),
    (("--trusted-host",), "append", "trusted_host"),
    (("--use-feature",), "append", "use_feature"),
    (("--hash",), "append", "hashes"),
    (("--config-settings",), "append", "config_settings"),
    (("--global-option",), "append", "global_option"),
)

# The options of a line that names none: each unset, as optparse's defaults are (most
# lines are a bare requirement; optparse is imported for the others only). A name that is
# not one of ``_OPTIONS`` is an AttributeError here too.
_NO_OPTIONS = cast("optparse.Values", SimpleNamespace(**{dest: None for *_, dest in _OPTIONS}))


@cache
def _parser() -> optparse.OptionParser:
    """pip's options of a requirements file, made on the first line that has some."""
    import optparse

    class _OptionParser(optparse.OptionParser):
        """optparse that raises instead of printing usage and exiting."""

        def error(self, msg: str) -> NoReturn:
            raise _OptionError(msg)

        def exit(self, status: int = 0, msg: str | None = None) -> NoReturn:
            raise _OptionError(msg or "invalid options")

    parser = _OptionParser(add_help_option=False, usage=optparse.SUPPRESS_USAGE)
    for flags, action, dest in _OPTIONS:
        parser.add_option(*flags, action=action, dest=dest)
    return parser


def parse_requirements_file(
    path: Path,
    *,
    display: str | None = None,
    constraint: bool = False,
    cwd: Path | None = None,
) -> SourceSet:
    """Read one requirements file and everything it includes with -r / -c.

    ``display`` is the path to name in origins and errors (as the user gave it);
    includes are named relative to it. ``constraint`` reads the file as a -c file.
    ``cwd`` is where relative project paths (``-e .``) are read from first, as pip does.
    """
    out = SourceSet()
    _parse(path, display or str(path), constraint, (), out, cwd or Path.cwd())
    return out


def _parse(
    path: Path,
    display: str,
    constraint: bool,
    chain: tuple[tuple[Path, str], ...],
    out: SourceSet,
    cwd: Path,
) -> None:
    text = _read(path, display)
    out.files.append(display)
    chain = (*chain, (_identity(path), display))
    for lineno, raw in _checked_lines(text, display):
        line = _COMMENT.sub("", raw).strip()
        if not line:
            continue
        line = _ENV_VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), line)
        origin = Origin(display, lineno)
        args, options = _split_args_options(line)
        opts = _parse_options(options, origin)
        if args:
            _requirement(args, opts, origin, constraint, out, path.parent, cwd)
        else:
            _file_options(opts, origin, path, constraint, chain, out, cwd)


def _read(path: Path, display: str) -> str:
    data = read_input_bytes(path, display, "a requirements file")
    # pip honours BOMs (PowerShell's `>` writes UTF-16); everything else is UTF-8.
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid {encoding} text: {exc.reason}", file=display) from None


def _identity(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """Join backslash continuations as pip does; number each by its first physical line."""
    parts: list[str] = []
    first = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if not parts:
            first = number
        if line.endswith("\\") and not _COMMENT.match(line):
            parts.append(line.strip("\\"))
            continue
        if parts and _COMMENT.match(line):
            line = " " + line  # so the comment is stripped, not glued to the line above
        parts.append(line)
        yield first, "".join(parts)
        parts = []
    if parts:  # pip refuses this too: the line the backslash promised never came
        raise _Unterminated(first)


def _checked_lines(text: str, display: str) -> Iterator[tuple[int, str]]:
    """``_logical_lines``, with a continuation at end of file an input error (exit 2)."""
    try:
        yield from _logical_lines(text)
    except _Unterminated as exc:
        raise InputError(
            "the file ends inside a line continuation that begins on this line: its last "
            "line ends with a backslash and no line follows (remove the backslash, or add "
            "the rest of the line)",
            file=display,
            line=exc.first,
        ) from None


def _split_args_options(line: str) -> tuple[str, str]:
    """pip's split: the requirement is everything before the first token starting with '-'."""
    match = _OPTION_START.search(line)
    if match is None:
        return line, ""
    return line[: match.start()].strip(), line[match.start() :].strip()


def _parse_options(options: str, origin: Origin) -> optparse.Values:
    if not options:
        return _NO_OPTIONS
    import shlex

    try:
        tokens = shlex.split(options)
    except ValueError as exc:
        raise _error(f"cannot split options: {exc}", origin) from None
    try:
        parser = _parser()
        opts, leftover = parser.parse_args(tokens, parser.get_default_values())
    except _OptionError as exc:
        message = str(exc)
        if message.startswith("no such option: "):
            message = f"unknown option '{message.removeprefix('no such option: ')}'"
        raise _error(message, origin) from None
    if leftover:
        raise _error(f"unexpected '{leftover[0]}' after options", origin)
    return opts


def _given(opts: optparse.Values) -> list[str]:
    """The dests of the options actually written on a line (no defaults are set)."""
    return [dest for dest, value in vars(opts).items() if value]


def _requirement(
    text: str,
    opts: optparse.Values,
    origin: Origin,
    constraint: bool,
    out: SourceSet,
    base: Path,
    cwd: Path,
) -> None:
    stray = [d for d in _given(opts) if d not in _PER_REQUIREMENT]
    if stray:
        name = _OPTION_NAMES.get(stray[0], stray[0])
        raise _error(f"option {name} must be on a line of its own, not after a requirement", origin)
    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        if _looks_like_location(text):
            _add_location(text, origin, constraint, out, base=base, cwd=cwd)
            return
        reason = str(exc).splitlines()[0]
        raise _error(f"invalid requirement '{text}': {reason}", origin) from None
    if requirement.url is not None:  # name @ url (PEP 508)
        _add_location(text, origin, constraint, out, base=base, cwd=cwd, named=requirement)
        return
    if requirement.name.lower().endswith(_ARCHIVES):  # a bare archive file name
        _add_location(text, origin, constraint, out, base=base, cwd=cwd)
        return
    hashes = tuple(_hash(value, origin) for value in opts.hashes or ())
    entry = SourceRequirement(requirement, origin, hashes=hashes, constraint=constraint)
    (out.constraints if constraint else out.requirements).append(entry)


def _add_location(
    text: str,
    origin: Origin,
    constraint: bool,
    out: SourceSet,
    *,
    base: Path,
    cwd: Path,
    named: Requirement | None = None,
    editable: bool = False,
) -> None:
    """A line that names a location (``named``: ``name @ url``; else the line is only the
    location) read into ``out``.

    locations.py, with the data it makes, is imported by the lines that name one: a file
    of project names (every reused check of one) never loads it."""
    from indexgate.sources.locations import LocalProject, classify, unnamed_location

    if named is None:
        where = unnamed_location(text, origin, editable=editable, base=base, cwd=cwd)
    else:
        assert named.url is not None
        where = classify(
            named.url,
            origin,
            name=named.name,
            extras=frozenset(named.extras),
            marker=named.marker,
            editable=editable,
            base=base,
            cwd=cwd,
        )
    if constraint:  # pip: "unnamed requirements are not allowed as constraints"
        line = f"-e {text}" if editable else text
        raise _error(
            f"'{line}' is a project path, direct URL or VCS reference: a constraints file "
            "may only limit versions of packages by name",
            where.origin,
        )
    if isinstance(where, LocalProject):
        out.local_projects.append(where)
    else:
        out.direct.append(where)


def _looks_like_location(text: str) -> bool:
    from indexgate.sources.locations import is_url  # only for a line that is no requirement

    spec = text.split(";", 1)[0].strip()
    return bool(
        is_url(spec)
        or spec.startswith((".", "/", "~"))
        or "/" in spec
        or "\\" in spec
        or re.match(r"^[a-zA-Z]:", spec)
        or spec.lower().endswith(_ARCHIVES)
    )


def _hash(value: str, origin: Origin) -> str:
    match = _HASH.match(value)
    if match is None:
        raise _error(
            f"invalid --hash '{value}': expected sha256:, sha384: or sha512: and a hex digest",
            origin,
        )
    return f"{match.group(1)}:{match.group(2).lower()}"


def _file_options(
    opts: optparse.Values,
    origin: Origin,
    path: Path,
    constraint: bool,
    chain: tuple[tuple[Path, str], ...],
    out: SourceSet,
    cwd: Path,
) -> None:
    for editable in opts.editables or ():
        _add_location(editable, origin, constraint, out, base=path.parent, cwd=cwd, editable=True)
    if opts.hashes:
        raise _error("--hash must follow a requirement on the same line", origin)
    # -r inside a -c file stays a constraint (as uv reads it): constraints never add packages.
    for target in opts.requirements or ():
        _include(target, constraint, origin, path, chain, out, cwd)
    for target in opts.constraints or ():
        _include(target, True, origin, path, chain, out, cwd)
    if opts.index_url:
        out.index_hints.append(IndexHint(opts.index_url, "index-url", origin))
    for url in opts.extra_index_urls or ():
        out.index_hints.append(IndexHint(url, "extra-index-url", origin))
    for location in opts.find_links or ():
        out.index_hints.append(IndexHint(_find_links(location, path), "find-links", origin))
    # --pre, --only-binary, --no-binary, --prefer-binary, --no-index, --require-hashes,
    # --trusted-host, --use-feature: accepted so pip-valid files read; the gate takes
    # these from its own options.


def _find_links(location: str, path: Path) -> str:
    """pip resolves a relative find-links path against the requirements file if it exists."""
    if _URL.match(location) or os.path.isabs(location):
        return location
    candidate = path.parent / location
    return str(candidate) if candidate.exists() else location


def _include(
    target: str,
    constraint: bool,
    origin: Origin,
    path: Path,
    chain: tuple[tuple[Path, str], ...],
    out: SourceSet,
    cwd: Path,
) -> None:
    if _URL.match(target):
        raise _error(f"remote requirement files are not supported: '{target}'", origin)
    child = path.parent / target
    display = (
        target
        if os.path.isabs(target)
        else os.path.normpath(os.path.join(os.path.dirname(origin.file), target))
    )
    identity = _identity(child)
    starts = [i for i, (known, _) in enumerate(chain) if known == identity]
    if starts:
        cycle = " -> ".join([shown for _, shown in chain[starts[0] :]] + [display])
        raise _error(f"include cycle: {cycle}", origin)
    if not child.exists():
        raise _error(f"included file '{display}' not found", origin)
    if not child.is_file():
        raise _error(f"included file '{display}' is not a file", origin)
    _parse(child, display, constraint, chain, out, cwd)


def _error(message: str, origin: Origin) -> InputError:
    return InputError(redact(message), file=origin.file, line=origin.line)
