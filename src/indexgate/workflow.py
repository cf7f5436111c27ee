"""GitHub's side of the Action: workflow commands, the outputs file, the log held back.

The runner masks only lines it reads after ``::add-mask::``, so this module finds every
credential visible before the run (``collect_secrets``, read leniently: even a config that
fails to parse has its passwords masked before the error about it is printed) and masks
each in the forms a log can show it (``Masker``). Until then the log lines are held back
(``capture_logs``); what the run prints goes into a log group with workflow commands
switched off (``print_log``), and the outputs into ``$GITHUB_OUTPUT`` (``set_outputs``).
The report's annotations are made here too (``annotate_report``): each error and warning
once across targets, anchored on the requirement line in the workspace, at most ten a
level as the runner shows them. Only the Action imports this module (and
``actions_toolkit``); the CLI stays lean.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from actions_toolkit import core
from actions_toolkit.command import issue_command

from indexgate.config import DEFAULT_CONFIG_PATHS, expand_vars
from indexgate.credentials import secrets_in_config_text, secrets_in_env
from indexgate.model import (
    Blocked,
    Problem,
    Report,
    TargetReport,
    state_advice,
    vendor_label,
)
from indexgate.redact import known_secrets, redact
from indexgate.report.json_report import REPORT_MODE
from indexgate.report.render import dependency_path

MAX_ANNOTATIONS = 10  # the runner shows at most 10 errors and 10 warnings per step


def _expand(value: str, env: Mapping[str, str]) -> str:
    """The config's own ``${VAR}`` rules, never raising: masking runs before any check."""
    return expand_vars(value, env, strict=False)


def collect_secrets(inputs: Mapping[str, str], env: Mapping[str, str], workspace: Path) -> set[str]:
    """Every credential visible before the run: env passwords, URL userinfo, config files.

    Where credentials come from is ``indexgate.credentials``'s to say (its lenient reading
    of a config text masks even a config that fails to parse); this only gathers the texts.
    """
    found = secrets_in_env(env)
    texts = [inputs.get("indexes", "")]
    paths = [inputs.get("config", "").strip(), *DEFAULT_CONFIG_PATHS]
    for rel in filter(None, paths):
        try:
            texts.append((workspace / rel).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            continue
    for text in texts:
        found |= secrets_in_config_text(text, lambda v: _expand(v, env))
    found |= set(known_secrets())
    return {s for s in found if s.strip()}


class Masker:
    """Send ``::add-mask::`` once per value, with the forms a value can take in a log."""

    def __init__(self) -> None:
        self.masked: set[str] = set()

    def mask(self, values: Iterable[str]) -> None:
        for value in sorted(set(values)):
            forms = {value, quote(value, safe=""), *value.splitlines()}
            for form in sorted(f for f in forms if f.strip() and f not in self.masked):
                core.set_secret(form)
                self.masked.add(form)
        sys.stdout.flush()


def set_outputs(values: Mapping[str, str], env: Mapping[str, str]) -> None:
    """``name<<DELIMITER`` blocks in ``$GITHUB_OUTPUT`` (actions-toolkit writes them)."""
    path = env.get("GITHUB_OUTPUT")
    if not path:
        listed = ", ".join(f"{k}={v}" for k, v in values.items())
        print(f"indexgate: GITHUB_OUTPUT is not set; outputs: {listed}")
        return
    if not os.path.exists(path):  # created here: readable by the steps after this one
        with open(path, "ab") as fh:
            os.fchmod(fh.fileno(), REPORT_MODE)
    for name, value in values.items():
        core.set_output(name, value)


def print_log(title: str, text: str) -> None:
    """Foldable log text; workflow commands inside it are switched off (it is untrusted)."""
    core.start_group(title)
    token = secrets.token_hex(16)
    issue_command("stop-commands", {}, token)
    sys.stdout.write(redact(text).rstrip("\n") + "\n")
    sys.stdout.write(f"::{token}::\n")
    core.end_group()


class _LogFilter(logging.Filter):
    """indexgate's own messages, without tracebacks unless ``RUNNER_DEBUG=1``.

    In debug mode indexgate's one line per request shows (``indexgate.http``, redacted); the
    h2 and hpack libraries' own lines are not kept (they would echo headers such as
    cookies).
    """

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.debug:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return record.name.split(".")[0] == "indexgate"


def capture_logs() -> io.StringIO:
    """Hold the log lines back until the credentials are masked (then they are printed)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    handler.addFilter(_LogFilter(core.is_debug()))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if core.is_debug() else logging.WARNING)
    return buffer


def workspace_dir(env: Mapping[str, str]) -> Path:
    """``$GITHUB_WORKSPACE``, else the runner's mount point, else the current directory."""
    if env.get("GITHUB_WORKSPACE"):
        return Path(env["GITHUB_WORKSPACE"]).resolve()
    mount = Path("/github/workspace")
    return mount if mount.is_dir() else Path.cwd().resolve()


# --- annotations ------------------------------------------------------------------------


def workspace_relative(file: str | None, workspace: Path) -> str | None:
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
    file = workspace_relative(p.file, workspace)
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
    file = workspace_relative(b.file_path, workspace)
    line = b.line
    if file is None and path:
        file, line = workspace_relative(top_file, workspace), top_line
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


def annotate_report(report: Report, workspace: Path, report_path: str) -> None:
    """Every annotation of a finished report: its errors, then its warnings."""
    errors, warnings = collect_notes(report, workspace)
    emit_annotations("error", errors, report_path)
    emit_annotations("warning", warnings, report_path)
