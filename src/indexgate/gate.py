"""The gate, once for every front door: a command line in, a Report and an exit code out.

This module owns what ``indexgate check`` and ``indexgate drift`` are, whoever runs them:
the options they take (``build_parser``), the run itself (sources, settings, then the
resolver or drift), and the one mapping of every failure to a report and an exit code
(``run``, ``failure``). The CLI (cli.py), the Action (action.py) and the demo call ``run``;
they only decide how to show what it returns.

Start-up is part of every CI run, so this module imports only what parsing needs; the run
imports its own machinery.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexgate import __version__
from indexgate.errors import IndexgateError, IndexUnreachable, InputError
from indexgate.policy import Fallback, Strategy
from indexgate.redact import redact

if TYPE_CHECKING:
    from indexgate.model import Problem, Report
    from indexgate.settings import Settings
    from indexgate.sources.model import SourceSet

EXIT = {"pass": 0, "fail": 1, "error": 3}
EXIT_INTERRUPTED = 130  # as a shell reports a run stopped by SIGINT
COMMANDS = ("check", "drift")
_GC_THRESHOLD = 1_000_000  # gen-0 collections every million net allocations, not 700


def _positive(text: str) -> int:
    """argparse type: a whole number, 1 or more (argparse turns the error into exit 2)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _seconds(text: str) -> float:
    """argparse type: a number of seconds, more than 0 (argparse makes errors exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter, sized as ``shutil.get_terminal_size`` would size it, without
    importing ``shutil`` (and bz2, lzma) on every run: argparse makes a formatter for
    each ``add_argument``, not only for ``--help``."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24):
        super().__init__(prog, indent_increment, max_help_position, width=_columns() - 2)


_COLUMNS: dict[str, int] = {}  # $COLUMNS -> the width it gives (one lookup per parser build)


def _columns() -> int:
    """The terminal's width, as ``shutil.get_terminal_size`` finds it: ``$COLUMNS``, else
    the terminal's, else 80. Asked once per value of ``$COLUMNS``: argparse makes a
    formatter for each of the ~60 ``add_argument`` calls, and each asked the terminal again."""
    env = os.environ.get("COLUMNS", "")
    columns = _COLUMNS.get(env)
    if columns is None:
        try:
            columns = int(env)
        except ValueError:
            columns = 0
        if columns <= 0:
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
            except (AttributeError, ValueError, OSError):
                columns = 80
        _COLUMNS[env] = columns
    return columns


def command_of(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names (its first word that is not an option), if it is one:
    a gate command, or ``demo``, which the command line has too."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if word in (*COMMANDS, "demo") else None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """``argv`` parsed by the parser of the command it names (exit 2 with the usage when
    it is not a valid command line)."""
    return build_parser(command_of(argv)).parse_args(argv)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line. ``only``: the command about to be parsed (``command_of``); the
    others' subparsers are then left without their options (the same parse, the same
    messages: argparse reads the options of the chosen command only), which is half the
    cost of building the parser on every run."""
    parser = argparse.ArgumentParser(
        prog="indexgate",
        formatter_class=_HelpFormatter,
        description=(
            "Resolve Python requirements against private indexes: fail closed on auth "
            "failures, backtrack past quarantined artifacts, name every blocked one."
        ),
    )
    parser.add_argument("--version", action="version", version=f"indexgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    kind = {"formatter_class": _HelpFormatter}
    check = sub.add_parser("check", help="resolve and gate (the pull-request status check)", **kind)
    drift = sub.add_parser("drift", help="the scheduled quarantine-drift report", **kind)
    sub.add_parser("demo", help="the whole gate against built-in local indexes, no network", **kind)
    if only in (None, "check"):
        _common(check)
    if only in (None, "drift"):
        _common(drift)
        drift.add_argument("--previous-report", metavar="PATH", help="last run's JSON report")
        drift.add_argument(
            "--max-probes-per-package", type=_positive, metavar="N", help="probe cap (default 20)"
        )
    return parser


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="*", metavar="SOURCE", help="requirements*.txt, pyproject.toml")
    p.add_argument("-r", "--requirement", action="append", default=[], metavar="FILE")
    p.add_argument("--extra", action="append", default=[], metavar="NAME")
    p.add_argument("--all-extras", action="store_true")
    p.add_argument("--group", action="append", default=[], metavar="NAME")
    p.add_argument("--config", metavar="PATH")
    p.add_argument("--index", action="append", default=[], metavar="[NAME=]URL")
    p.add_argument("--default-index", metavar="URL")
    p.add_argument("-i", "--index-url", metavar="URL")
    p.add_argument("--extra-index-url", action="append", default=[], metavar="URL")
    p.add_argument("--index-strategy", choices=[s.value for s in Strategy])
    p.add_argument("--python-version", action="append", default=[], metavar="X.Y[.Z]")
    p.add_argument("--platform", action="append", default=[], metavar="TAG")
    p.add_argument("--fallback", choices=[f.value for f in Fallback])
    p.add_argument("--pre", action="store_true", help="allow pre-releases")
    p.add_argument("--only-binary", action="append", default=[], metavar="NAME|:all:")
    p.add_argument("--no-binary", action="append", default=[], metavar="NAME|:all:")
    p.add_argument("--allow-build", action="store_true", help="may build sdists (runs their code)")
    p.add_argument("--fail-on", action="append", default=[], metavar="WHAT")
    p.add_argument("--report-json", metavar="PATH")
    p.add_argument("--summary", metavar="PATH")
    p.add_argument("--format", choices=["text", "json", "markdown"], default="text")
    p.add_argument(
        "--concurrency",
        type=_positive,
        metavar="N",
        help="requests in flight per host (default 50)",
    )
    p.add_argument(
        "--timeout",
        type=_seconds,
        metavar="S",
        help="total deadline of one request, retries included (default 60)",
    )
    p.add_argument(
        "--max-time", type=_seconds, metavar="S", help="deadline of the whole run (default 600)"
    )
    p.add_argument(
        "--max-body-size",
        metavar="SIZE",
        help="largest answer read, e.g. 200M (default); metadata files: at most 20M",
    )
    p.add_argument(
        "--cache-dir", metavar="PATH", help="persistent HTTP cache (default ~/.cache/indexgate)"
    )
    p.add_argument("--no-cache", action="store_true", help="no persistent HTTP cache")
    p.add_argument(
        "--cert",
        metavar="PATH",
        help="CA bundle to verify every index with (default: the system trust store)",
    )
    p.add_argument("-v", "--verbose", action="count", default=0)
    p.add_argument("-q", "--quiet", action="count", default=0)


