"""Index realities, parser and decision edges (issue 16, issue 13): the auth check's request
shapes (HTTP cases real servers here do not produce on demand, with the mock transport of
tests/support/mock_transport.py at HttpClient's transport seam),
login-page recognition, the one page decision, the new config keys, and the credential
providers. The behaviour against real servers is in tests/integration/test_index_realities.py.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from support.mock_transport import MockTransport, respond

from indexgate.config import load_settings
from indexgate.credentials import obtain
from indexgate.demo._http import basic_credentials
from indexgate.errors import InputError
from indexgate.index.authcheck import check_index, login_page
from indexgate.index.http import HttpClient, Response
from indexgate.index.transport.base import RawResponse, Request
from indexgate.index.transport.headers import Headers
from indexgate.policy import IndexPolicy, PageAction, PageDecision, Strategy
from indexgate.redact import redact
from indexgate.settings import CliOptions, IndexConfig
from indexgate.sources.model import SourceSet

INDEX = IndexConfig(name="idx", url="https://idx.example/simple/", username="u", password="pw")


def _check(index: IndexConfig, handler) -> tuple[object, list[Request]]:
    seen: list[Request] = []

    def recording(request: Request) -> RawResponse:
        seen.append(request)
        return handler(request)

    async def main():
        http = HttpClient(backoff=0.0, transport=MockTransport(recording))
        http.add_credentials(index.url, index.auth)
        try:
            return await check_index(http, index)
        finally:
            await http.aclose()

    return asyncio.run(main()), seen


# --- the auth check ----------------------------------------------------------------------


def test_auth_check_is_one_head_of_the_root_page() -> None:
    problem, seen = _check(INDEX, lambda r: respond(200))
    assert problem is None
    assert [(r.method, r.url) for r in seen] == [("HEAD", INDEX.url)]
    assert (seen[0].header("authorization") or "").startswith("Basic ")


def test_head_refused_asks_for_the_first_bytes_only() -> None:
    def handler(request: Request) -> RawResponse:
        if request.method == "HEAD":
            return respond(405)
        return respond(206, content=b"<html>")

    problem, seen = _check(INDEX, handler)
    assert problem is None
    assert [r.method for r in seen] == ["HEAD", "GET"]
    assert seen[1].header("range") == "bytes=0-4095"


@pytest.mark.parametrize("status", [401, 403, 404])
def test_any_refusal_is_an_auth_failure_naming_the_index(status: int) -> None:
    problem, _ = _check(INDEX, lambda r: respond(status))
    assert problem is not None
    assert (problem.kind, problem.index, problem.status_code) == ("auth-failure", "idx", status)
    assert f"HTTP {status}" in problem.message and "pw" not in problem.message


def test_a_login_form_with_200_is_an_auth_failure() -> None:
    form = b'<form><input name="p" type="password"></form>'
    problem, _ = _check(INDEX, lambda r: respond(200, content=b"" if r.method == "HEAD" else form))
    assert problem is None  # a HEAD has no body: only a redirect can give it away
    index = IndexConfig(name="idx", url=INDEX.url, username="u", password="pw", auth_check="acme")

    def handler(request: Request) -> RawResponse:
        if request.method == "HEAD":
            return respond(405)
        return respond(200, content=form, headers={"Content-Type": "text/html"})

    problem, seen = _check(index, handler)
    assert seen[0].url == "https://idx.example/simple/acme/"
    assert problem is not None and "login form" in problem.message


# --- login pages --------------------------------------------------------------------------


def _response(url: str, history: tuple[str, ...] = (), body: bytes = b"") -> Response:
    return Response(url, 200, "OK", Headers(), body, history=history)


def test_login_page_recognition() -> None:
    asked = "https://idx.example/root/dev/+simple/acme-core/"
    # devpi-lockdown: a redirect to another path of the same server
    login = _response("https://idx.example/+login?goto_url=x", (asked,))
    assert login_page(login, asked, "acme-core") == "redirected to /+login (a login page?)"
    # a redirect to the normalized name (or the slash) is the same page
    same = _response("https://idx.example/root/dev/+simple/acme-core/", (asked[:-1],))
    assert login_page(same, asked[:-1], "acme-core") is None
    dotted = _response("https://idx.example/root/dev/+simple/Acme.Core/", (asked,))
    assert login_page(dotted, asked, "acme-core") is None
    # a CDN on another host serving the page is not a login
    cdn = _response("https://cdn.example/simple/acme-core/", (asked,))
    assert login_page(cdn, asked, "acme-core") is None
    # a password form is a login wherever it came from
    form = _response(asked, body=b"<INPUT TYPE='password' name=pw>")
    assert login_page(form, asked, "acme-core") == "answered with a login form"
    assert login_page(_response(asked, body=b'<a href="x.whl">x.whl</a>'), asked) is None


def test_page_decision_is_the_one_place() -> None:
    def decide(
        status: int,
        strategy: Strategy,
        ignore: frozenset[int],
        name: str,
        *,
        refused: str | None = None,
    ) -> PageDecision:
        """The index's policy value decides (policy.page_decision, its bare-list twin, is gone)."""
        return IndexPolicy(name, strategy, ignore).on_page(status, refused=refused)

    assert decide(200, Strategy.FIRST_INDEX, frozenset(), "i").action is PageAction.USE
    assert decide(404, Strategy.FIRST_INDEX, frozenset(), "i").action is PageAction.NEXT
    auth = decide(401, Strategy.FIRST_INDEX, frozenset(), "i")
    assert (auth.action, auth.kind) == (PageAction.AUTH_FAILURE, "auth-failure")
    assert "credentials" in auth.advice
    skip = decide(403, Strategy.UNSAFE_BEST_MATCH, frozenset(), "i")
    assert skip.action is PageAction.SKIP_WITH_WARNING
    for strategy in Strategy:  # a login page never means "not here"
        login = decide(200, strategy, frozenset({200}), "i", refused="redirected to /+login")
        assert (login.action, login.kind) == (PageAction.AUTH_FAILURE, "auth-failure")
        assert "redirected to /+login" in login.why and "project page" in login.advice
    error = decide(418, Strategy.FIRST_INDEX, frozenset(), "i")
    assert (error.action, error.kind) == (PageAction.ERROR, "index-unreachable")


