"""Short-lived index credentials from the tools teams already use.

CodeArtifact, Artifact Registry and Azure Artifacts hand out tokens that last hours, through
their CLIs or keyring plugins. Two ways in, per index:

- ``keyring-provider: subprocess``, as uv spells it: run the ``keyring`` command found on
  PATH. With a username (from the config, the environment or the URL): ``keyring get <url>
  <username>`` prints the password. Without one: ``keyring get <url> --mode creds`` prints
  the username and the password on two lines (uv does the same).
- ``password-command: "<command>"``: any command (split as a shell would, run without one),
  whose standard output, stripped, is the password.

Every value read is registered with ``indexgate.redact`` at once, so it never appears in a
log, report or error (and the Action masks it). ``obtain`` runs again when a token expires
during a run (a 401 after a 200 from that index): one refresh, through the same provider.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Callable

from indexgate.errors import InputError
from indexgate.redact import redact, register_secret

TIMEOUT = 60.0  # seconds; a token command that hangs must not hang the gate


def obtain(
    url: str,
    index_name: str,
    username: str | None,
    keyring_provider: str | None,
    password_command: str | None,
) -> tuple[str | None, str]:
    """``(username, password)`` from the index's provider; InputError (exit 2) when the
    provider cannot give one, naming the index and what to check."""
    if password_command:
        password = _run(shlex.split(password_command), index_name, "password-command")
        return username, _password(password, index_name, "password-command")
    if keyring_provider == "subprocess":
        keyring = shutil.which("keyring", path=os.environ.get("PATH"))
        if keyring is None:
            raise InputError(
                f"index '{index_name}': keyring-provider: subprocess needs the `keyring` command "
                "on PATH (pip install keyring, plus the vendor's keyring backend)"
            )
        if username:
            out = _run([keyring, "get", url, username], index_name, "keyring")
            return username, _password(out, index_name, "keyring")
        out = _run([keyring, "get", url, "--mode", "creds"], index_name, "keyring")
        lines = out.splitlines()
        if len(lines) < 2:
            raise InputError(
                f"index '{index_name}': `keyring get <url> --mode creds` gave no username and "
                "password; give the index a `username:` (e.g. __token__ or aws) so that "
                "`keyring get <url> <username>` is asked instead"
            )
        return lines[0].strip() or None, _password(lines[1], index_name, "keyring")
    raise InputError(f"index '{index_name}': no credential provider configured")


def refresher(
    url: str,
    index_name: str,
    username: str | None,
    keyring_provider: str | None,
    password_command: str | None,
) -> Callable[[], tuple[str, str]] | None:
    """A function that asks the index's provider again, or None when it has none."""
    if not (password_command or keyring_provider == "subprocess"):
        return None

    def again() -> tuple[str, str]:
        user, password = obtain(url, index_name, username, keyring_provider, password_command)
        return user or "", password

    return again


def _password(value: str, index_name: str, what: str) -> str:
    password = value.strip()
    if not password:
        raise InputError(f"index '{index_name}': {what} printed no password")
    register_secret(password)
    return password


def _run(args: list[str], index_name: str, what: str) -> str:
    """The command's standard output; its errors name the program, never its output."""
    if not args:
        raise InputError(f"index '{index_name}': {what} is empty")
    program = os.path.basename(args[0])
    try:
        done = subprocess.run(
            args,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise InputError(f"index '{index_name}': {what}: `{program}` was not found") from None
    except subprocess.TimeoutExpired:
        raise InputError(
            f"index '{index_name}': {what}: `{program}` did not finish within {TIMEOUT:.0f} s"
        ) from None
    except OSError as exc:
        raise InputError(
            f"index '{index_name}': {what}: `{program}` could not run: {exc.strerror}"
        ) from None
    if done.returncode != 0:
        # Its stderr may quote the secret it was asked for: only the exit status is shown.
        raise InputError(
            redact(
                f"index '{index_name}': {what}: `{program}` exited with status "
                f"{done.returncode} and gave no password; run it yourself to see why"
            )
        )
    return done.stdout
