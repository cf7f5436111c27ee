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
from actions_toolkit.command import issue_command

from indexgate import gate
from indexgate.config import DEFAULT_CONFIG_PATHS, config_from_yaml_text, read_config_file
from indexgate.errors import InputError
from indexgate.redact import known_secrets, redact
from indexgate.report.json_report import write_json
from indexgate.report.model import (
    Blocked,
    Problem,
    Report,
    TargetReport,
    state_advice,
    vendor_label,
)
from indexgate.report.render import dependency_path, render_markdown, render_text
from indexgate.report.summary import summary_budget, write_summary
from indexgate.workflow import Masker, capture_logs, collect_secrets, print_log, set_outputs

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
STRATEGIES = ("first-index", "unsafe-first-match", "unsafe-best-match")

MAX_ANNOTATIONS = 10  # the runner shows at most 10 errors and 10 warnings per step

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


def workspace_dir(env: Mapping[str, str]) -> Path:
    """``$GITHUB_WORKSPACE``, else the runner's mount point, else the current directory."""
    if env.get("GITHUB_WORKSPACE"):
        return Path(env["GITHUB_WORKSPACE"]).resolve()
    mount = Path("/github/workspace")
    return mount if mount.is_dir() else Path.cwd().resolve()


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


def _relative(file: str | None, workspace: Path) -> str | None:
    """A path relative to the workspace (what annotations need), or None if outside it."""
    if not file:
        return None
    path = Path(file)
    if path.is_absolute():
        try:
            path = path.resolve().relative_to(workspace)
        except ValueError:
            return None
    return path.as_posix() if (workspace / path).is_file() else None


def _error_summary(report: Report, problem: Problem, report_path: str) -> str:
    where = f" (`{problem.file}:{problem.line}`)" if problem.file and problem.line else ""
    where = where or (f" (`{problem.file}`)" if problem.file else "")
    text = problem.message.replace("\n", " ").replace("|", "\\|").replace("<", "&lt;")
    return (
        f"## {'❌' if report.status == 'fail' else '⚠️'} indexgate {report.command}: "
        f"{report.status.upper()}\n\n"
        f"**{problem.kind}**{where}: {text}\n\n"
        f"The gate could not run. Details: `{report_path}`.\n"
    )


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
        problem.file = _relative(problem.file, workspace)
    elif problem.kind == "internal-error":
        log.debug("internal error", exc_info=result.error)
    summary = _error_summary(result.report, problem, report_rel)
    return Result(result.report, result.exit_code, summary)


# --- publishing -------------------------------------------------------------------------


def annotate(level: str, message: str, *, file: str | None, line: int | None, title: str) -> None:
    """One workflow annotation; actions-toolkit escapes the message and the properties."""
    props = {"file": file, "line": line if file else None, "title": title}
    issue_command(level, {k: v for k, v in props.items() if v is not None}, redact(message))


@dataclass(frozen=True)
class Note:
    message: str
    file: str | None
    line: int | None
    title: str


NoteKey = tuple[object, ...]  # what makes two annotations the same one


def _problem_note(p: Problem, workspace: Path) -> tuple[NoteKey, Note]:
    """An error or warning; one that ``fail-on`` made fatal names the rules (the report's
    record, written when the target's status was decided)."""
    file = _relative(p.file, workspace)
    message, title = p.message, f"indexgate: {p.kind}"
    if rules := p.fail_on:
        spelled = ", ".join(f"`fail-on: {r}`" for r in rules)
        message = f"{message.rstrip()} This fails the gate: {spelled}."
        title += f" (fail-on: {rules[0]})"
    note = Note(message, file, p.line if file else None, title)
    return (p.kind, p.package, file, p.line, p.message), note


