"""Company networks, proxies: a real forward proxy (tinyproxy) started by the tests.

HTTPS indexes are reached through a CONNECT tunnel (TLS to the index inside it), plain
http ones by absolute-form requests to the proxy; proxy basic auth comes from the proxy
URL; a 407 and a dead proxy are exit 3 naming the proxy (credentials redacted), never a
silent direct connection; ``NO_PROXY`` bypasses it; the HTTP/2 path goes through it too.
No credential appears in any output, ``-vv`` logs included. The CA, the HTTPS index it
signed and the plain proxy are the fixtures of conftest.py.
"""

from __future__ import annotations

import asyncio
import base64
import socketserver
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from check_support import CheckCli, Run, assert_acme_resolved, run_subprocess
from support.tinyproxy import Tinyproxy, free_port
from support.tls import H2Front, PrivateCa, TlsIndexServer

from indexgate.config.network import proxies_from_env
from indexgate.demo import IndexServer, ServerConfig
from indexgate.errors import IndexUnreachable
from indexgate.index.http import HttpClient
from indexgate.settings import Network

PROXY_USER, PROXY_PASSWORD = "egress", "Pr0xy-S3cret-pw"
INDEX_USER, INDEX_PASSWORD = "ci", "Ind3x-S3cret-pw"


@pytest.fixture
def auth_proxy(tmp_path: Path) -> Iterator[Tinyproxy]:
    with Tinyproxy(tmp_path / "auth-proxy", auth=(PROXY_USER, PROXY_PASSWORD)) as running:
        yield running


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> CheckCli:
    """conftest.py's, in a folder of its own: the proxies keep their files beside it."""
    (tmp_path / "project").mkdir()
    return CheckCli(tmp_path / "project", monkeypatch, capsys)


def _https_check(
    cli: CheckCli, ca: PrivateCa, index: TlsIndexServer, env: dict[str, str], summary: bool = False
) -> Run:
    """``indexgate check`` of acme-app on the HTTPS index, trusting the CA, with ``env``."""
    return cli.run(
        "--cert",
        str(ca.cert),
        "--index",
        index.url,
        env=env,
        requirements="acme-app\n",
        summary=summary,
    )


def _tunnels(proxy: Tinyproxy, port: int) -> list[str]:
    return [r for r in proxy.requests() if r.startswith(f"CONNECT 127.0.0.1:{port} ")]


def _no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text
    for user, password in ((PROXY_USER, PROXY_PASSWORD), (INDEX_USER, INDEX_PASSWORD)):
        assert base64.b64encode(f"{user}:{password}".encode()).decode() not in text
        assert f"{user}:{password}" not in text


# --- HTTPS through a CONNECT tunnel ---------------------------------------------------------


def test_an_https_index_through_the_proxy(
    cli: CheckCli, tls_index: TlsIndexServer, proxy: Tinyproxy, ca: PrivateCa
) -> None:
    env = {"HTTPS_PROXY": proxy.url}
    run = _https_check(cli, ca, tls_index, env)
    assert_acme_resolved(run)
    assert _tunnels(proxy, tls_index.port), proxy.requests()
    assert not any(r.startswith("GET") for r in proxy.requests()), "https never in the clear"


def test_lower_case_https_proxy_and_all_proxy(
    cli: CheckCli, tls_index: TlsIndexServer, proxy: Tinyproxy, ca: PrivateCa
) -> None:
    for variable in ("https_proxy", "ALL_PROXY"):
        env = {variable: proxy.url}
        run = _https_check(cli, ca, tls_index, env)
        assert_acme_resolved(run)
        cli.monkeypatch.delenv(variable)
    assert len(_tunnels(proxy, tls_index.port)) >= 2


def test_basic_auth_from_the_proxy_url(
    cli: CheckCli, tls_index: TlsIndexServer, auth_proxy: Tinyproxy, ca: PrivateCa
) -> None:
    env = {"HTTPS_PROXY": auth_proxy.url}
    run = _https_check(cli, ca, tls_index, env, summary=True)
    assert_acme_resolved(run)
    assert _tunnels(auth_proxy, tls_index.port)
    _no_secret(run.everything(), PROXY_PASSWORD)


