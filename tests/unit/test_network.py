"""The rules of ``indexgate.config.network`` and ``indexgate.index.network``: proxy variables
and NO_PROXY as curl and requests read them, proxy URLs shown redacted, and which CA bundle
wins. The behaviours on the wire are proven against real servers in
tests/integration/test_networks_*.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexgate.config import load_settings
from indexgate.config.network import (
    check_ca_bundle,
    check_client_cert,
    global_cert,
    parse_proxy,
    proxies_from_env,
)
from indexgate.errors import InputError
from indexgate.index.network import TlsContexts, bypasses, proxy_for
from indexgate.redact import redact
from indexgate.settings import CliOptions, Network
from indexgate.sources.model import SourceSet


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "bypassed"),
    [
        ("*", "nexus.corp.example", 443, True),
        ("corp.example", "corp.example", 443, True),
        ("corp.example", "nexus.corp.example", 443, True),
        (".corp.example", "nexus.corp.example", 443, True),
        (".corp.example", "corp.example", 443, True),  # curl: the leading dot is dropped
        ("corp.example", "notcorp.example", 443, False),  # whole labels, not a suffix
        ("corp.example", "corp.example.evil", 443, False),
        ("NEXUS.Corp.Example", "nexus.corp.example", 443, True),
        ("nexus.corp.example:8443", "nexus.corp.example", 8443, True),
        ("nexus.corp.example:8443", "nexus.corp.example", 443, False),
        ("10.1.2.3", "10.1.2.3", 443, True),
        ("10.1.2.3", "10.1.2.4", 443, False),
        ("10.0.0.0/8", "10.200.3.4", 80, True),
        ("10.0.0.0/8", "11.0.0.1", 80, False),
        ("::1", "::1", 443, True),
        ("[::1]:8080", "::1", 8080, True),
        ("fd00::/8", "fd12::5", 443, True),
        ("localhost", "127.0.0.1", 443, False),  # no name lookups: an IP needs an IP rule
        ("", "nexus.corp.example", 443, False),
    ],
)
def test_no_proxy_rules(no_proxy: str, host: str, port: int, bypassed: bool) -> None:
    proxies = proxies_from_env({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": no_proxy})
    assert bypasses(proxies.no_proxy, host, port) is bypassed
    assert (proxy_for(proxies, "https", host, port) is None) is bypassed


def test_no_proxy_lists_take_commas_and_spaces() -> None:
    proxies = proxies_from_env({"no_proxy": " a.example , b.example  c.example,,"})
    assert proxies.no_proxy == ("a.example", "b.example", "c.example")


def test_which_variable_serves_which_scheme() -> None:
    env = {
        "HTTPS_PROXY": "http://upper:1",
        "https_proxy": "http://lower:2",  # the lower-case spelling wins, as in curl/requests
        "ALL_PROXY": "http://every:3",
    }
    proxies = proxies_from_env(env)
    assert proxies.https is not None and proxies.https.host == "lower"
    assert proxies.http is not None and proxies.http.host == "every", "ALL_PROXY for http"
    assert proxy_for(proxies, "file", "x", 0) is None
    assert proxy_for(proxies_from_env({}), "https", "x", 443) is None
    assert proxy_for(proxies_from_env({"HTTP_PROXY": "http://p:1"}), "https", "x", 443) is None


def test_a_proxy_url_is_shown_without_its_credentials() -> None:
    proxy = parse_proxy("http://egress%40corp:p%40ss-w0rd@proxy.corp:3128", "HTTPS_PROXY")
    assert (proxy.host, proxy.port) == ("proxy.corp", 3128)
    assert proxy.display == "http://***@proxy.corp:3128"
    assert "p@ss-w0rd" not in repr(proxy) and "w0rd" not in str(proxy)
    assert proxy.authorization is not None and proxy.authorization.startswith("Basic ")
    assert "p@ss-w0rd" not in redact("the password p@ss-w0rd"), "registered as a secret"


def test_a_proxy_without_scheme_or_port_is_http_on_80() -> None:
    proxy = parse_proxy("proxy.corp", "http_proxy")
    assert (proxy.display, proxy.port, proxy.authorization) == ("http://proxy.corp:80", 80, None)


@pytest.mark.parametrize("value", ["socks5://proxy:1080", "https://proxy:443", "http://:8080"])
def test_unsupported_proxy_urls_are_exit_2_naming_the_variable(value: str) -> None:
    with pytest.raises(InputError, match=r"^HTTPS_PROXY: ") as info:
        proxies_from_env({"HTTPS_PROXY": value})
    assert info.value.exit_code == 2


def test_the_global_bundle_precedence() -> None:
    env = {"INDEXGATE_CERT": "ig.pem", "PIP_CERT": "pip.pem", "REQUESTS_CA_BUNDLE": "rq.pem"}
    assert global_cert("cli.pem", "cfg.pem", env) == ("cli.pem", "--cert")
    assert global_cert(None, "cfg.pem", env) == ("cfg.pem", "the config's cert:")
    assert global_cert(None, None, env) == ("ig.pem", "INDEXGATE_CERT")
    del env["INDEXGATE_CERT"]
    assert global_cert(None, None, env) == ("pip.pem", "PIP_CERT")
    del env["PIP_CERT"]
    assert global_cert(None, None, env) == ("rq.pem", "REQUESTS_CA_BUNDLE")
    assert global_cert(None, None, {}) == (None, None)


def test_bundle_checks_say_what_is_wrong(tmp_path: Path) -> None:
    assert "no such file" in str(check_ca_bundle(str(tmp_path / "none.pem")))
    (tmp_path / "junk.pem").write_text("junk\n")
    assert "not a PEM CA bundle" in str(check_ca_bundle(str(tmp_path / "junk.pem")))
    assert "no such file" in str(check_client_cert(str(tmp_path / "none.pem")))
    assert "private key" in str(check_client_cert(str(tmp_path / "junk.pem")))


def test_a_checked_bundle_is_loaded_once_and_verifies_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking the run's CA bundle loads it into the TLS context the run then uses: one
    load of the certificates per run, not one to check and one to connect."""
    import ssl

    from support.tls import PrivateCa

    ca = PrivateCa(tmp_path / "ca")
    bundle = str(ca.cert)
    loads: list[str] = []
    real = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(str(kwargs.get("cafile") or args[0]))
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    assert check_ca_bundle(bundle) is None
    context = TlsContexts(Network(cert=bundle, cert_origin="--cert")).get(None, None)
    assert loads == [bundle]
    assert [c["subject"] for c in context.get_ca_certs()] == [
        c["subject"] for c in ssl.create_default_context(cafile=bundle).get_ca_certs()
    ]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    # A second run in the same process checks (and loads) again: nothing stale is reused.
    assert TlsContexts(Network(cert=bundle, cert_origin="--cert")).get(None, None) is not context