@dataclass
class GateResult:
    """What one run of the gate came to: always a report and an exit code.

    ``problem`` is set when the run stopped early (bad input, an unreachable index, a bug,
    an interrupt): the report then carries it as its only error, and ``error`` is the
    exception behind it, for a front door's own wording (the Action's merged config) or a
    traceback at ``-vv``. ``settings`` is set when the run got as far as reading them."""

    report: Report
    exit_code: int
    settings: Settings | None = None
    problem: Problem | None = None
    error: BaseException | None = None


def run(
    args: argparse.Namespace | Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> GateResult:
    """Run ``check`` or ``drift``: every failure comes back as a report and an exit code.

    ``args``: parsed options, or a command line that is already valid (argparse would exit
    2 with its usage otherwise). Never raises, not even on a bug or an interrupt."""
    if not isinstance(args, argparse.Namespace):
        argv = list(args)
        args = parse_args(argv)
    try:
        report, settings = _run(args, cwd or Path.cwd(), os.environ if env is None else env)
    except (Exception, KeyboardInterrupt) as exc:
        return failure(args.command, exc)
    return GateResult(report, EXIT[report.status], settings)


def failure(command: str, exc: BaseException) -> GateResult:
    """The one mapping of an exception to a report and an exit code.

    Bad input is exit 2, an unreachable index (certificate, proxy, deadline) 3, any other
    IndexgateError its own code, a bug 4 with a report naming what was being processed,
    an interrupt 130. The report has ``status: fail`` for exit code 1, else ``error``."""
    from indexgate.internal import EXIT_INTERNAL, internal_problem, internal_report
    from indexgate.model import Problem, Report, TargetReport

    known = command if command in COMMANDS else "check"
    if isinstance(exc, KeyboardInterrupt):
        problem, code = Problem("interrupted", "interrupted"), EXIT_INTERRUPTED
    elif isinstance(exc, InputError):
        message = redact(str(exc))
        problem, code = Problem("invalid-input", message, file=exc.file, line=exc.line), 2
    elif isinstance(exc, IndexUnreachable):
        problem, code = Problem("index-unreachable", redact(str(exc))), 3
    elif isinstance(exc, IndexgateError):
        problem, code = Problem("no-solution", redact(str(exc))), exc.exit_code
    else:  # a bug: what was being processed, never locals or secrets
        problem = internal_problem(exc)
        targets = getattr(exc, "indexgate_targets", None) or ()
        report = internal_report(known, problem, targets)  # type: ignore[arg-type]
        return GateResult(report, EXIT_INTERNAL, problem=problem, error=exc)
    status = "fail" if code == 1 else "error"
    target = TargetReport("", "", status, errors=[problem])  # type: ignore[arg-type]
    return GateResult(Report(known, [target]), code, problem=problem, error=exc)  # type: ignore[arg-type]


def _run(args: argparse.Namespace, cwd: Path, env: Mapping[str, str]) -> tuple[Report, Settings]:
    """``check`` or ``drift`` itself; raises what ``failure`` maps."""
    from indexgate.config import load_settings
    from indexgate.settings import CliOptions
    from indexgate.sources import load_sources

    drift = args.command == "drift"
    sources = load_sources(
        [*args.sources, *args.requirement],
        cwd=cwd,
        extras=args.extra,
        all_extras=args.all_extras,
        groups=args.group,
        allow_locks=drift,
    )
    cli = CliOptions(
        config=args.config,
        indexes=args.index,
        default_index=args.default_index,
        index_url=args.index_url,
        extra_index_urls=args.extra_index_url,
        strategy=args.index_strategy,
        python_versions=args.python_version,
        platforms=args.platform,
        fallback=args.fallback,
        pre=args.pre,
        only_binary=args.only_binary,
        no_binary=args.no_binary,
        allow_build=args.allow_build,
        fail_on=args.fail_on,
        concurrency=args.concurrency,
        cache_dir=args.cache_dir,
        no_cache=args.no_cache,
        cert=args.cert,
        max_probes_per_package=getattr(args, "max_probes_per_package", None),
        timeout=args.timeout,
        max_time=args.max_time,
        max_body_size=args.max_body_size,
    )
    settings = load_settings(cli, sources, cwd=cwd, env=env)
    try:
        if not drift and (sources.local_projects or sources.direct):
            _settle_locations(sources, settings)
        if drift:
            from indexgate.drift import drift as run_drift

            report = run_drift(settings, sources, previous=_previous(args, cwd))
        else:
            from indexgate.resolver.resolve import check

            report = check(settings, sources)
    except Exception as exc:  # a bug: its report names the targets being resolved
        if not isinstance(exc, IndexgateError):
            exc.indexgate_targets = [(t.python, t.platform) for t in settings.targets]  # type: ignore[attr-defined]
        raise
    from indexgate.report.outcome import decide_report

    decide_report(report, settings.fail_on)  # each target's status, what fail-on made fatal
    return report, settings


def _settle_locations(sources: SourceSet, settings: Settings) -> None:
    """What local projects and direct references need the settings for: the targets
    (requires-python) and the indexes (dynamic projects are built with their build
    requirements from them; direct wheels on an index's host are read). Not for drift:
    it checks pins, which a compiled file writes for these dependencies itself."""
    from indexgate.sources.projects import build_pending, check_python, read_direct_wheels

    build_pending(sources, settings)
    check_python(sources, settings)
    from indexgate.resolver.resolve import open_session

    read_direct_wheels(sources, settings, open_session)


def _previous(args: argparse.Namespace, cwd: Path) -> dict | None:
    path = getattr(args, "previous_report", None)
    if not path:
        return None
    from indexgate.drift import read_previous

    return read_previous(cwd / path, path)


@contextmanager
def gc_tuned_for(command: str) -> Iterator[None]:
    """Run ``command`` as a process of its own, with the cyclic GC tuned for that.

    The GC cost a tenth of a warm run's CPU: every full collection walked the ~60,000
    objects of the imported modules again, the default gen-0 threshold of 700 re-walked
    the pages, candidates and cache entries the run keeps until exit, and the interpreter
    walked the whole heap once more on its way out. So: import what ``command`` runs and
    freeze it, collect gen 0 every million allocations, and freeze everything again at
    the end, as exit is next.

    Nearly all a run allocates lives until exit, and a collection walks every young
    object, so a pass costs about what was allocated since the last one, and a pass near
    the end walks data exit will free anyway. A million lets most runs finish with none
    (a cold run of the benchmark with a pass at 100,000 spent 35-40 ms in it; 40-120 ms
    on real sets of the corpus). What a pass would have freed is small: resolvelib's
    criteria and iterator views, and parsers' cycles (about 17,000 objects in that cold
    run); peak RSS grew 3-7 MB on the corpus's largest sets (80 to 87 MB for airflow).
    A run that allocates more still collects, as often per allocation as before.

    Frozen objects are never collected, so only process entry points use this (``main()``
    with no argv, the Action's ``main``); callers of ``main(argv)`` or ``run`` (the tests,
    the demo) keep the normal collector.
    """
    gc.disable()  # no collections while the imports pile up objects that all survive
    try:
        if command == "drift":
            from indexgate import drift  # noqa: F401
        else:
            from indexgate.resolver import resolve  # noqa: F401
        gc.freeze()
        gc.set_threshold(_GC_THRESHOLD)
    finally:
        gc.enable()
    try:
        yield
    finally:
        gc.freeze()