def test_refused_proxy_credentials_name_the_proxy_are_exit_3_and_not_retried(
    cli: CheckCli, tls_index: TlsIndexServer, auth_proxy: Tinyproxy, ca: PrivateCa
) -> None:
    wrong = "Wr0ng-Pr0xy-pw"
    env = {"HTTPS_PROXY": auth_proxy.with_credentials(PROXY_USER, wrong)}
    run = _https_check(cli, ca, tls_index, env, summary=True)
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    message = error["message"]
    assert f"proxy http://***@127.0.0.1:{auth_proxy.port} refused the credentials" in message
    assert "HTTPS_PROXY" in message
    assert "(401 Unauthorized)" in message, "tinyproxy refuses wrong credentials with a 401"
    assert len(_tunnels(auth_proxy, tls_index.port)) == 1, "a refusal is not retried"
    assert tls_index.tcp_connections == 0, "no direct connection instead"
    _no_secret(run.everything(), wrong, PROXY_PASSWORD)
    assert PROXY_USER not in message


def test_a_proxy_that_wants_credentials_says_where_to_put_them(
    cli: CheckCli, tls_index: TlsIndexServer, auth_proxy: Tinyproxy, ca: PrivateCa
) -> None:
    env = {"https_proxy": f"http://127.0.0.1:{auth_proxy.port}"}
    run = _https_check(cli, ca, tls_index, env)
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert f"proxy http://127.0.0.1:{auth_proxy.port} requires credentials" in error["message"]
    assert "the user and password of the proxy URL in https_proxy" in error["message"]