def _sentence(text: str) -> str:
    """``text`` ending in one full stop, so the next sentence is clearly a new one."""
    text = " ".join(text.split())
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _blocked_note(
    b: Blocked, workspace: Path, target: TargetReport | None, rule: str | None = None
) -> tuple[NoteKey, Note]:
    """One blocked artifact: who blocked it and why, its link, and what the gate made of it.

    A transitive one names its path (``urllib3 via acme-web``) and is anchored on the
    requirement line that pulled it in. ``rule``: the ``fail-on`` rule that makes it fail
    the gate, said first, so that "the resolution went around it" cannot read as a pass.
    """
    path, top_file, top_line = dependency_path(target, b.name) if target else ([], None, None)
    label = f"{b.name} {b.version} (via {' → '.join(path)})" if path else f"{b.name} {b.version}"
    # A scan in progress is not a policy block: say what it is and what to do.
    held = "is held back (a scan in progress)" if b.state == "pending" else "is blocked"
    message = (
        f"{label}, file {b.file}, {held} by {vendor_label(b.vendor)} on index "
        f"'{b.index}' (HTTP {b.status_code}). Reason: {_sentence(b.reason or 'none given')}"
    )
    if rule:
        went = f"went around it with {b.fallback}" if b.fallback else "found no other version"
        message += f" This fails the gate: `fail-on: {rule}` (the resolution {went})."
    elif b.fallback:
        message += f" indexgate chose {b.fallback} instead."
    else:
        message += " indexgate found no other version."
    message += f" What to do: {_sentence(state_advice(b.state))}"
    if b.details_url:  # last, so no punctuation runs into the link
        message += f" Details: {b.details_url}"
    file = _relative(b.file_path, workspace)
    line = b.line
    if file is None and path:
        file, line = _relative(top_file, workspace), top_line
    title = f"indexgate: {b.name} {b.version} " + (
        "pending a scan" if b.state == "pending" else "blocked"
    )
    if rule:
        title += f" (fail-on: {rule})"
    return (b.name, b.version, b.file), Note(message, file, line if file else None, title)


def collect_notes(report: Report, workspace: Path) -> tuple[list[Note], list[Note]]:
    """(errors, warnings) to annotate, each once across targets.

    Errors: every gate error (auth failure, no solution, blocked pin, ...), plus whatever
    the report records as made fatal by ``fail-on`` (report/outcome.py). Warnings: blocked
    artifacts the resolution went around, then the report's warnings. A blocked artifact of
    a package that already has an error and no fallback is left out: the error says it.
    """
    errors: dict[NoteKey, Note] = {}
    warnings: dict[NoteKey, Note] = {}
    failed = {p.package for t in report.targets for p in t.errors if p.package}
    for t in report.targets:
        for p in t.errors:
            errors.setdefault(*_problem_note(p, workspace))
    for t in report.targets:
        for b in t.blocked:
            if b.name in failed and b.fallback is None:
                continue
            rule = b.fail_on[0] if b.fail_on else None  # recorded by report/outcome.py
            target = errors if rule else warnings
            key, note = _blocked_note(b, workspace, t, rule)
            target.setdefault(key, note)
    for p in [*report.warnings, *(w for t in report.targets for w in t.warnings)]:
        target = errors if p.fatal else warnings
        target.setdefault(*_problem_note(p, workspace))
    return list(errors.values()), list(warnings.values())


def emit_annotations(level: str, notes: list[Note], report_path: str) -> None:
    """At most ``MAX_ANNOTATIONS``; the last one says how many more there are."""
    shown = notes if len(notes) <= MAX_ANNOTATIONS else notes[: MAX_ANNOTATIONS - 1]
    for n in shown:
        annotate(level, n.message, file=n.file, line=n.line, title=n.title)
    left = len(notes) - len(shown)
    if left:
        what = "error" if level == "error" else "warning"
        annotate(
            level,
            f"{left} more {what}{'s' if left != 1 else ''} not annotated: "
            f"see the job summary and {report_path}",
            file=None,
            line=None,
            title=f"indexgate: {left} more",
        )


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
    errors, warnings = collect_notes(report, workspace)
    emit_annotations("error", errors, report_rel)
    emit_annotations("warning", warnings, report_rel)
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
