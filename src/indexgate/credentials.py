"""Credential discovery: the one place that knows where an index's credentials come from.

Used by the run (``indexgate.config.indexes`` asks ``discover`` for each index) and by the
Action's masking (``collect_secrets``, in the Action's workflow module, asks
``secrets_in_env`` and ``secrets_in_config_text`` before anything is printed). The
sources, first found wins: the config's ``username``/``password``;
``INDEXGATE_INDEX_<NAME>_USERNAME``/``_PASSWORD``; ``UV_INDEX_<NAME>_USERNAME``/``_PASSWORD``;
the URL's userinfo; netrc for the URL's host; then the index's token provider, when it has
one and no password was found.

Token providers: short-lived credentials from the tools teams already use. CodeArtifact,
Artifact Registry and Azure Artifacts hand out tokens that last hours, through their CLIs or
keyring plugins. Two ways in, per index:

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

import contextlib
import os
import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import unquote, urlsplit

from indexgate.errors import InputError
from indexgate.lazy_re import LazyPattern
from indexgate.policy import env_name
from indexgate.redact import redact, register_secret, strip_userinfo

# Environment variables that carry an index's credentials: <PREFIX>_<NAME>_USERNAME/PASSWORD.
ENV_PREFIXES = ("INDEXGATE_INDEX", "UV_INDEX")
PASSWORD_VARIABLE = LazyPattern(rf"^(?:{'|'.join(ENV_PREFIXES)})_.+_PASSWORD$")
# Environment variables whose URLs may carry userinfo: the index variables pip and uv read,
# and the proxies (a proxy's password is never printed by indexgate; masking is a second guard).
URL_VARIABLES = (
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "UV_INDEX",
    "UV_DEFAULT_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    *(f"{name}{suffix}" for name in ("HTTPS", "HTTP", "ALL") for suffix in ("_PROXY", "_proxy")),
)


def discover(
    name: str,
    url: str,
    username: str | None,
    password: str | None,
    env: Mapping[str, str],
    *,
    keyring_provider: str | None = None,
    password_command: str | None = None,
) -> tuple[str | None, str | None]:
    """An index's ``(username, password)`` from every source in order (the module doc), the
    password registered with ``indexgate.redact`` at once. ``url`` may carry userinfo; the
    token provider is asked with the URL without it."""
    user, secret = static_credentials(name, url, username, password, env)
    if secret is None and (keyring_provider or password_command):
        bare = strip_userinfo(url)
        user, secret = obtain(bare, name, user, keyring_provider, password_command)
    register_secret(secret)
    return user, secret


def static_credentials(
    name: str,
    url: str,
    username: str | None,
    password: str | None,
    env: Mapping[str, str],
) -> tuple[str | None, str | None]:
    """The config's username/password, then INDEXGATE_INDEX_<NAME>_*, then UV_INDEX_<NAME>_*,
    then the URL's userinfo, then netrc for the URL's host; ``(None, None)`` when none."""
    key = env_name(name)
    for user, secret in (
        (username, password),
        *((env.get(f"{p}_{key}_USERNAME"), env.get(f"{p}_{key}_PASSWORD")) for p in ENV_PREFIXES),
    ):
        if user or secret:
            return user or None, secret or None
    parts = urlsplit(url)
    if parts.username or parts.password:
        return (
            unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password else None,
        )
    return netrc_credentials(parts.hostname, env)


def netrc_credentials(host: str | None, env: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The login and password netrc (``$NETRC``, else ``~/.netrc``) has for ``host``."""
    if not host:
        return None, None
    path = Path(env.get("NETRC") or Path.home() / ".netrc")
    if not path.is_file():
        return None, None
    import netrc  # only when there is one to read

    try:
        auth = netrc.netrc(str(path)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise InputError(f"cannot read netrc: {exc}", file=str(path)) from None
    if not auth:
        return None, None
    login, _account, password = auth
    return login or None, password or None


# -- for masking: what can be known before the run ------------------------------------------


def url_secrets(url: str) -> set[str]:
    """The password of a URL's userinfo, or its user when that alone is the token (also in a
    ``NAME=URL`` spec), as written and percent-decoded."""
    try:
        parts = urlsplit(url.partition("=")[2] if "=" in url.split("://")[0] else url)
        user, password = parts.username, parts.password
    except ValueError:
        return set()
    value = password if password is not None else user
    return {value, unquote(value)} if value else set()


def secrets_in_env(env: Mapping[str, str]) -> set[str]:
    """Every index password variable's value, and the userinfo of every URL variable."""
    found = {v for k, v in env.items() if PASSWORD_VARIABLE.match(k) and v}
    for var in URL_VARIABLES:
        for token in env.get(var, "").split():
            found |= url_secrets(token)
    return found


def secrets_in_config(data: object, expand: Callable[[str], str]) -> set[str]:
    """Every ``password:`` and URL userinfo in a parsed config (any nesting), each value
    passed through ``expand`` first (the config's ``${VAR}`` rules, lenient: masking runs
    before any check, so nothing here may raise)."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "password" and value is not None:
                found.add(expand(str(value)))
            elif key == "url" and isinstance(value, str):
                found |= url_secrets(expand(value))
            else:
                found |= secrets_in_config(value, expand)
    elif isinstance(data, list):
        for item in data:
            found |= secrets_in_config(item, expand)
    return found


_PASSWORD_LINE = LazyPattern(  # config files only
    r"""^[\s-]*["']?password["']?\s*:\s*(?P<value>\S.*?)(?:\s+#.*)?\s*$""", re.M
)
_URL_IN_TEXT = LazyPattern(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def secrets_in_config_text(text: str, expand: Callable[[str], str]) -> set[str]:
    """Every password and URL userinfo in a config's text, for masking before any check.

    Lenient on purpose: a regex for ``password:`` lines and URLs besides the YAML parser,
    so that a config that fails to parse still has its passwords masked before the error
    about it is printed."""
    import yaml  # only the Action masks; the run reads its config elsewhere

    found: set[str] = set()
    for match in _PASSWORD_LINE.finditer(text):
        value = match["value"]
        found.add(expand(value))
        found.add(expand(value.strip("\"'")))
    for url in _URL_IN_TEXT.findall(text):
        found |= url_secrets(expand(url))
    with contextlib.suppress(yaml.YAMLError):
        found |= secrets_in_config(yaml.safe_load(text), expand)
    return found


# -- token providers ------------------------------------------------------------------------


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
        import shlex  # here: password commands are rare

        password = _run(shlex.split(password_command), index_name, "password-command")
        return username, _password(password, index_name, "password-command")
    if keyring_provider == "subprocess":
        import shutil  # here: with bz2 and lzma, 2 ms of every run's start-up otherwise

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