def _settings(tmp_path: Path, config: str, **env: str):  # type: ignore[no-untyped-def]
    (tmp_path / "indexgate.yml").write_text(config)
    return load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env=env)


def test_config_cert_keys_are_read_relative_to_the_working_directory(tmp_path: Path) -> None:
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if not bundle.is_file():
        pytest.skip("no Debian CA bundle to copy")
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.pem").write_bytes(bundle.read_bytes())
    settings = _settings(
        tmp_path,
        "cert: certs/ca.pem\n"
        "indexes:\n  - name: internal\n    url: https://nexus.example/simple/\n"
        "    cert: certs/ca.pem\n",
    )
    assert settings.indexes[0].cert == str(tmp_path / "certs" / "ca.pem")
    assert settings.cert == str(tmp_path / "certs" / "ca.pem")
    assert settings.network.cert_origin == "the config's cert:"


def test_a_bad_global_cert_in_the_config_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        _settings(
            tmp_path,
            "indexes:\n  - url: https://nexus.example/simple/\ncert: nowhere.pem\n",
        )
    assert (info.value.file, info.value.line) == ("indexgate.yml", 3)
    assert "nowhere.pem: no such file" in info.value.problem


def test_unknown_keys_still_fail_and_cert_keys_are_known(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown key 'certs'"):
        _settings(tmp_path, "indexes:\n  - url: https://x.example/simple/\n    certs: a\n")


def test_proxy_variables_reach_the_settings(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path,
        "indexes:\n  - url: https://x.example/simple/\n",
        HTTPS_PROXY="http://u:pw-123@proxy.corp:3128",
        NO_PROXY=".corp",
    )
    assert settings.network.proxies.https is not None
    assert settings.network.proxies.https.display == "http://***@proxy.corp:3128"
    assert settings.network.proxies.no_proxy == (".corp",)


def test_certifi_only_when_the_system_store_cannot_be_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import certifi

    empty = tmp_path / "empty-store"
    empty.mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-bundle.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(empty))
    contexts = TlsContexts(Network())
    context = contexts.get(None, None)
    assert contexts.describe(None, None).startswith(f"certifi's bundle {certifi.where()}")
    assert context.get_ca_certs(), "certifi's certificates were loaded"
    assert contexts.get(None, None) is context, "one context per (CA, client certificate)"

    bundle = tmp_path / "system.pem"
    bundle.write_bytes(Path(certifi.where()).read_bytes())
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    contexts = TlsContexts(Network())
    contexts.get(None, None)
    assert contexts.describe(None, None) == f"the system trust store ({bundle})"
