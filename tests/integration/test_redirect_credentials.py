"""Credentials go to the index's own origin only: a redirect to another host drops them."""

from __future__ import annotations

import json
from pathlib import Path

from support.packages import wheel

from indexgate.cli import main
from indexgate.demo._http import BackgroundServer, QuietHandler, basic_credentials

USER, PASSWORD = "ci", "redirect-secret-pw"


class _Redirecting(QuietHandler):
    """A private index whose file links redirect to a CDN on another host (as Artifactory
    does to S3), and whose project URL without the slash redirects on the same host."""

    def do_GET(self) -> None:
        owner = self.server.owner
        if basic_credentials(self.headers.get("Authorization")) != (USER, PASSWORD):
            return self.respond(401, b"", {"WWW-Authenticate": 'Basic realm="x"'})
        if self.path == "/simple/":  # the auth check's page (issue 16)
            return self.respond(200, b'<a href="pkg/">pkg</a>', {"Content-Type": "text/html"})
        if self.path == "/simple/pkg":
            return self.respond(301, b"", {"Location": "/simple/pkg/"})
        if self.path == "/simple/pkg/":
            body = f'<a href="/dl/{owner.filename}">{owner.filename}</a>'.encode()
            return self.respond(200, body, {"Content-Type": "text/html"})
        if self.path.startswith("/dl/"):
            target = f"http://localhost:{owner.cdn_port}/files/{owner.filename}"
            return self.respond(302, b"", {"Location": target})
        return self.respond(404)

    do_HEAD = do_GET


class RedirectingIndex(BackgroundServer):
    handler_class = _Redirecting

    def __init__(self, cdn_port: int, filename: str) -> None:
        super().__init__()
        self.cdn_port = cdn_port
        self.filename = filename


def test_redirect_to_another_host_drops_credentials(dev_index, tmp_path, monkeypatch):
    cdn = dev_index([wheel("pkg", "1.0")], pep658=False)
    with RedirectingIndex(cdn.port, "pkg-1.0-py3-none-any.whl") as private:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_USERNAME", USER)
        monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_PASSWORD", PASSWORD)
        Path("requirements.txt").write_text("pkg\n")
        code = main(["check", "--index", f"private={private.url}", "--report-json", "r.json"])
        report = json.loads(Path("r.json").read_text())
        assert code == 0, report
        assert report["targets"][0]["resolution"][0]["version"] == "1.0"
        assert private.access_log.requests_for("/dl/"), "the file was asked of the index"
    cdn_requests = cdn.access_log.requests_for("/files/pkg-1.0")
    assert cdn_requests, "the redirect was followed to the other host"
    assert all("authorization" not in e.headers for e in cdn_requests)
