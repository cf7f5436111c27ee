"""Company networks, trust: an HTTPS index signed by a private CA the tests generate.

It fails with the certificate message by default (the system trust store does not know the
CA), and passes when the CA is given the ways a company hands it out: ``cert:`` on the
index, ``--cert`` / ``cert:`` / ``INDEXGATE_CERT``, ``PIP_CERT`` / ``REQUESTS_CA_BUNDLE``,
``SSL_CERT_FILE``, or added to a system-store stand-in (``SSL_CERT_DIR``, a hashed folder).
An index that requires a client certificate (mutual TLS) gets one with ``client-cert:``.
The CA, the index it signed and the CLI are the fixtures of conftest.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from check_support import CheckCli, Run, assert_acme_resolved, run_subprocess
from support.tls import PrivateCa, TlsIndexServer

from indexgate.demo import IndexServer

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # Debian's; never holds the test CA


def _internal(url: str, **fields: object) -> str:
    """A config of one index, ``internal`` at ``url``, with ``fields`` as its keys in the
    order given (``client_cert`` is ``client-cert:``)."""
    keys = "".join(f"    {key.replace('_', '-')}: {value}\n" for key, value in fields.items())
    return f"indexes:\n  - name: internal\n    url: {url}\n{keys}"


def _certificate_failure(run: Run) -> str:
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    return str(error["message"])


# --- by default: the system trust store, which does not know the private CA --------------


def test_a_private_ca_fails_by_default_saying_certificate_and_what_to_set(
    cli: CheckCli, tls_index: TlsIndexServer
) -> None:
    run = cli.run("--index", f"internal={tls_index.url}", requirements="acme-app\n")
    message = _certificate_failure(run)
    assert run.errors()[0]["index"] == "internal", "the error names the index"
    assert tls_index.url.rstrip("/") in message, "and its URL"
    assert "certificate verify failed: unable to get local issuer certificate" in message
    assert "system trust store" in message, "it says what it verified against"
    for advice in ("SSL_CERT_FILE", "cert:", "--cert"):
        assert advice in message, advice
    assert tls_index.tcp_connections == 1, "a certificate failure is not retried"
    assert tls_index.access_log.entries() == [], "no request went out over an unverified TLS"
    assert "certificate verify failed" in run.out, "the text report says it too"


def test_verbose_shows_the_chain_of_causes(tmp_path: Path, tls_index: TlsIndexServer) -> None:
    (tmp_path / "requirements.txt").write_text("acme-app\n")
    args = ["check", "-v", "--index", f"internal={tls_index.url}", "--cache-dir", "cache"]
    proc = run_subprocess(args, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "caused by CertificateError" in proc.stderr, proc.stderr
    assert "caused by SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED]" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_tls_handshake_failure_is_exit_3_and_says_why(cli: CheckCli, acme_folder: Path) -> None:
    """A plain-http index asked with https: OpenSSL's reason, and a hint."""
    with IndexServer(acme_folder) as plain:
        url = plain.url.replace("http://", "https://")
        run = cli.run("--index", f"internal={url}", requirements="acme-app\n")
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert "TLS handshake" in error["message"], error["message"]
    assert "WRONG_VERSION_NUMBER" in error["message"]
    assert "is the URL http://" in error["message"]


# --- the ways to hand the CA over -------------------------------------------------------------


