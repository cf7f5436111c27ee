"""The benchmark's own parts (benchmarks/run.py, netsim.py): the physical limits it prints,
the environment both tools get, and the latency proxy answering as the static server."""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from netsim import Network
from run import cert_variables, physical_limits


def test_both_physical_limits_of_the_benchmark_index() -> None:
    limits = physical_limits(depth=7, latency_ms=30)
    assert limits == pytest.approx({"cold": 0.42, "warm": 0.21, "warm at once": 0.06})


def test_indexgate_runs_without_the_ca_bundle_variables_uv_never_sees() -> None:
    assert {"SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"} <= set(cert_variables())


def test_the_proxy_answers_as_the_static_server_and_counts_what_crossed(tmp_path: Path) -> None:
    page = tmp_path / "simple" / "lib" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<a href='../../files/lib-1.0-py3-none-any.whl'>lib</a>\n")
    with Network(tmp_path, latency_ms=0) as net:
        conn = http.client.HTTPConnection("127.0.0.1", net.port, timeout=10)
        conn.request("GET", "/simple/lib/")
        first = conn.getresponse()
        body, etag = first.read(), first.getheader("ETag")
        conn.request("GET", "/simple/lib/", headers={"If-None-Match": etag})
        again = conn.getresponse()
        again.read()
        conn.request("HEAD", "/simple/lib/")
        head = conn.getresponse()
        head.read()
        conn.request("GET", "/simple/lib", headers={"Connection": "close"})
        moved = conn.getresponse()
        moved.read()
        conn.close()
        traffic = net.reset()
    assert (first.status, body) == (200, page.read_bytes())
    assert first.getheader("Cache-Control") == "max-age=0, must-revalidate"
    assert again.status == 304
    assert (head.status, head.getheader("Content-Length")) == (200, str(len(body)))
    assert (moved.status, moved.getheader("Location")) == (301, "/simple/lib/")
    assert traffic.requests == 4 and traffic.connections == 1
    assert traffic.bytes == len(body)  # bodies only: the 304, HEAD and 301 carry none
    assert dict(traffic.by_kind) == {"GET 200": 1, "GET 304": 1, "HEAD 200": 1, "GET 301": 1}
