"""The command line: ``indexgate check | drift | demo``.

Start-up is part of every CI run, so this module imports only what parsing the command
line needs; each command imports its own machinery, and each output format its renderer.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from indexgate import __version__
from indexgate.errors import IndexgateError, InputError
from indexgate.redact import redact

if TYPE_CHECKING:
    from indexgate.report.model import Report
    from indexgate.settings import Settings
    from indexgate.sources.model import SourceSet

EXIT = {"pass": 0, "fail": 1, "error": 3}
_GC_THRESHOLD = 100_000  # gen-0 collections every 100,000 net allocations, not 700
log = logging.getLogger("indexgate")


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="indexgate",
        description=(
            "Resolve Python requirements against private indexes: fail closed on auth "
            "failures, backtrack past quarantined artifacts, name every blocked one."
        ),
    )
    parser.add_argument("--version", action="version", version=f"indexgate {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = sub.add_parser("check", help="resolve and gate (the pull-request status check)")
    drift = sub.add_parser("drift", help="the scheduled quarantine-drift report")
    sub.add_parser("demo", help="the whole gate against built-in local indexes, no network")
    for p in (check, drift):
        _common(p)
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
    p.add_argument(
        "--index-strategy", choices=["first-index", "unsafe-first-match", "unsafe-best-match"]
    )
    p.add_argument("--python-version", action="append", default=[], metavar="X.Y[.Z]")
    p.add_argument("--platform", action="append", default=[], metavar="TAG")
    p.add_argument("--fallback", choices=["next-version", "next-distribution"])
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
class Outcome:
    report: Report | None
    exit_code: int
    settings: Settings | None = None


def run(
    args: argparse.Namespace,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Outcome:
    """Run ``check`` or ``drift`` and return the report; raises InputError on bad input."""
    from indexgate.config import load_settings
    from indexgate.settings import CliOptions
    from indexgate.sources import load_sources

    cwd = cwd or Path.cwd()
    env = os.environ if env is None else env
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

    return Outcome(report, EXIT[decide_report(report, settings.fail_on)], settings)


def _settle_locations(sources: SourceSet, settings: Settings) -> None:
    """What local projects and direct references need the settings for: the targets
    (requires-python) and the indexes (dynamic projects are built with their build
    requirements from them; direct wheels on an index's host are read). Not for drift:
    it checks pins, which a compiled file writes for these dependencies itself."""
    from indexgate.sources.projects import build_pending, check_python, read_direct_wheels

    build_pending(sources, settings)
    check_python(sources, settings)
    read_direct_wheels(sources, settings)


def _previous(args: argparse.Namespace, cwd: Path) -> dict | None:
    path = getattr(args, "previous_report", None)
    if not path:
        return None
    from indexgate.drift import read_previous

    return read_previous(cwd / path, path)


def emit(report: Report, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    """Write stdout, the JSON report and the summary as the options ask.

    The text and the summary name the ``fail-on`` rule that failed the gate from the
    report's own record (report/outcome.py), not from the settings."""
    if args.report_json or args.format == "json":
        from indexgate.report.json_report import to_json, write_text

        json_text = to_json(report)  # once, for both the file and stdout
        if args.report_json:
            write_text(Path(args.report_json), json_text)
        if args.format == "json":
            sys.stdout.write(json_text)
    if args.format == "markdown":
        from indexgate.report.render import render_markdown

        sys.stdout.write(render_markdown(report, report_path=args.report_json))
    elif args.format == "text" and not args.quiet:
        from indexgate.report.render import render_text

        sys.stdout.write(render_text(report))
    summary = args.summary or env.get("GITHUB_STEP_SUMMARY")
    if summary:
        from indexgate.report.render import render_markdown

        text = render_markdown(report, report_path=args.report_json)
        mode = "a" if not args.summary else "w"
        with open(summary, mode, encoding="utf-8") as fh:
            fh.write(text + "\n")


@contextmanager
def process_heap(command: str) -> Iterator[None]:
    """Run ``command`` as a process of its own, with the cyclic GC tuned for that.

    The GC cost a tenth of a warm run's CPU: every full collection walked the ~60,000
    objects of the imported modules again, the default gen-0 threshold of 700 re-walked
    the pages, candidates and cache entries the run keeps until exit, and the interpreter
    walked the whole heap once more on its way out. So: import what ``command`` runs and
    freeze it, collect gen 0 every 100,000 allocations (a few MB more garbage at peak),
    and freeze everything again at the end, as exit is next.

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


def main(argv: Sequence[str] | None = None) -> int:
    """The ``indexgate`` command; ``argv`` None means this process's own command line."""
    args = build_parser().parse_args(argv)
    level = (
        logging.WARNING - 10 * args.verbose + 10 * args.quiet
        if hasattr(args, "verbose")
        else logging.WARNING
    )
    logging.basicConfig(
        level=max(logging.DEBUG, level), format="indexgate: %(message)s", stream=sys.stderr
    )
    if args.command == "demo":
        from indexgate.demo import main as demo_main

        return demo_main()
    if argv is None:
        with process_heap(args.command):
            return _gate(args)
    return _gate(args)


def _gate(args: argparse.Namespace) -> int:
    """``check`` or ``drift`` with its outputs: the exit code, never a traceback."""
    try:
        outcome = run(args)
    except InputError as exc:
        print(f"indexgate: error: {redact(str(exc))}", file=sys.stderr)
        return 2
    except IndexgateError as exc:
        print(f"indexgate: error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: say so plainly, never dump locals or secrets
        return _internal_error(exc, args)
    assert outcome.report is not None
    try:
        emit(outcome.report, args, os.environ)
    except OSError as exc:  # --report-json / --summary / $GITHUB_STEP_SUMMARY not writable
        return _unwritable(exc, args)
    except Exception as exc:  # a bug in a renderer: the JSON report still says so
        return _internal_error(exc, args)
    return outcome.exit_code


def _unwritable(exc: OSError, args: argparse.Namespace) -> int:
    where = exc.filename2 or exc.filename or args.report_json or args.summary
    print(f"indexgate: error: {where}: cannot write: {exc.strerror or exc}", file=sys.stderr)
    return 2


def _internal_error(exc: Exception, args: argparse.Namespace) -> int:
    """Exit 4: one line on stderr (the traceback at -vv only) and a report with
    ``status: error`` naming what was being processed, written wherever it was asked for."""
    from indexgate.internal import EXIT_INTERNAL, internal_problem, internal_report, traceback_text

    problem = internal_problem(exc)
    print(f"indexgate: {problem.message}", file=sys.stderr)
    if args.verbose >= 2:
        print(traceback_text(exc), file=sys.stderr)
    targets = getattr(exc, "indexgate_targets", None) or ()
    report = internal_report(args.command, problem, targets)
    try:
        emit(report, args, os.environ)
    except OSError as error:
        _unwritable(error, args)
    except Exception:  # the renderers themselves are broken: the JSON alone, then
        if args.report_json:
            from indexgate.report.json_report import to_json, write_text

            with suppress(Exception):  # nothing more can be done; the message above stands
                write_text(Path(args.report_json), to_json(report))
    return EXIT_INTERNAL