def test_cert_on_the_index_in_the_config(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    shutil.copy(ca.cert, cli.root / "company-ca.pem")
    config = _internal(tls_index.url, cert="company-ca.pem")
    assert_acme_resolved(cli.run(config=config, requirements="acme-app\n"))


def test_the_index_cert_wins_over_the_global_one(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    config = _internal(tls_index.url, cert=ca.cert)
    run = cli.run("--cert", SYSTEM_BUNDLE, config=config, requirements="acme-app\n")
    assert_acme_resolved(run)


@pytest.mark.parametrize("how", ["--cert", "config cert:", "INDEXGATE_CERT"])
def test_a_global_cert(cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa, how: str) -> None:
    shutil.copy(ca.cert, cli.root / "company-ca.pem")
    args: list[str] = []
    env: dict[str, str] = {}
    config = _internal(tls_index.url)
    if how == "--cert":
        args = ["--cert", "company-ca.pem"]  # relative to the working directory
    elif how == "config cert:":
        config = "cert: company-ca.pem\n" + config
    else:
        env = {"INDEXGATE_CERT": str(ca.cert)}
    assert_acme_resolved(cli.run(*args, config=config, env=env, requirements="acme-app\n"))


def test_the_cli_cert_wins_over_the_environment(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    env = {"INDEXGATE_CERT": SYSTEM_BUNDLE}
    run = cli.run(
        "--cert", str(ca.cert), "--index", tls_index.url, env=env, requirements="acme-app\n"
    )
    assert_acme_resolved(run)
    run = cli.run("--index", tls_index.url, env=env, requirements="acme-app\n")
    assert f"{SYSTEM_BUNDLE} (from INDEXGATE_CERT)" in _certificate_failure(run)


def test_pip_cert_wins_over_requests_ca_bundle(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    """As in pip: its own setting (PIP_CERT, i.e. --cert) beats the requests variable."""
    good = {"PIP_CERT": str(ca.cert), "REQUESTS_CA_BUNDLE": SYSTEM_BUNDLE}
    assert_acme_resolved(cli.run("--index", tls_index.url, env=good, requirements="acme-app\n"))
    bad = {"PIP_CERT": SYSTEM_BUNDLE, "REQUESTS_CA_BUNDLE": str(ca.cert)}
    run = cli.run("--index", tls_index.url, env=bad, requirements="acme-app\n")
    assert "(from PIP_CERT)" in _certificate_failure(run)


def test_requests_ca_bundle_alone(cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa) -> None:
    env = {"REQUESTS_CA_BUNDLE": str(ca.cert)}
    assert_acme_resolved(cli.run("--index", tls_index.url, env=env, requirements="acme-app\n"))


def test_ssl_cert_file(cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa) -> None:
    env = {"SSL_CERT_FILE": str(ca.cert)}
    assert_acme_resolved(cli.run("--index", tls_index.url, env=env, requirements="acme-app\n"))


def test_the_ca_added_to_a_system_store_stand_in(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa, tmp_path: Path
) -> None:
    """A hashed certificate folder, as update-ca-certificates leaves /etc/ssl/certs: the
    system store is read through OpenSSL's default paths, so SSL_CERT_DIR points it here."""
    store = tmp_path / "system-store"
    store.mkdir()
    shutil.copy(ca.cert, store / f"{ca.subject_hash()}.0")
    env = {"SSL_CERT_DIR": str(store), "SSL_CERT_FILE": str(tmp_path / "empty.pem")}
    (tmp_path / "empty.pem").write_text("")
    assert_acme_resolved(cli.run("--index", tls_index.url, env=env, requirements="acme-app\n"))
    # The same store without the CA: the failure names the store it read.
    (store / f"{ca.subject_hash()}.0").unlink()
    shutil.copy(SYSTEM_BUNDLE, store / "00000000.0")
    run = cli.run("--index", tls_index.url, env=env, requirements="acme-app\n")
    assert str(store) in _certificate_failure(run)


# --- bad certificate settings are exit 2, naming where --------------------------------------


def test_a_missing_index_cert_is_exit_2_naming_file_and_line(
    cli: CheckCli, tls_index: TlsIndexServer
) -> None:
    config = (
        "index-strategy: first-index\n"
        "indexes:\n"
        "  - name: internal\n"
        f"    url: {tls_index.url}\n"
        "    cert: certs/missing-ca.pem\n"
    )
    run = cli.run(config=config, requirements="acme-app\n")
    assert run.code == 2, run.everything()
    assert ".github/indexgate.yml:5: cert:" in run.err, run.err
    assert "certs/missing-ca.pem: no such file" in run.err
    assert "Traceback" not in run.err


def test_a_file_that_is_not_a_bundle_is_exit_2(cli: CheckCli, tls_index: TlsIndexServer) -> None:
    cli.write("not-a-ca.pem", "hello\n")
    run = cli.run("--cert", "not-a-ca.pem", "--index", tls_index.url, requirements="acme-app\n")
    assert run.code == 2, run.everything()
    assert "--cert:" in run.err and "not-a-ca.pem" in run.err, run.err


def test_a_missing_ssl_cert_file_is_exit_2(cli: CheckCli, tls_index: TlsIndexServer) -> None:
    env = {"SSL_CERT_FILE": str(cli.root / "nowhere.pem")}
    run = cli.run("--index", tls_index.url, env=env, requirements="acme-app\n")
    assert run.code == 2, run.everything()
    assert "SSL_CERT_FILE=" in run.err and "no such file" in run.err


# --- mutual TLS -----------------------------------------------------------------------------


@pytest.fixture(params=["tls1.3", "tls1.2"])
def mtls_index(
    request: pytest.FixtureRequest, ca: PrivateCa, acme_folder: Path
) -> Iterator[TlsIndexServer]:
    """An index that requires a client certificate the private CA signed. TLS 1.3 refuses
    a missing one after the handshake (an alert on the first read), TLS 1.2 during it."""
    context = ca.server_context(client_ca=ca.cert, tls12=request.param == "tls1.2")
    with TlsIndexServer(acme_folder, context) as server:
        yield server


def test_an_index_requiring_a_client_certificate(
    cli: CheckCli, mtls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    client = ca.issue("ci-runner", client=True)
    config = _internal(mtls_index.url, cert=ca.cert, client_cert=client.combined)
    run = cli.run("-vv", config=config, requirements="acme-app\n", summary=True)
    assert_acme_resolved(run)
    for line in client.key_lines():
        assert line not in run.everything(), "the client key's contents leaked"


def test_without_the_client_certificate_it_says_what_to_give(
    cli: CheckCli, mtls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    config = _internal(mtls_index.url, cert=ca.cert)
    run = cli.run(config=config, requirements="acme-app\n")
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert "client-cert:" in error["message"], error["message"]
    assert "ALERT" in error["message"]
    assert mtls_index.tcp_connections == 1, "a refused handshake is not retried"


def test_a_client_certificate_of_another_ca_is_refused_by_name(
    cli: CheckCli, mtls_index: TlsIndexServer, ca: PrivateCa, tmp_path: Path
) -> None:
    stranger = PrivateCa(tmp_path / "other-ca").issue("stranger", client=True)
    config = _internal(mtls_index.url, cert=ca.cert, client_cert=stranger.combined)
    run = cli.run(config=config, requirements="acme-app\n")
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert "refused the client certificate" in error["message"], error["message"]


def test_a_client_cert_without_its_key_is_exit_2(
    cli: CheckCli, mtls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    client = ca.issue("no-key", client=True)
    config = _internal(mtls_index.url, client_cert=client.cert)
    run = cli.run(config=config, requirements="acme-app\n")
    assert run.code == 2, run.everything()
    assert ".github/indexgate.yml:4: client-cert:" in run.err, run.err
    assert "private key" in run.err
