"""GitHub's side of the Action: workflow commands, the outputs file, the log held back.

The runner masks only lines it reads after ``::add-mask::``, so this module finds every
credential visible before the run (``collect_secrets``, read leniently: even a config that
fails to parse has its passwords masked before the error about it is printed) and masks
each in the forms a log can show it (``Masker``). Until then the log lines are held back
(``capture_logs``); what the run prints goes into a log group with workflow commands
switched off (``print_log``), and the outputs into ``$GITHUB_OUTPUT`` (``set_outputs``).
Only the Action imports this module (and ``actions_toolkit``); the CLI stays lean.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import secrets
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote

import yaml
from actions_toolkit import core
from actions_toolkit.command import issue_command

from indexgate.config import DEFAULT_CONFIG_PATHS, expand_vars
from indexgate.credentials import secrets_in_config, secrets_in_env, url_secrets
from indexgate.redact import known_secrets, redact
from indexgate.report.json_report import REPORT_MODE

_PASSWORD_LINE = re.compile(
    r"""^[\s-]*["']?password["']?\s*:\s*(?P<value>\S.*?)(?:\s+#.*)?\s*$""", re.M
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def _expand(value: str, env: Mapping[str, str]) -> str:
    """The config's own ``${VAR}`` rules, never raising: masking runs before any check."""
    return expand_vars(value, env, strict=False)


def collect_secrets(inputs: Mapping[str, str], env: Mapping[str, str], workspace: Path) -> set[str]:
    """Every credential visible before the run: env passwords, URL userinfo, config files.

    Where credentials come from is ``indexgate.credentials``'s to say; this adds only a
    lenient reading (a regex besides the YAML parser), so that even a config that fails to
    parse has its passwords masked before the error about it is printed.
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
        for match in _PASSWORD_LINE.finditer(text):
            value = match["value"]
            found.add(_expand(value, env))
            found.add(_expand(value.strip("\"'"), env))
        for url in _URL.findall(text):
            found |= url_secrets(_expand(url, env))
        with contextlib.suppress(yaml.YAMLError):
            found |= secrets_in_config(yaml.safe_load(text), lambda v: _expand(v, env))
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

    In debug mode indexgate's one line per request shows (``indexgate.http``, redacted), and
    httpx's where an HTTP/2 index goes through httpx; httpcore's wire-level lines are not
    kept (they would echo response headers such as cookies).
    """

    def __init__(self, debug: bool) -> None:
        super().__init__()
        self.debug = debug

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.debug:
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        allowed = ("indexgate", "httpx") if self.debug else ("indexgate",)
        return record.name.split(".")[0] in allowed


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
