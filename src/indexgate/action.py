"""The GitHub Action entrypoint: ``python -m indexgate.action`` in the action's container.

A front door: inputs -> argv -> ``gate.run`` -> outputs. The runner hands the inputs over
as ``INPUT_<NAME>`` variables (upper-cased, hyphens kept, so they are read here in Python,
never by a shell). Nothing reaches the log before every credential indexgate can find has
been masked with ``::add-mask::`` (``indexgate.workflow``): the runner masks only lines it
reads after the mask, and stdout and stderr are not ordered against each other, so
everything the step prints goes to stdout and the core's log lines are held back until the
run is over. Then the JSON report, the log, annotations, the job summary and the outputs.
"""

from __future__ import annotations

import io
import logging
import os
import re
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from actions_toolkit import core

from indexgate import gate
from indexgate.config import DEFAULT_CONFIG_PATHS, config_from_yaml_text, read_config_file
from indexgate.errors import InputError
from indexgate.model import Report
from indexgate.policy import Strategy
from indexgate.redact import known_secrets, redact
from indexgate.report.json_report import write_json
from indexgate.report.render import render_markdown, render_stopped, render_text
from indexgate.report.summary import summary_budget, write_summary
from indexgate.workflow import (
    Masker,
    annotate,
    annotate_report,
    capture_logs,
    collect_secrets,
    print_log,
    set_outputs,
    workspace_dir,
    workspace_relative,
)

#: Every input the entrypoint reads; action.yml declares exactly these (a test checks).
INPUTS: tuple[str, ...] = (
    "command",
    "sources",
    "config",
    "indexes",
    "index-strategy",
    "python-versions",
    "platforms",
    "fail-on",
    "previous-report",
    "report-path",
    "ca-cert",
)
#: Defaults for inputs the runner did not set; "" means "from the config file, else built in".
DEFAULTS: dict[str, str] = {"command": "check", "report-path": "indexgate-report.json"}
OUTPUTS: tuple[str, ...] = ("status", "blocked-count", "report")
COMMANDS = gate.COMMANDS
STRATEGIES = tuple(s.value for s in Strategy)

_SPLIT = re.compile(r"[\s,]+")
log = logging.getLogger("indexgate.action")


@dataclass
class Result:
    """What one run of the action produced, ready to publish."""

    report: Report
    exit_code: int
    summary: str | None = None  # Markdown; None means render the report
    notes: tuple[str, ...] = ()  # Markdown lines for the summary, under its status line


# --- inputs -----------------------------------------------------------------------------


def read_inputs() -> dict[str, str]:
    """Every input, with the action's defaults where the runner set nothing."""
    return {name: core.get_input(name) or DEFAULTS.get(name, "") for name in INPUTS}


def _items(value: str, *, commas: bool = True) -> list[str]:
    """Newline (and, unless told otherwise, comma or space) separated values."""
    parts = _SPLIT.split(value) if commas else value.splitlines()
    return [p.strip() for p in parts if p.strip()]


def build_argv(
    inputs: Mapping[str, str], report_file: Path, config: str | None, workspace: Path
) -> list[str]:
    """The command line the inputs amount to (validated first: argparse would exit)."""
    command = inputs["command"].strip().lower()
    if command not in COMMANDS:
        raise InputError(f"input `command` must be one of {', '.join(COMMANDS)}, not {command!r}")
    strategy = inputs["index-strategy"].strip()
    if strategy and strategy not in STRATEGIES:
        raise InputError(
            f"input `index-strategy` must be one of {', '.join(STRATEGIES)}, not {strategy!r}"
        )
    argv = [command, "--format", "text", "--report-json", str(report_file)]
    if config:
        argv += ["--config", config]
    if strategy:
        argv += ["--index-strategy", strategy]
    ca_cert = inputs["ca-cert"].strip()
    if ca_cert:  # the container sees the workspace, not the runner's trust store
        argv += ["--cert", str(workspace / ca_cert)]
    for flag, name in (
        ("--python-version", "python-versions"),
        ("--platform", "platforms"),
        ("--fail-on", "fail-on"),
    ):
        for value in _items(inputs[name]):
            argv += [flag, value]
    previous = inputs["previous-report"].strip()
    if previous and command != "drift":
        raise InputError("input `previous-report` is only read by `command: drift`")
    if previous and (workspace / previous).is_file():
        argv += ["--previous-report", previous]
    elif previous:  # the scheduled workflow's first run: nothing to compare with yet
        log.warning(
            "no previous report at %s (a first run?): the summary shows no changes", previous
        )
    return [*argv, "--", *_items(inputs["sources"], commas=False)]


def first_run_note(inputs: Mapping[str, str], workspace: Path) -> str | None:
    """The summary's word that a drift run had nothing to compare with (its first run)."""
    previous = inputs["previous-report"].strip()
    if inputs["command"].strip().lower() != "drift" or not previous:
        return None
    if (workspace / previous).is_file():
        return None
    return (
        f"_No previous report at `{previous.replace('`', '')}` (the first drift run, or the "
        "last one kept no report): there is nothing to compare with, so no changes since the "
        "last run are shown. The next run compares with this run's report._"
    )