def test_a_dead_proxy_is_exit_3_naming_it_never_a_direct_connection(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    port = free_port()  # nothing listens there
    env = {"HTTPS_PROXY": f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{port}"}
    run = _https_check(cli, ca, tls_index, env, summary=True)
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert (
        f"proxy http://***@127.0.0.1:{port} (from HTTPS_PROXY) could not be reached"
        in (error["message"])
    )
    assert tls_index.tcp_connections == 0, "never a silent direct connection"
    _no_secret(run.everything(), PROXY_PASSWORD)


def test_a_proxy_refusing_the_tunnel_by_policy_is_exit_3_and_not_retried(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa, tmp_path: Path
) -> None:
    with Tinyproxy(tmp_path / "strict-proxy", extra=("ConnectPort 443",)) as strict:
        env = {"HTTPS_PROXY": strict.url}
        run = _https_check(cli, ca, tls_index, env)
        tunnels = _tunnels(strict, tls_index.port)
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert (
        f"proxy http://127.0.0.1:{strict.port} (from HTTPS_PROXY) refused the tunnel"
        in (error["message"])
    )
    assert "403" in error["message"]
    assert len(tunnels) == 1, "a refusal by the proxy's policy is not retried"
    assert tls_index.tcp_connections == 0


def test_no_proxy_bypasses_the_proxy(
    cli: CheckCli, tls_index: TlsIndexServer, ca: PrivateCa
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for rule in ("127.0.0.1", "127.0.0.0/8", f"127.0.0.1:{tls_index.port}", "*"):
        env = {"HTTPS_PROXY": dead, "NO_PROXY": f"internal.example.com, {rule}"}
        run = _https_check(cli, ca, tls_index, env)
        assert_acme_resolved(run)
    # A rule for another port does not match: the (dead) proxy is used, and named.
    env = {"HTTPS_PROXY": dead, "NO_PROXY": "127.0.0.1:1"}
    run = _https_check(cli, ca, tls_index, env)
    assert run.code == 3 and "could not be reached" in run.errors()[0]["message"]


# --- plain http: absolute-form requests ------------------------------------------------------


def test_an_http_index_through_the_proxy_with_index_credentials(
    cli: CheckCli, acme_folder: Path, auth_proxy: Tinyproxy
) -> None:
    config = ServerConfig(basic_auth=(INDEX_USER, INDEX_PASSWORD))
    with IndexServer(acme_folder, config) as index:
        port = index.port
        env = {
            "HTTP_PROXY": auth_proxy.url,
            "INDEXGATE_INDEX_INTERNAL_USERNAME": INDEX_USER,
            "INDEXGATE_INDEX_INTERNAL_PASSWORD": INDEX_PASSWORD,
        }
        run = cli.run("--index", f"internal={index.url}", env=env, requirements="acme-app\n")
        assert_acme_resolved(run)
        assert index.access_log.entries(), "the index answered (through the proxy)"
    assert any(
        r.startswith(f"GET http://127.0.0.1:{port}/simple/acme-app/") for r in auth_proxy.requests()
    ), auth_proxy.requests()
    _no_secret(run.everything(), PROXY_PASSWORD, INDEX_PASSWORD)


def test_an_http_index_behind_a_proxy_that_answers_407(
    cli: CheckCli, acme_folder: Path, auth_proxy: Tinyproxy
) -> None:
    with IndexServer(acme_folder) as index:
        env = {"http_proxy": f"http://127.0.0.1:{auth_proxy.port}"}
        run = cli.run("--index", f"internal={index.url}", env=env, requirements="acme-app\n")
        assert index.access_log.entries() == []
    assert run.code == 3, run.everything()
    (error,) = run.errors("index-unreachable")
    assert "requires credentials (407 Proxy Authentication Required)" in error["message"]
    requests = auth_proxy.requests()
    assert len(requests) == 1 and requests[0].startswith("GET http://"), "a 407 is not retried"


def test_an_https_only_proxy_setting_leaves_http_direct(
    cli: CheckCli, acme_folder: Path, proxy: Tinyproxy
) -> None:
    with IndexServer(acme_folder) as index:
        env = {"HTTPS_PROXY": proxy.url}
        assert_acme_resolved(cli.run("--index", index.url, env=env, requirements="acme-app\n"))
    assert proxy.requests() == []


# --- HTTP/2 through the same proxy -----------------------------------------------------------


def test_http2_through_the_same_proxy(
    cli: CheckCli, acme_folder: Path, auth_proxy: Tinyproxy, ca: PrivateCa
) -> None:
    with (
        IndexServer(acme_folder) as backend,
        H2Front(backend.base_url, ca.server_context(alpn=["h2"])) as h2,
    ):
        env = {"HTTPS_PROXY": auth_proxy.url}
        url = f"{h2.base_url}/simple/"
        run = cli.run("--cert", str(ca.cert), "--index", url, env=env, requirements="acme-app\n")
        assert_acme_resolved(run)
        assert any(p.startswith("/simple/acme-app/") for p in h2.paths), h2.paths
    # The first tunnel found out the server speaks h2; httpx then opened its own tunnel.
    assert len(_tunnels(auth_proxy, h2.port)) >= 2, auth_proxy.requests()
    _no_secret(run.everything(), PROXY_PASSWORD)


# --- no credential in any output, -vv logs included (a real process) --------------------------


def test_no_credential_in_any_output_or_verbose_log(
    tmp_path: Path, acme_folder: Path, auth_proxy: Tinyproxy, ca: PrivateCa
) -> None:
    client = ca.issue("ci-runner", client=True)
    context = ca.server_context(client_ca=ca.cert)
    project = tmp_path / "project"
    project.mkdir()
    (project / "requirements.txt").write_text("acme-app\n")
    config = ServerConfig(basic_auth=(INDEX_USER, INDEX_PASSWORD))
    outputs: list[str] = []
    with TlsIndexServer(acme_folder, context, config) as index:
        port = index.port
        (project / "indexgate.yml").write_text(
            "indexes:\n  - name: internal\n"
            f"    url: {index.url}\n    username: ${{INDEX_USER}}\n    password: ${{INDEX_PW}}\n"
            f"    cert: {ca.cert}\n    client-cert: {client.combined}\n"
        )
        for password, code in ((PROXY_PASSWORD, 0), ("Wr0ng-Pr0xy-pw", 3)):
            env = {
                "HTTPS_PROXY": auth_proxy.with_credentials(PROXY_USER, password),
                "INDEX_USER": INDEX_USER,
                "INDEX_PW": INDEX_PASSWORD,
            }
            for fmt in ("text", "json", "markdown"):
                args = ["check", "-vv", "--format", fmt, "--cache-dir", "cache"]
                args += ["--report-json", "report.json", "--summary", "summary.md"]
                proc = run_subprocess(args, cwd=project, env=env)
                assert proc.returncode == code, proc.stderr[-3000:]
                assert "Traceback" not in proc.stderr
                outputs += [proc.stdout, proc.stderr]
                outputs.append((project / "report.json").read_text())
                outputs.append((project / "summary.md").read_text())
            cached = [p.read_bytes() for p in (project / "cache").rglob("*") if p.is_file()]
            outputs += [b.decode("latin-1") for b in cached]
    # The HTTP/2 path (httpx and httpcore log at -vv) through the same proxy.
    with (
        IndexServer(acme_folder, config) as backend,
        H2Front(backend.base_url, ca.server_context(alpn=["h2"])) as h2,
    ):
        (project / "indexgate.yml").write_text(
            f"indexes:\n  - name: internal\n    url: {h2.base_url}/simple/\n"
            f"    username: ${{INDEX_USER}}\n    password: ${{INDEX_PW}}\n    cert: {ca.cert}\n"
        )
        env = {
            "HTTPS_PROXY": auth_proxy.url,
            "INDEX_USER": INDEX_USER,
            "INDEX_PW": INDEX_PASSWORD,
        }
        proc = run_subprocess(["check", "-vv", "--cache-dir", "cache"], cwd=project, env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
        outputs += [proc.stdout, proc.stderr]
        assert "speaks HTTP/2" in proc.stderr
    text = "\n".join(outputs)
    assert f"127.0.0.1:{port}" in text, "the logs did name the index"
    assert "refused the credentials" in text
    _no_secret(text, PROXY_PASSWORD, INDEX_PASSWORD, "Wr0ng-Pr0xy-pw")
    for line in client.key_lines():
        assert line not in text, "the client key's contents leaked"


# --- proxies that misbehave (a scripted one: tinyproxy cannot be made to) --------------------


class _ScriptedProxy(socketserver.ThreadingTCPServer):
    """Answers every CONNECT with ``answer`` (or closes at once when it is empty)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.connections = 0
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                server.connections += 1
                self.request.recv(65536)
                if server.answer:
                    self.request.sendall(server.answer)

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
        self.server_close()


def _through(proxy_url: str, url: str) -> str:
    async def go() -> str:
        network = Network(proxies=proxies_from_env({"HTTPS_PROXY": proxy_url}))
        http = HttpClient(network=network, backoff=0.0)
        try:
            await http.request("GET", url)
        except IndexUnreachable as exc:
            return str(exc)
        finally:
            await http.aclose()
        raise AssertionError("the request went through")

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("answer", "said", "attempts"),
    [
        (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", "(502 Bad Gateway)", 3),
        (b"", "closed the connection before answering", 3),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not HTTP", 3),
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "refused the tunnel", 1),
    ],
    ids=["502", "closed", "not-http", "403"],
)
def test_a_misbehaving_proxy_is_named(answer: bytes, said: str, attempts: int) -> None:
    with _ScriptedProxy(answer) as proxy:
        port = proxy.server_address[1]
        message = _through(f"http://u:Scr1pted-pw@127.0.0.1:{port}", "https://index.test/simple/")
        assert proxy.connections == attempts, "5xx and broken answers are retried, 4xx not"
    assert f"proxy http://***@127.0.0.1:{port}" in message and said in message, message
    assert "Scr1pted-pw" not in message
