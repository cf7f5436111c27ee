"""Index realities (issues 16 and 13), against the tests' own servers answering as each
vendor is documented to.

- A bad token answered with 404 for everything (CodeArtifact, GitLab, Artifactory hiding
  unauthorized resources): the auth check fails the gate before any later index is asked.
- devpi-lockdown: a wrong password is a 302 to ``/+login?goto_url=...`` (200 HTML).
- Curation pending / on-demand / waivable, Xray unavailable: the state of each blocked entry.
- A PCCS-style page that omits blocked versions, with an upstream that lists them (drift).
- A ``keyring`` stand-in on PATH, ``password-command``, a token expiring mid-run.
- shadowed-name in check, and drift never requesting a shadowed name's file elsewhere.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from support.packages import wheel

from indexgate.cli import main

USER, TOKEN = "ci", "right-token-3f9a2c"


def _config(
    private, public, *extra: str, user: str | None = USER, password: str | None = "${TOKEN}"
) -> str:
    lines = ["indexes:", "  - name: private", f"    url: {private.url}"]
    if user is not None:
        lines += [f"    username: {user}"]
    if user is not None and password is not None:
        lines += [f"    password: {password}"]
    lines += [f"    {line}" for line in extra]
    lines += ["  - name: public", f"    url: {public.url}", "    default: true", ""]
    return "\n".join(lines)


def _asked_about(server, name: str) -> list[str]:
    return [e.path for e in server.access_log.entries() if name in e.path]


# --- proving the credentials -------------------------------------------------------------


def test_bad_token_answered_404_for_everything_fails_before_any_later_index(cli, dev_index) -> None:
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="404")
    public = dev_index([wheel("acme-core", "99.0.0")])
    config = _config(private, public)

    run = cli.run(requirements="acme-core\n", config=config, env={"TOKEN": "expired-token"})

    assert run.code == 1, run.out + run.err
    (error,) = run.errors()
    assert (error["kind"], error["index"], error["status_code"]) == ("auth-failure", "private", 404)
    assert "auth check" in error["message"] and "HTTP 404" in error["message"]
    assert error["file"] == ".github/indexgate.yml"
    # one HEAD of the root page, nothing else; the public index was asked nothing at all
    assert [(e.method, e.path) for e in private.access_log.entries()] == [("HEAD", "/simple/")]
    assert public.access_log.entries() == []
    assert "expired-token" not in run.everything()

    private.access_log.clear()
    run = cli.run(requirements="acme-core\n", config=config, env={"TOKEN": TOKEN})
    assert run.code == 0, run.out + run.err
    assert run.resolved("acme-core")["index"] == "private"
    first = private.access_log.entries()[0]
    assert (first.method, first.path, first.status) == ("HEAD", "/simple/", 200)
    assert _asked_about(public, "acme-core") == []


def test_a_token_expiring_mid_run_behind_404s_is_caught_by_proving_again(
    cli, dev_index, monkeypatch
) -> None:
    """The token passes the auth check, then expires; the index answers 404 for everything.
    A 404 from an index proven long enough ago (0 s here) proves the credentials again
    before the search moves on: a legitimate 404 passes it, an expired token does not."""
    from indexgate.index import authcheck

    monkeypatch.setattr(authcheck, "REPROVE_AFTER", 0.0)
    public = dev_index([wheel("six", "1.0"), wheel("acme-util", "99.0.0")])
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="404")
    config = _config(private, public)

    run = cli.run(requirements="six\n", config=config, env={"TOKEN": TOKEN})
    assert run.code == 0, run.out + run.err  # really not there: on to the next index
    assert run.resolved("six")["index"] == "public"
    assert [(e.method, e.path) for e in private.access_log.entries()] == [
        ("HEAD", "/simple/"),
        ("GET", "/simple/six/"),
        ("HEAD", "/simple/"),
    ]

    expiring = dev_index(
        [wheel("acme-core", "1.0")],
        basic_auth=(USER, TOKEN),
        deny_as="404",
        rotate_after=1,  # only the auth check passes
        next_password="rotated-elsewhere",
    )
    public.access_log.clear()
    run = cli.run(
        requirements="acme-util\n", config=_config(expiring, public), env={"TOKEN": TOKEN}
    )
    assert run.code == 1, run.out + run.err
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["index"]) == (
        "auth-failure",
        "acme-util",
        "private",
    )
    assert "failed its auth check again (HTTP 404)" in error["message"]
    assert _asked_about(public, "acme-util") == []


def test_auth_check_project_is_asked_instead_of_the_root(cli, dev_index) -> None:
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="404")
    public = dev_index([wheel("six", "1.0")])

    run = cli.run(
        requirements="acme-core\n",
        config=_config(private, public, "auth-check: Acme_Core"),
        env={"TOKEN": TOKEN},
    )
    assert run.code == 0, run.out + run.err
    first = private.access_log.entries()[0]
    assert (first.method, first.path, first.status) == ("HEAD", "/simple/acme-core/", 200)

    # a project that is not there cannot prove anything: the gate says which key to fix
    run = cli.run(
        requirements="acme-core\n",
        config=_config(private, public, "auth-check: not-here"),
        env={"TOKEN": TOKEN},
    )
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["status_code"]) == (
        "auth-failure",
        "not-here",
        404,
    )
    assert "auth-check" in error["message"]


# --- devpi-lockdown: a login redirect ---------------------------------------------------------


def test_login_redirect_on_the_auth_check_is_an_auth_failure(cli, dev_index) -> None:
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="login")
    public = dev_index([wheel("acme-core", "99.0.0")])

    run = cli.run(
        requirements="acme-core\n", config=_config(private, public), env={"TOKEN": "wrong"}
    )

    assert run.code == 1, run.out + run.err
    (error,) = run.errors()
    assert (error["kind"], error["index"]) == ("auth-failure", "private")
    assert "redirected to /+login" in error["message"]
    assert public.access_log.entries() == []


@pytest.mark.parametrize("strategy", ["first-index", "unsafe-best-match"])
def test_login_redirect_on_a_project_page_is_an_auth_failure_not_not_found(
    cli, dev_index, strategy
) -> None:
    """No credentials configured (nothing to prove up front): the project page itself is a
    302 to the login page, whose 200 HTML lists nothing. Never "not found", never the next
    index."""
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="login")
    public = dev_index([wheel("acme-core", "99.0.0")])
    config = _config(private, public, user=None) + f"index-strategy: {strategy}\n"

    run = cli.run(requirements="acme-core\n", config=config)

    assert run.code == 1, run.out + run.err
    errors = run.errors()
    assert [(e["kind"], e["package"], e["index"]) for e in errors] == [
        ("auth-failure", "acme-core", "private")
    ]
    assert "login" in errors[0]["message"] and "not found" not in errors[0]["message"]
    assert [e.path for e in private.access_log.entries()][:2] == [
        "/simple/acme-core/",
        "/+login?goto_url=%2Fsimple%2Facme-core%2F",
    ]
    if strategy == "first-index":
        assert _asked_about(public, "acme-core") == []


def test_login_redirect_on_a_flat_page_is_an_auth_failure(cli, dev_index) -> None:
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN), deny_as="login")
    public = dev_index([wheel("acme-core", "99.0.0")])
    config = (
        f"indexes:\n  - name: private\n    url: {private.url}\n    format: flat\n"
        f"  - name: public\n    url: {public.url}\n    default: true\n"
    )
    run = cli.run(requirements="acme-core\n", config=config)
    assert run.code == 1, run.out + run.err
    assert [(e["kind"], e["index"]) for e in run.errors()] == [("auth-failure", "private")]
    assert "redirected to /+login" in run.errors()[0]["message"]
    assert _asked_about(public, "acme-core") == []


# --- what the firewall says ---------------------------------------------------------------


STATES = {
    "alpha": ("curation-pending", "pending"),
    "beta": ("curation-on-demand", "pending"),
    "gamma": ("curation-waivable", "waivable"),
    "delta": ("xray-unavailable", "pending"),
    "eps": ("curation", "blocked"),
}


def test_firewall_states_in_report_and_summary_and_fail_on_pending(cli, dev_index) -> None:
    packages = [wheel(n, v) for n in STATES for v in ("1.0", "2.0")]
    rules = {f"{n}-2.0-py3-none-any.whl": fmt for n, (fmt, _) in STATES.items()}
    index = dev_index(packages, firewall=rules)
    requirements = "".join(f"{n}\n" for n in STATES)

    run = cli.run("--index", f"fw={index.url}", requirements=requirements, summary=True)

    assert run.code == 0, run.out + run.err
    assert run.versions() == {n: "1.0" for n in STATES}  # each still skipped
    states = {b["name"]: (b["vendor"], b["state"]) for b in run.target["blocked"]}
    assert {n: s for n, (_, s) in states.items()} == {n: s for n, (_, s) in STATES.items()}
    assert states["delta"][0] == "jfrog-xray"
    assert "scan in progress, try again later" in run.summary
    assert "waivers allowed" in run.summary
    # pending artifacts get their own table: not listed among the blocked ones
    blocked_table, _, rest = run.summary.partition("### Scans in progress")
    pending_table = rest.split("###")[0]
    assert pending_table and "gamma" in blocked_table and "eps" in blocked_table
    assert all(f"| {n} |" in pending_table for n in ("alpha", "beta", "delta"))
    assert "| alpha |" not in blocked_table
    assert "scan in progress, try again later" in run.out

    run = cli.run("--index", f"fw={index.url}", "--fail-on", "pending", requirements="alpha\n")
    assert run.code == 1
    assert run.report["status"] == "fail"
    run = cli.run("--index", f"fw={index.url}", "--fail-on", "pending", requirements="gamma\n")
    assert run.code == 0, run.out + run.err  # waivable is not pending


# --- hidden versions (drift) --------------------------------------------------------------


def _drift(*args: str) -> tuple[int, dict, str]:
    code = main(["drift", *args, "--report-json", "d.json", "--summary", "d.md", "-q"])
    return code, json.loads(Path("d.json").read_text()), Path("d.md").read_text()


def test_drift_lists_versions_the_firewall_page_hides_but_its_upstream_publishes(
    cli, dev_index
) -> None:
    files = {v: f"acme_lib-{v}-py3-none-any.whl" for v in ("1.0", "2.0", "2.1")}
    times = {
        files["1.0"]: "2024-01-01T00:00:00Z",
        files["2.0"]: "2024-03-01T00:00:00Z",
        files["2.1"]: "2024-04-01T00:00:00Z",
    }
    dists = [wheel("acme-lib", v) for v in files]
    upstream = dev_index(dists, upload_times=times)
    # PCCS / Curation filtering: the blocked versions are not on the page at all
    pccs = dev_index(dists, upload_times=times, hidden={files["2.0"], files["2.1"]})
    cli.write("requirements.txt", "acme-lib==1.0\n")
    cli.write(
        ".github/indexgate.yml",
        f"indexes:\n  - name: firewall\n    url: {pccs.url}\n    upstream: public\n"
        f"  - name: public\n    url: {upstream.url}\n    default: true\n",
    )

    code, report, summary = _drift("--fail-on", "stuck")

    (entry,) = report["targets"][0]["drift"]
    hidden = entry["hidden"]
    assert (hidden["index"], hidden["upstream"]) == ("firewall", "public")
    assert [v["version"] for v in hidden["versions"]] == ["2.1", "2.0"]
    assert hidden["versions"][1]["upload_time"] == "2024-03-01T00:00:00Z"
    assert hidden["since"] == "2024-03-01T00:00:00Z" and hidden["age_days"] > 200
    assert "Hidden by the index's page" in summary
    assert code == 1  # --fail-on stuck counts hidden versions
    # a page comparison: no file of the upstream was ever requested
    assert [e.path for e in upstream.access_log.entries() if e.path.startswith("/files/")] == []


# --- credentials from tools ----------------------------------------------------------------


def _stand_in(folder: Path, name: str, tokens: list[str]) -> Path:
    """An executable that logs its arguments and prints the next token of ``tokens``."""
    folder.mkdir(exist_ok=True)
    log = folder / f"{name}.log"
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        f"log = pathlib.Path({str(log)!r})\n"
        "with log.open('a') as f:\n"
        "    f.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "n = len(log.read_text().splitlines())\n"
        f"tokens = {tokens!r}\n"
        "if '--mode' in sys.argv:\n"
        "    print('__token__')\n"
        "print(tokens[min(n, len(tokens)) - 1])\n"
    )
    script.chmod(0o755)
    return log


def test_keyring_stand_in_on_path_and_one_refresh_when_the_token_expires(
    cli, dev_index, tmp_path
) -> None:
    first, second = "kr-token-one-7d1e", "kr-token-two-9c4b"
    # the first token works for two requests (the auth check, one page), then expires
    private = dev_index(
        [wheel("acme-core", "1.0", "acme-util>=1"), wheel("acme-util", "1.0")],
        basic_auth=("__token__", first),
        rotate_after=2,
        next_password=second,
    )
    public = dev_index([wheel("six", "1.0")])
    log = _stand_in(tmp_path / "bin", "keyring", [first, second])
    cli.monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    config = _config(
        private, public, "keyring-provider: subprocess", user="__token__", password=None
    )

    run = cli.run(requirements="acme-core\n", config=config)

    assert run.code == 0, run.out + run.err
    assert run.versions() == {"acme-core": "1.0", "acme-util": "1.0"}
    # asked as uv asks it, once at the start and once more after the 401
    assert log.read_text().splitlines() == [f"get {private.url} __token__"] * 2
    assert 401 in [e.status for e in private.access_log.entries()]
    assert first not in run.everything() and second not in run.everything()


def test_keyring_without_username_asks_for_creds_and_password_command(
    cli, dev_index, tmp_path
) -> None:
    token = "pc-token-5e8f0a"
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=("__token__", token))
    public = dev_index([wheel("six", "1.0")])
    log = _stand_in(tmp_path / "bin", "keyring", [token])
    cli.monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    run = cli.run(
        requirements="acme-core\n",
        config=_config(private, public, "keyring-provider: subprocess", user=None),
    )
    assert run.code == 0, run.out + run.err
    assert log.read_text().splitlines() == [f"get {private.url} --mode creds"]

    tool = _stand_in(tmp_path / "tool", "print-token", [token])
    command = f"{tmp_path / 'tool' / 'print-token'} --project acme"
    config = _config(
        private, public, f'password-command: "{command}"', user="__token__", password=None
    )
    run = cli.run(requirements="acme-core\n", config=config)
    assert run.code == 0, run.out + run.err
    assert tool.read_text().splitlines() == ["--project acme"]
    assert token not in run.everything()


def test_a_failing_password_command_is_exit_2_without_its_output(cli, dev_index, tmp_path) -> None:
    private = dev_index([wheel("acme-core", "1.0")], basic_auth=(USER, TOKEN))
    public = dev_index([wheel("six", "1.0")])
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'secret-in-stderr-ab12' >&2\nexit 3\n")
    script.chmod(0o755)
    config = _config(private, public, f'password-command: "{script}"', user=None)
    run = cli.run(requirements="acme-core\n", config=config)
    assert run.code == 2
    assert "fail.sh" in run.err and "status 3" in run.err
    assert "secret-in-stderr-ab12" not in run.out + run.err


# --- shadowed names ---------------------------------------------------------------------------


def test_check_unsafe_best_match_reports_the_shadowed_internal_name(cli, dev_index) -> None:
    """The devpi case: an internal name also on a later index at 99.0.0."""
    private = dev_index([wheel("acme-core", "1.0")])
    public = dev_index([wheel("acme-core", "99.0.0")])
    config = _config(private, public, user=None) + "index-strategy: unsafe-best-match\n"

    run = cli.run(requirements="acme-core\n", config=config)

    assert run.code == 1, run.out + run.err
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["index"]) == (
        "shadowed-name",
        "acme-core",
        "private",
    )
    assert "'private'" in error["message"] and "'public' (99.0.0)" in error["message"]
    assert run.resolved("acme-core")["version"] == "99.0.0"  # what it would have taken


def test_check_unsafe_strategy_does_not_flag_a_mirror(cli, dev_index) -> None:
    """A later index that holds every file of ours byte for byte (a proxy of the same
    project, with newer releases) is the same project: no shadowed-name."""
    private = dev_index([wheel("requests", "2.31.0")])
    public = dev_index([wheel("requests", "2.31.0"), wheel("requests", "2.32.3")])
    config = _config(private, public, user=None) + "index-strategy: unsafe-best-match\n"

    run = cli.run(requirements="requests\n", config=config)

    assert run.code == 0, run.out + run.err
    assert run.errors() == [] and run.warnings() == []
    assert run.resolved("requests")["version"] == "2.32.3"


@pytest.mark.parametrize("requirement", ["acme-core==1.0", "acme-core>=1"])
def test_drift_shadow_check_requests_no_file_of_the_later_index(
    cli, dev_index, requirement
) -> None:
    private = dev_index([wheel("acme-core", "1.0")])
    public = dev_index([wheel("acme-core", "99.0.0"), wheel("acme-core", "98.0.0")])
    cli.write("requirements.txt", requirement + "\n")
    cli.write(
        ".github/indexgate.yml",
        _config(private, public, user=None) + "index-strategy: unsafe-best-match\n",
    )

    code, report, _ = _drift()

    assert code == 1
    errors = report["targets"][0]["errors"]
    assert [(e["kind"], e["index"]) for e in errors] == [("shadowed-name", "private")]
    (entry,) = report["targets"][0]["drift"]
    assert entry["shadowed"]["on"][0]["versions"] == ["99.0.0", "98.0.0"]
    # the later index was asked for its page only: never a file (HEAD or GET)
    assert [e.path for e in public.access_log.entries()] == ["/simple/acme-core/"]
    assert private.requests_for("/files/acme_core-1.0")
