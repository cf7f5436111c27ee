"""How a team hands its CA and its proxy to the Action.

The Action's container sees the workspace, not the runner's trust store: the CA goes in as a
file in the workspace (committed to the repository, or written there by an earlier step)
named by ``cert:`` in the config or the ``indexes`` input, or by ``INDEXGATE_CERT`` /
``SSL_CERT_FILE`` in the step's ``env:``; proxy variables set on the job reach the
container's environment. The entrypoint runs here as the runner runs it (a process with
only the step's variables, the workspace as working directory), against an HTTPS index
signed by a private CA and a real forward proxy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from check_support import ACME_VERSIONS
from support.tinyproxy import Tinyproxy
from support.tls import PrivateCa, TlsIndexServer
from test_action import run_action

pytestmark = pytest.mark.integration

PROXY_PASSWORD = "Act10n-Pr0xy-pw"


@pytest.fixture
def workspace(tmp_path: Path, ca: PrivateCa) -> Path:
    """A checked-out repository with its company CA committed under certs/."""
    ws = tmp_path / "workspace"
    (ws / "certs").mkdir(parents=True)
    (ws / "requirements.txt").write_text("acme-app\n")
    shutil.copy(ca.cert, ws / "certs" / "company-ca.pem")
    return ws


def _config(workspace: Path, index: TlsIndexServer, head: str = "") -> None:
    """The workspace's indexgate.yml: ``head``, then the one index."""
    (workspace / "indexgate.yml").write_text(
        f"{head}indexes:\n  - name: internal\n    url: {index.url}\n"
    )


def _passes(run) -> None:  # type: ignore[no-untyped-def]
    assert run.code == 0, run.stdout + run.stderr
    (target,) = run.report()["targets"]
    assert {r["name"]: r["version"] for r in target["resolution"]} == ACME_VERSIONS


def test_without_the_ca_the_action_says_certificate(
    workspace: Path, tls_index: TlsIndexServer
) -> None:
    _config(workspace, tls_index)
    run = run_action(workspace, {})
    assert run.code == 3, run.stdout + run.stderr
    assert "certificate verify failed" in run.summary
    assert "SSL_CERT_FILE" in run.everything_written()


def test_a_committed_bundle_named_by_cert_in_the_config(
    workspace: Path, tls_index: TlsIndexServer
) -> None:
    (workspace / ".github").mkdir()
    (workspace / ".github" / "indexgate.yml").write_text(
        f"indexes:\n  - name: internal\n    url: {tls_index.url}\n    cert: certs/company-ca.pem\n"
    )
    _passes(run_action(workspace, {}))


def test_cert_in_the_indexes_input_is_read_from_the_workspace(
    workspace: Path, tls_index: TlsIndexServer
) -> None:
    """The Action merges the input into a temporary config: relative paths still mean the
    workspace (the working directory), not that temporary folder."""
    indexes = f"- name: internal\n  url: {tls_index.url}\n  cert: certs/company-ca.pem\n"
    _passes(run_action(workspace, {"indexes": indexes}))


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "INDEXGATE_CERT"])
def test_a_bundle_written_by_an_earlier_step_and_named_in_env(
    workspace: Path, tls_index: TlsIndexServer, ca: PrivateCa, variable: str
) -> None:
    (workspace / "ca-from-secret.pem").write_bytes(ca.cert.read_bytes())  # `run: echo ... >`
    _config(workspace, tls_index)
    _passes(run_action(workspace, {}, {variable: "ca-from-secret.pem"}))


def test_proxy_variables_on_the_job_reach_the_container(
    workspace: Path, tls_index: TlsIndexServer, tmp_path: Path
) -> None:
    _config(workspace, tls_index, "cert: certs/company-ca.pem\n")
    with Tinyproxy(tmp_path / "proxy", auth=("egress", PROXY_PASSWORD)) as proxy:
        run = run_action(workspace, {}, {"HTTPS_PROXY": proxy.url, "NO_PROXY": "github.com"})
        _passes(run)
        tunnels = [
            r for r in proxy.requests() if r.startswith(f"CONNECT 127.0.0.1:{tls_index.port}")
        ]
    assert tunnels, "the index was reached through the job's proxy"
    assert PROXY_PASSWORD not in run.everything_written()


def test_the_ca_cert_input_names_a_bundle_in_the_workspace(
    workspace: Path, tls_index: TlsIndexServer
) -> None:
    """`with: ca-cert:` is the Action's spelling of --cert, read from the workspace."""
    _config(workspace, tls_index)
    _passes(run_action(workspace, {"ca-cert": "certs/company-ca.pem"}))


def test_a_missing_ca_cert_is_an_input_error(workspace: Path, tls_index: TlsIndexServer) -> None:
    _config(workspace, tls_index)
    run = run_action(workspace, {"ca-cert": "certs/nope.pem"})
    assert run.code == 2, run.stdout + run.stderr
    assert "nope.pem: no such file" in run.summary


def test_the_proxy_password_is_masked_before_anything_is_printed(
    workspace: Path, tls_index: TlsIndexServer, tmp_path: Path
) -> None:
    _config(workspace, tls_index, "cert: certs/company-ca.pem\n")
    with Tinyproxy(tmp_path / "proxy", auth=("egress", PROXY_PASSWORD)) as proxy:
        run = run_action(workspace, {}, {"https_proxy": proxy.url})
    _passes(run)
    assert f"::add-mask::{PROXY_PASSWORD}" in run.stdout