def merged_config(
    inputs: Mapping[str, str], workspace: Path, tmp: Path, env: Mapping[str, str] | None = None
) -> str | None:
    """The config path for the CLI; with an ``indexes`` input, a temporary merged copy.

    The input's indexes come first (highest priority) and replace same-named indexes of the
    config file; every other key of the config file is kept.
    """
    config = inputs["config"].strip() or None
    if not inputs["indexes"].strip():
        return config
    # With the environment, an unset ${VAR} is reported at its line of the input, not of
    # the temporary merged file.
    entries = config_from_yaml_text(inputs["indexes"], "input `indexes`", env=env)
    base_path = config or next((p for p in DEFAULT_CONFIG_PATHS if (workspace / p).is_file()), None)
    base: dict[str, Any] = {}
    if base_path:
        base = _read_yaml_mapping(workspace / base_path, base_path)
    names = {e.get("name") for e in entries if isinstance(e, dict)}
    kept = [
        e for e in base.get("indexes") or [] if not (isinstance(e, dict) and e.get("name") in names)
    ]
    path = tmp / "indexgate.yml"
    path.write_text(yaml.safe_dump({**base, "indexes": [*entries, *kept]}, sort_keys=False))
    return str(path)


def _read_yaml_mapping(path: Path, label: str) -> dict[str, Any]:
    _text, data = read_config_file(path, label)
    if not isinstance(data.get("indexes") or [], list):
        raise InputError("`indexes` must be a list", file=label)
    return data


# --- running ----------------------------------------------------------------------------


def execute(inputs: Mapping[str, str], workspace: Path, env: Mapping[str, str]) -> Result:
    """Run the gate (``gate.run``: every failure is a report and an exit code), with the
    Action's own words for a run that stopped early: a summary of its own, and a bad
    merged config pointed at the ``indexes`` input instead of a temporary file."""
    command = inputs["command"].strip().lower()
    report_rel = inputs["report-path"].strip() or DEFAULTS["report-path"]
    with tempfile.TemporaryDirectory(prefix="indexgate-action-") as tmp:
        config: str | None = None
        try:
            config = merged_config(inputs, workspace, Path(tmp), env)
            argv = build_argv(inputs, workspace / report_rel, config, workspace)
        except Exception as exc:  # bad inputs (exit 2), or a bug reading them (exit 4)
            result = gate.failure(command, exc)
        else:
            result = gate.run(argv, cwd=workspace, env=env)
    problem = result.problem
    if problem is None:
        note = first_run_note(inputs, workspace)
        notes = (note,) if note else ()
        return Result(result.report, result.exit_code, notes=notes)
    # The problem is the report's own entry: what is changed here is what the report says.
    if isinstance(result.error, InputError):
        if config and problem.file == config and Path(config).parent == Path(tmp):
            # The merged copy is ours: point at the inputs, not at a temp file.
            base = inputs["config"].strip() or "the config file"
            problem.message = f"inputs `indexes` + {base}: {redact(result.error.problem)}"
            problem.file, problem.line = None, None
        problem.file = workspace_relative(problem.file, workspace)
    elif problem.kind == "internal-error":
        log.debug("internal error", exc_info=result.error)
    summary = render_stopped(result.report, problem, report_rel)
    return Result(result.report, result.exit_code, summary)


# --- publishing -------------------------------------------------------------------------


def publish(
    result: Result,
    inputs: Mapping[str, str],
    workspace: Path,
    env: Mapping[str, str],
    log_text: str,
) -> None:
    """The JSON report, the log, annotations, the job summary and the outputs, in that order."""
    report = result.report
    report_rel = inputs["report-path"].strip() or DEFAULTS["report-path"]
    status = report.status
    try:
        write_json(report, workspace / report_rel)
    except OSError as exc:
        message = f"cannot write the JSON report {report_rel}: {exc.strerror}"
        annotate("error", message, file=None, line=None, title="indexgate")
    if result.summary is None:
        text = render_text(report)
    else:
        text = "".join(f"indexgate: {p.kind}: {p.message}\n" for p in report.targets[0].errors)
    print_log(f"indexgate {report.command}: {status.upper()}", log_text + text)
    annotate_report(report, workspace, report_rel)
    summary_path = env.get("GITHUB_STEP_SUMMARY")
    summary = result.summary
    if summary is None:
        summary = render_markdown(
            report,
            max_bytes=summary_budget(summary_path),
            report_path=report_rel,
            notes=result.notes,
        )
    if summary_path:
        write_summary(summary_path, summary)
    outputs = {"status": status, "blocked-count": str(report.blocked_count), "report": report_rel}
    set_outputs(outputs, env)
    sys.stdout.flush()


def main() -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", errors="replace")
    env = os.environ
    workspace = workspace_dir(env)
    inputs = read_inputs()
    logs = capture_logs()
    masker = Masker()
    masker.mask(collect_secrets(inputs, env, workspace))  # the very first output
    with gate.gc_tuned_for(inputs["command"].strip().lower()):
        result = execute(inputs, workspace, env)
        if result.exit_code == gate.EXIT_INTERRUPTED:
            return result.exit_code  # cancelled: nothing to publish
        masker.mask(known_secrets())  # anything read during the run (netrc, requirement files)
        publish(result, inputs, workspace, env, logs.getvalue())
    return result.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