# --- config keys ------------------------------------------------------------------------


def _settings(tmp_path: Path, entry: str, extra: str = ""):
    path = tmp_path / ".github" / "indexgate.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "indexes:\n  - name: private\n    url: https://p.example/simple/\n"
        + "".join(f"    {line}\n" for line in entry.splitlines())
        + "  - name: public\n    url: https://q.example/simple/\n"
        + extra
    )
    env = {"NETRC": str(tmp_path / "no-netrc"), "PATH": ""}
    return load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env=env)


def test_new_index_keys_are_read(tmp_path: Path) -> None:
    s = _settings(tmp_path, "auth-check: acme-core\nupstream: public\nusername: u\npassword: p")
    private = s.index("private")
    assert (private.auth_check, private.upstream) == ("acme-core", "public")
    assert s.index("public").upstream is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("upstream: nowhere", "upstream 'nowhere' must name another configured index"),
        ("upstream: private", "upstream 'private' must name another configured index"),
        ("keyring-provider: import", "keyring-provider must be subprocess or disabled"),
        ("auth-check: [a, b]", "`auth-check` must be a string, not a list"),
        (
            "keyring-provider: subprocess\npassword-command: x",
            "keyring-provider or password-command, not both",
        ),
    ],
)
def test_new_index_keys_errors(tmp_path: Path, entry: str, problem: str) -> None:
    with pytest.raises(InputError) as info:
        _settings(tmp_path, entry)
    assert problem in str(info.value)
    assert ".github/indexgate.yml" in str(info.value)


# --- credential providers -----------------------------------------------------------------


def _script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(0o755)
    return path


def test_password_command_output_is_stripped_and_registered_as_a_secret(tmp_path) -> None:
    tool = _script(tmp_path, "tok", "print('  cmd-secret-4411  ')")
    user, password = obtain(INDEX.url, "idx", "aws", None, f"{tool} --domain acme")
    assert (user, password) == ("aws", "cmd-secret-4411")
    assert "cmd-secret-4411" not in redact("[cmd-secret-4411]")


def test_password_command_errors_are_exit_2_and_say_what_to_check(tmp_path) -> None:
    with pytest.raises(InputError, match="printed no password"):
        obtain(INDEX.url, "idx", None, None, str(_script(tmp_path, "empty", "print('')")))
    with pytest.raises(InputError, match="`no-such-tool-xyz` was not found"):
        obtain(INDEX.url, "idx", None, None, "no-such-tool-xyz")


def test_keyring_missing_from_path(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="needs the `keyring` command on PATH"):
        obtain(INDEX.url, "idx", "u", "subprocess", None)


def test_keyring_creds_mode_needs_two_lines(tmp_path, monkeypatch) -> None:
    _script(tmp_path, "keyring", "print('only-one-line')")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match="give the index a `username:`"):
        obtain(INDEX.url, "idx", None, "subprocess", None)


# --- one refresh of an expiring token ----------------------------------------------------------


def test_a_401_after_200_refreshes_once_and_retries_once() -> None:
    """Valid: "old" until it expires, then only "new". The provider gives "new" once, then
    would give "newer": a second expiry gets no second refresh."""
    valid = {"old"}
    calls: list[str] = []

    def handler(request: Request) -> RawResponse:
        given = basic_credentials(request.header("authorization"))
        return respond(200 if given and given[1] in valid else 401)

    def refresh() -> tuple[str, str]:
        calls.append("refresh")
        return ("u", "new" if len(calls) == 1 else "newer")

    async def main() -> list[int]:
        http = HttpClient(backoff=0.0, transport=MockTransport(handler))
        http.add_credentials(INDEX.url, ("u", "old"))
        http.add_refresher(INDEX.url, refresh)
        try:
            statuses = [(await http.request("GET", INDEX.url + "a/")).status]
            valid.clear()
            valid.add("new")  # "old" expired
            statuses.append((await http.request("GET", INDEX.url + "b/")).status)
            valid.clear()  # "new" expired too: no second refresh
            statuses.append((await http.request("GET", INDEX.url + "c/")).status)
            return statuses
        finally:
            await http.aclose()

    assert asyncio.run(main()) == [200, 200, 401]
    assert calls == ["refresh"]


def test_password_command_expands_variables_and_a_given_password_wins(tmp_path: Path) -> None:
    tool = _script(tmp_path, "echo-arg", "print(sys.argv[1])")
    path = tmp_path / ".github" / "indexgate.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "indexes:\n  - name: private\n    url: https://p.example/simple/\n"
        f'    password-command: "{tool} ${{DOMAIN_TOKEN}}"\n'
    )
    env = {"NETRC": str(tmp_path / "no-netrc"), "DOMAIN_TOKEN": "from-env-77aa"}
    s = load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env=env)
    assert s.index("private").password == "from-env-77aa"
    env["INDEXGATE_INDEX_PRIVATE_PASSWORD"] = "given-99bb"
    s = load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env=env)
    assert s.index("private").password == "given-99bb"  # the command is not run
