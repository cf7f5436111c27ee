"""A repository firewall in front of any index: pass everything, refuse quarantined files.

Nexus Firewall and JFrog Curation/Xray sit in the repository manager, in front of the
storage: the project page still lists a quarantined file, and only the download (or the PEP
658 ``.metadata``) is refused. ``QuarantineProxy`` reproduces that in front of a real index
(pypiserver in the tests), answering in each vendor's exact format.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from indexgate.demo._http import BackgroundServer, QuietHandler
from indexgate.demo.firewall_responses import FirewallRule, coerce_rule, render_rule

# Headers that describe one connection, not the message (RFC 9110 section 7.6.1).
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
_PAGE_TYPES = ("text/html", "json", "text/plain", "xml")
_CHUNK = 64 * 1024

Rules = Mapping[str, FirewallRule | str]


class _ProxyHandler(QuietHandler):
    server_version = "QuarantineProxy/1.0"

    @property
    def proxy(self) -> QuarantineProxy:
        return self.server.owner  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        block = self.proxy.block_for(self.path)
        if block is not None:
            rule, filename = block
            answer = render_rule(rule, filename, self.path)
            return self.respond(answer.status, answer.body, answer.headers, answer.reason_phrase)
        try:
            self.forward(body)
        except (OSError, http.client.HTTPException) as exc:
            message = f"upstream unreachable: {type(exc).__name__}\n".encode()
            self.respond(502, message, {"Content-Type": "text/plain"})

    do_HEAD = do_POST = do_PUT = do_DELETE = do_OPTIONS = do_GET

    def forward(self, body: bytes) -> None:
        proxy = self.proxy
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.pop("Host", None)
        headers["Host"] = f"{proxy.upstream_host}:{proxy.upstream_port}"
        connection = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=30
        )
        try:
            connection.request(
                self.command, proxy.upstream_prefix + self.path, body or None, headers
            )
            upstream = connection.getresponse()
            self.relay(upstream)
        finally:
            connection.close()

    def relay(self, upstream: http.client.HTTPResponse) -> None:
        proxy = self.proxy
        headers = [
            (k, v)
            for k, v in upstream.getheaders()
            if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"
        ]
        headers = [(k, proxy.rewrite(v.encode("latin-1")).decode("latin-1")) for k, v in headers]
        content_type = upstream.getheader("Content-Type", "").lower()
        length = upstream.getheader("Content-Length")
        self.record(upstream.status)  # before the answer: see QuietHandler.respond
        if self.command == "HEAD":
            self.send_head(upstream, headers, length)
        elif length is not None and not any(t in content_type for t in _PAGE_TYPES):
            self.send_head(upstream, headers, length)
            remaining = int(length)
            while remaining > 0:
                chunk = upstream.read(min(_CHUNK, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
        else:
            data = proxy.rewrite(upstream.read())
            self.send_head(upstream, headers, str(len(data)))
            self.wfile.write(data)

    def send_head(
        self, upstream: http.client.HTTPResponse, headers: list[tuple[str, str]], length: str | None
    ) -> None:
        self.send_response(upstream.status, upstream.reason)
        for name, value in headers:
            if name.lower() not in ("server", "date"):
                self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", length)
        self.end_headers()


class QuarantineProxy(BackgroundServer):
    """Reverse proxy to ``upstream_base`` that blocks what ``rules`` names.

    ``rules`` maps a filename (``flask-3.1.0-py3-none-any.whl``) to a ``FirewallRule`` or a
    bare format name (``"nexus"``, ``"nexus-problem"``, ``"curation"``, ``"xray"``,
    ``"plain"``); the rule's ``block`` chooses the file, its ``.metadata``, or both. A key
    that starts with ``/`` matches that exact request path instead (e.g. a project page).
    """

    handler_class = _ProxyHandler

    def __init__(self, upstream_base: str, rules: Rules | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        parts = urlsplit(upstream_base)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream_base!r}")
        prefix = parts.path.rstrip("/")
        self.upstream_prefix = prefix.removesuffix("/simple")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.upstream_origin = f"http://{parts.netloc}"
        self._rules_lock = threading.Lock()
        self._rules: dict[str, FirewallRule] = {}
        self.set_rules(rules or {})

    def set_rules(self, rules: Rules) -> None:
        """Replace every rule at once (safe while requests are being served)."""
        coerced = {key: coerce_rule(rule) for key, rule in rules.items()}
        with self._rules_lock:
            self._rules = coerced

    @property
    def rules(self) -> dict[str, FirewallRule]:
        with self._rules_lock:
            return dict(self._rules)

    def block_for(self, request_path: str) -> tuple[FirewallRule, str] | None:
        """The rule refusing ``request_path`` and the filename it names, if any."""
        path = unquote(urlsplit(request_path).path)
        rules = self.rules
        if path in rules:
            return rules[path], path.rsplit("/", 1)[-1]
        basename = path.rsplit("/", 1)[-1]
        rule = rules.get(basename)
        if rule is not None and rule.blocks(metadata=False):
            return rule, basename
        if basename.endswith(".metadata"):
            target = basename.removesuffix(".metadata")
            rule = rules.get(target)
            if rule is not None and rule.blocks(metadata=True):
                return rule, target
        return None

    def rewrite(self, data: bytes) -> bytes:
        """Make absolute upstream URLs point through the proxy."""
        return data.replace(self.upstream_origin.encode(), self.base_url.encode())
