"""``HttpClient`` over the tests' httpx transport at the ``Transport`` seam
(``support.httpx_transport.HttpxTransport``, made by ``mock_transport.mock_http2`` and fed
by ``httpx.MockTransport``): what reaches the seam, and how a transport's failures read.
httpx is a test dependency only; indexgate's own HTTP/2 client against a real h2 server is
in tests/integration/test_http2_client.py and tests/integration/test_transport_router.py."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import httpx
import pytest
from support.mock_transport import mock_http2

from indexgate.errors import IndexUnreachable
from indexgate.index.http import USER_AGENT, HttpClient


def _client(handler: Any, **kwargs: Any) -> HttpClient:
    h2 = mock_http2(handler)
    return HttpClient(transport=h2, backoff=0.0, **kwargs)


def _run(http: HttpClient, method: str, url: str) -> Any:
    async def go() -> Any:
        try:
            return await http.request(method, url)
        finally:
            await http.aclose()

    return asyncio.run(go())


def test_httpx_gets_the_clients_headers_and_no_userinfo_in_the_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"page")

    answer = _run(_client(handler), "GET", "https://u:s3cret@idx.example/simple/x/")
    assert answer.content == b"page"
    (request,) = seen
    assert request.url.userinfo == b""
    expected = "Basic " + base64.b64encode(b"u:s3cret").decode()
    assert request.headers.get_list("authorization") == [expected]  # once, from HttpClient
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["accept-encoding"] == "gzip, deflate"


def test_a_head_answer_has_no_body() -> None:
    answer = _run(
        _client(lambda r: httpx.Response(200, content=b"x" * 10)), "HEAD", "https://idx.example/f"
    )
    assert (answer.status, answer.content) == (200, b"")


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.WriteTimeout, httpx.ReadTimeout])
def test_httpx_failures_are_retried_and_named_as_httpx_names_them(
    error: type[httpx.TransportError],
) -> None:
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        raise error("failed", request=request)

    with pytest.raises(IndexUnreachable) as info:
        _run(_client(handler, retries=3), "GET", "https://idx.example/simple/x/")
    assert len(calls) == 3
    assert f"after 3 attempts ({error.__name__})" in str(info.value)
