"""Credentials from every source reach the private pypiserver and never any output (issue 2)."""

from __future__ import annotations

import base64
import json

import pytest
from check_support import CheckCli, run_subprocess
from support.packages import wheel

PRIVATE = [wheel("acme-core", "1.0", "six>=1"), "six==1.0"]
PUBLIC = ["six==1.0", "six==2.0", "requests==2.0"]
SOURCES = ["config", "indexgate-env", "uv-env", "uv-project", "url", "netrc"]


def _configure(cli: CheckCli, source: str, url: str, user: str, password: str) -> list[str]:
    """Set up ``source`` to carry the private index's credentials; returns CLI args."""
    host_url = url.replace("http://", f"http://{user}:{password}@")
    if source == "config":
        cli.write(
            ".github/indexgate.yml",
            f"indexes:\n  - name: private\n    url: {url}\n"
            "    username: ${NEXUS_USER}\n    password: ${NEXUS_TOKEN}\n",
        )
        cli.monkeypatch.setenv("NEXUS_USER", user)
        cli.monkeypatch.setenv("NEXUS_TOKEN", password)
        return []
    if source == "indexgate-env":
        cli.monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_USERNAME", user)
        cli.monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_PASSWORD", password)
        return ["--index", f"private={url}"]
    if source == "uv-env":
        cli.monkeypatch.setenv("UV_INDEX_PRIVATE_USERNAME", user)
        cli.monkeypatch.setenv("UV_INDEX_PRIVATE_PASSWORD", password)
        return ["--index", f"private={url}"]
    if source == "uv-project":  # [[tool.uv.index]] plus uv's own credential variables
        cli.write(
            "pyproject.toml",
            f'[[tool.uv.index]]\nname = "private"\nurl = "{url}"\n',
        )
        cli.monkeypatch.setenv("UV_INDEX_PRIVATE_USERNAME", user)
        cli.monkeypatch.setenv("UV_INDEX_PRIVATE_PASSWORD", password)
        return []
    if source == "url":
        return ["--index", f"private={host_url}"]
    if source == "netrc":
        netrc = cli.write(".netrc-ci", f"machine 127.0.0.1\nlogin {user}\npassword {password}\n")
        netrc.chmod(0o600)
        cli.monkeypatch.setenv("NETRC", str(netrc))
        return ["--index", f"private={url}"]
    raise AssertionError(source)


@pytest.mark.parametrize("source", SOURCES)
def test_credentials_from_each_source_open_the_private_index(
    cli, private_index, public_index, source
) -> None:
    private, public = private_index(PRIVATE), public_index(PUBLIC)
    user, password = private.credentials
    args = _configure(cli, source, private.url, user, password)
    run = cli.run(
        *args,
        "--default-index",
        public.url,
        "requirements.txt",
        requirements="acme-core\nrequests\n",
        summary=True,
    )
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"acme-core": "1.0", "six": "1.0", "requests": "2.0"}
    assert run.resolved("acme-core")["index"] == "private"
    assert [e.status for e in private.requests_for("/simple/acme-core/")] == [200]
    assert public.requests_for("/simple/acme-core/") == []
    assert run.summary and "acme-core" in run.summary
    assert password not in run.everything()


@pytest.mark.parametrize("source", SOURCES)
def test_a_wrong_password_from_each_source_fails_and_stays_secret(
    cli, private_index, public_index, source
) -> None:
    private, public = private_index(PRIVATE), public_index(PUBLIC)
    wrong = "Wr0ng-S3cret-" + source
    args = _configure(cli, source, private.url, "ci", wrong)
    run = cli.run(
        *args,
        "--default-index",
        public.url,
        "requirements.txt",
        requirements="acme-core\n",
        summary=True,
    )
    assert run.code == 1
    assert [(e["kind"], e["status_code"]) for e in run.errors()] == [("auth-failure", 403)]
    assert public.requests_for("/simple/acme-core/") == []
    assert wrong not in run.everything()
    for fmt in ("json", "markdown"):
        again = cli.run(*args, "--format", fmt, "requirements.txt", requirements="acme-core\n")
        assert again.code == 1
        assert wrong not in again.everything()


def test_credentials_never_appear_in_verbose_logs_or_any_output(
    tmp_path, private_index, public_index
) -> None:
    """A real process with ``-vv``: every log line, report and summary, pass and fail."""
    private, public = private_index(PRIVATE), public_index(PUBLIC)
    user, password = private.credentials
    (tmp_path / "requirements.txt").write_text("acme-core\nrequests\n")
    outputs = []
    for secret in (password, "An0ther-Wr0ng-One"):
        url = private.url.replace("http://", f"http://{user}:{secret}@")
        args = ["check", "-vv", "--index", f"private={url}", "--index", f"public={public.url}"]
        args += ["--report-json", "report.json", "--summary", "summary.md"]
        for fmt in ("text", "json", "markdown"):
            proc = run_subprocess([*args, "--format", fmt], cwd=tmp_path)
            assert proc.returncode == (0 if secret == password else 1), proc.stderr
            assert "Traceback" not in proc.stderr
            outputs.append((secret, proc.stdout + proc.stderr))
            outputs.append((secret, (tmp_path / "report.json").read_text()))
            outputs.append((secret, (tmp_path / "summary.md").read_text()))
    assert any("127.0.0.1" in text for _, text in outputs)  # the logs did name the index
    for secret, text in outputs:
        basic = base64.b64encode(f"{user}:{secret}".encode()).decode()
        assert secret not in text
        assert basic not in text  # nor the Authorization header
        assert f"{user}:" not in text
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["targets"][0]["errors"][0]["kind"] == "auth-failure"


def test_credentials_are_sent_only_to_their_own_index(
    cli, private_index, dev_index, monkeypatch
) -> None:
    private = private_index(PRIVATE)
    public = dev_index(PUBLIC)  # logs request headers
    user, password = private.credentials
    url = private.url.replace("http://", f"http://{user}:{password}@")
    run = cli.run(
        "--index", f"private={url}", "--index", f"public={public.url}", requirements="requests\n"
    )
    assert run.code == 0, run.out + run.err
    seen = public.access_log.entries()
    assert seen, "the public index was asked for requests"
    assert all("authorization" not in e.headers for e in seen)
