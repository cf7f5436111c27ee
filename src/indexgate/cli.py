"""The command line: ``indexgate check | drift | demo``.

A front door: the gate itself (its options, the run, every failure as an exit code) is
``indexgate.gate``; this module decides what reaches stdout, stderr, ``--report-json`` and
the summary. Start-up is part of every CI run, so it imports only what parsing the command
line needs; each command imports its own machinery, and each output format its renderer.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from indexgate.gate import (
    EXIT_INTERRUPTED,
    GateResult,
    failure,
    gc_tuned_for,
    parse_args,
    run,
)

if TYPE_CHECKING:
    from indexgate.model import Report

log = logging.getLogger("indexgate")


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
        from indexgate.report.summary import summary_budget, write_summary

        append = not args.summary  # the runner's file gathers every run of the step
        budget = summary_budget(summary, append=append)
        text = render_markdown(report, max_bytes=budget, report_path=args.report_json)
        write_summary(summary, text + "\n", append=append)  # a blank line before what follows


def main(argv: Sequence[str] | None = None) -> int:
    """The ``indexgate`` command; ``argv`` None means this process's own command line."""
    words = sys.argv[1:] if argv is None else argv
    args = parse_args(words)
    level = (
        logging.WARNING - 10 * args.verbose + 10 * args.quiet
        if hasattr(args, "verbose")
        else logging.WARNING
    )
    logging.basicConfig(
        level=max(logging.DEBUG, level), format="indexgate: %(message)s", stream=sys.stderr
    )
    if args.command == "demo":
        from indexgate.demo.run import main as demo_main

        return demo_main()
    if argv is None:
        with gc_tuned_for(args.command):
            return _gate(args)
    return _gate(args)


def _gate(args: argparse.Namespace) -> int:
    """``check`` or ``drift`` with its outputs: the exit code, never a traceback."""
    result = run(args)
    if result.exit_code == EXIT_INTERRUPTED:
        return result.exit_code
    if result.problem is not None:
        if result.problem.kind == "internal-error":
            return _internal_error(result, args)
        print(f"indexgate: error: {result.problem.message}", file=sys.stderr)
        return result.exit_code
    try:
        emit(result.report, args, os.environ)
    except OSError as exc:  # --report-json / --summary / $GITHUB_STEP_SUMMARY not writable
        return _unwritable(exc, args)
    except Exception as exc:  # a bug in a renderer: the JSON report still says so
        return _internal_error(failure(args.command, exc), args)
    return result.exit_code


def _unwritable(exc: OSError, args: argparse.Namespace) -> int:
    where = exc.filename2 or exc.filename or args.report_json or args.summary
    print(f"indexgate: error: {where}: cannot write: {exc.strerror or exc}", file=sys.stderr)
    return 2


def _internal_error(result: GateResult, args: argparse.Namespace) -> int:
    """Exit 4: one line on stderr (the traceback at -vv only) and a report with
    ``status: error`` naming what was being processed, written wherever it was asked for."""
    from indexgate.internal import traceback_text

    assert result.problem is not None and result.error is not None
    print(f"indexgate: {result.problem.message}", file=sys.stderr)
    if args.verbose >= 2:
        print(traceback_text(result.error), file=sys.stderr)
    try:
        emit(result.report, args, os.environ)
    except OSError as error:
        _unwritable(error, args)
    except Exception:  # the renderers themselves are broken: the JSON alone, then
        if args.report_json:
            from indexgate.report.json_report import to_json, write_text

            with suppress(Exception):  # nothing more can be done; the message above stands
                write_text(Path(args.report_json), to_json(result.report))
    return result.exit_code
