"""A small simple-repository server for a folder of wheels and sdists.

It speaks what real indexes speak and what pypiserver does not: PEP 691 JSON (negotiated by
``Accept``), PEP 503 HTML with ``data-requires-python`` / ``data-yanked`` / PEP 714
``data-core-metadata``, PEP 658 ``.metadata`` files, PEP 700 ``upload-time``, byte ranges,
basic auth answered with 401 (or 403, as Artifactory does), and a built-in repository
firewall. ``indexgate demo`` ships it, so it uses nothing but the stdlib and indexgate.
"""

from __future__ import annotations

import hashlib
import html
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from packaging.utils import canonicalize_name

from indexgate.demo._http import BackgroundServer, QuietHandler, basic_credentials
from indexgate.demo.firewall_responses import FirewallRule, coerce_rule, render_rule
from indexgate.demo.wheels import read_core_metadata, requires_python_of
from indexgate.dists.models import parse_filename

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "text/html; charset=utf-8"
_JSON_ACCEPTED = {JSON_TYPE, "application/vnd.pypi.simple.latest+json"}
_HTML_ACCEPTED = {
    "text/html",
    "application/vnd.pypi.simple.v1+html",
    "application/vnd.pypi.simple.latest+html",
    "*/*",
}


@dataclass
class ServerConfig:
    """What the server does besides serving files. Keys of the dicts are filenames."""

    basic_auth: tuple[str, str] | None = None
    forbid_without_auth: bool = False  # 403 instead of 401 + WWW-Authenticate
    yanked: dict[str, str] = field(default_factory=dict)  # filename -> reason ("" = none)
    pep658: bool = True  # offer and serve <file>.metadata for wheels
    json: bool = True  # False: always HTML, whatever Accept says (as some mirrors do)
    firewall: dict[str, FirewallRule | str] = field(default_factory=dict)
    upload_times: dict[str, str] = field(default_factory=dict)  # filename -> ISO 8601
    page_status: dict[str, int] = field(default_factory=dict)  # project -> status of its page
    flaky: dict[str, int] = field(default_factory=dict)  # path -> number of 503s before 200
    # How wrong credentials are answered, as real indexes do (issue 16): "401" (with a
    # challenge), "403", "404" for everything (CodeArtifact, GitLab, Artifactory hiding
    # unauthorized resources), or "login": a 302 to /+login?goto_url=... whose page is
    # 200 HTML with a password form (devpi-lockdown's nginx set-up).
    deny_as: str | None = None
    hidden: set[str] = field(default_factory=set)  # filenames left off the pages (PCCS)
    # A token that expires mid-run: after this many authorized requests the password
    # becomes ``next_password``.
    rotate_after: int | None = None
    next_password: str | None = None


@dataclass(frozen=True)
class _FileInfo:
    path: Path
    sha256: str
    size: int
    requires_python: str | None
    metadata: bytes | None


class _IndexHandler(QuietHandler):
    """Routes: ``/simple/``, ``/simple/<project>/``, ``/files/<file>[.metadata]``."""

    @property
    def owner(self) -> IndexServer:
        return self.server.owner  # type: ignore[no-any-return]

    def do_GET(self) -> None:
        config = self.owner.config
        path = unquote(urlsplit(self.path).path)
        if path == "/+login" and config.deny_as == "login":
            return self.respond(200, _LOGIN_PAGE, {"Content-Type": HTML_TYPE})
        if config.basic_auth and not self.owner.authorized(self.headers.get("Authorization")):
            deny = config.deny_as or ("403" if config.forbid_without_auth else "401")
            if deny == "login":
                goto = quote(self.path, safe="")
                return self.respond(302, b"", {"Location": f"/+login?goto_url={goto}"})
            if deny == "404":
                return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})
            if deny == "403":
                return self.respond(403, b"Forbidden\n", {"Content-Type": "text/plain"})
            challenge = {"WWW-Authenticate": 'Basic realm="indexgate-devserver"'}
            return self.respond(401, b"Unauthorized\n", challenge)
        if self.owner.take_flaky(path):
            return self.respond(503, b"try again\n", {"Content-Type": "text/plain"})
        if path == "/simple/":
            return self.root_page()
        if path.startswith("/simple/"):
            return self.project_page(path.removeprefix("/simple/"))
        if path.startswith("/files/"):
            return self.file(path.removeprefix("/files/"))
        return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})

    do_HEAD = do_GET

    def wants_json(self) -> bool:
        if not self.owner.config.json:
            return False
        json_q = html_q = 0.0
        for item in self.headers.get("Accept", "").split(","):
            media, *params = (part.strip() for part in item.split(";"))
            q = 1.0
            for param in params:
                if param.startswith("q="):
                    try:
                        q = float(param[2:])
                    except ValueError:
                        q = 0.0
            if media.lower() in _JSON_ACCEPTED:
                json_q = max(json_q, q)
            elif media.lower() in _HTML_ACCEPTED:
                html_q = max(html_q, q)
        return json_q > 0 and json_q >= html_q

    def send_page(self, as_json: bool, payload: object, page: str) -> None:
        if as_json:
            body, ctype = json.dumps(payload, indent=1).encode(), JSON_TYPE
        else:
            body, ctype = page.encode(), HTML_TYPE
        self.respond(200, body, {"Content-Type": ctype, "Vary": "Accept"})

    def root_page(self) -> None:
        names = sorted(self.owner.projects())
        links = "".join(f'<a href="{n}/">{n}</a><br/>\n' for n in names)
        self.send_page(
            self.wants_json(),
            {"meta": {"api-version": "1.1"}, "projects": [{"name": n} for n in names]},
            _html_doc("Simple index", links),
        )

    def project_page(self, rest: str) -> None:
        raw = rest.rstrip("/")
        name = canonicalize_name(raw)
        if not raw or "/" in raw:
            return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})
        if raw != name or not rest.endswith("/"):
            return self.respond(301, b"", {"Location": f"/simple/{name}/"})
        status = self.owner.config.page_status.get(name)
        if status is not None:
            return self.respond(status, f"HTTP {status}\n".encode(), {"Content-Type": "text/plain"})
        filenames = self.owner.projects().get(name)
        if not filenames:
            return self.respond(
                404, f"no project {name}\n".encode(), {"Content-Type": "text/plain"}
            )
        files, links = [], []
        for filename in filenames:
            if filename in self.owner.config.hidden:
                continue
            entry, link = self.describe(filename)
            if entry:
                files.append(entry)
                links.append(link)
        shown = [f for f in filenames if f not in self.owner.config.hidden]
        versions = sorted({str(p.version) for f in shown if (p := parse_filename(f))})
        payload = {
            "meta": {"api-version": "1.1"},
            "name": name,
            "files": files,
            "versions": versions,
        }
        self.send_page(self.wants_json(), payload, _html_doc(f"Links for {name}", "".join(links)))

    def describe(self, filename: str) -> tuple[dict[str, object] | None, str]:
        """The PEP 691 file entry and the PEP 503 anchor for one file."""
        info = self.owner.file_info(filename)
        if info is None:
            return None, ""
        config = self.owner.config
        url = f"../../files/{quote(filename)}"
        entry: dict[str, object] = {
            "filename": filename,
            "url": url,
            "hashes": {"sha256": info.sha256},
            "size": info.size,
        }
        attrs = ""
        if info.requires_python:
            entry["requires-python"] = info.requires_python
            attrs += f' data-requires-python="{html.escape(info.requires_python)}"'
        if filename in config.yanked:
            reason = config.yanked[filename]
            entry["yanked"] = reason or True
            attrs += f' data-yanked="{html.escape(reason)}"'
        if config.pep658 and info.metadata is not None:
            digest = hashlib.sha256(info.metadata).hexdigest()
            entry["core-metadata"] = entry["dist-info-metadata"] = {"sha256": digest}
            attrs += f' data-core-metadata="sha256={digest}"'
            attrs += f' data-dist-info-metadata="sha256={digest}"'
        if filename in config.upload_times:
            entry["upload-time"] = config.upload_times[filename]
        link = f'<a href="{url}#sha256={info.sha256}"{attrs}>{html.escape(filename)}</a><br/>\n'
        return entry, link

    def file(self, filename: str) -> None:
        config = self.owner.config
        is_metadata = filename.endswith(".metadata")
        target = filename.removesuffix(".metadata") if is_metadata else filename
        rule = config.firewall.get(target)
        if rule is not None and coerce_rule(rule).blocks(is_metadata):
            blocked = render_rule(coerce_rule(rule), target, self.path)
            return self.respond(
                blocked.status, blocked.body, blocked.headers, reason=blocked.reason_phrase
            )
        info = self.owner.file_info(target)
        if info is None or (is_metadata and (not config.pep658 or info.metadata is None)):
            return self.respond(404, b"Not Found\n", {"Content-Type": "text/plain"})
        if is_metadata:
            assert info.metadata is not None
            return self.respond(200, info.metadata, {"Content-Type": "text/plain"})
        self.send_file(info)

    def send_file(self, info: _FileInfo) -> None:
        data = info.path.read_bytes()
        headers = {"Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
        span = _parse_range(self.headers.get("Range"), len(data))
        if span is None:
            return self.respond(200, data, headers)
        if isinstance(span, str):
            headers["Content-Range"] = f"bytes */{len(data)}"
            return self.respond(416, b"", headers)
        start, end = span
        headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
        self.respond(206, data[start : end + 1], headers)


class IndexServer(BackgroundServer):
    """Serve ``root`` (a folder of dist files) as ``/simple/`` plus ``/files/<filename>``.

    The folder is read on every request, so files added while running are served.
    """

    handler_class = _IndexHandler

    def __init__(self, root: Path, config: ServerConfig | None = None, port: int = 0) -> None:
        super().__init__(port=port)
        self.root = Path(root)
        self.config = config or ServerConfig()
        self._cache: dict[tuple[Path, int, int], _FileInfo] = {}
        self._lock = threading.Lock()
        self._flaky_left = dict(self.config.flaky)
        self._authorized = 0

    def projects(self) -> dict[str, list[str]]:
        """Normalized project name -> sorted filenames."""
        result: dict[str, list[str]] = {}
        for path in sorted(self.root.iterdir()) if self.root.is_dir() else ():
            parsed = parse_filename(path.name) if path.is_file() else None
            if parsed is not None:
                result.setdefault(parsed.name, []).append(path.name)
        return result

    def file_info(self, filename: str) -> _FileInfo | None:
        path = self.root / filename
        if "/" in filename or filename.startswith(".") or not path.is_file():
            return None
        stat = path.stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            data = path.read_bytes()
            metadata = read_core_metadata(path) if filename.endswith(".whl") else None
            cached = _FileInfo(
                path,
                hashlib.sha256(data).hexdigest(),
                len(data),
                requires_python_of(path),
                metadata,
            )
            with self._lock:
                self._cache[key] = cached
        return cached

    def authorized(self, header: str | None) -> bool:
        """Do these Basic credentials pass? Counts toward ``rotate_after``."""
        config = self.config
        given = basic_credentials(header)
        with self._lock:
            if given != tuple(config.basic_auth or ()):
                return False
            if config.rotate_after is not None and config.next_password is not None:
                self._authorized += 1
                if self._authorized >= config.rotate_after:
                    assert config.basic_auth is not None
                    config.basic_auth = (config.basic_auth[0], config.next_password)
                    config.rotate_after = None
            return True

    def take_flaky(self, path: str) -> bool:
        """True while ``path`` still has 503 answers left to give."""
        with self._lock:
            left = self._flaky_left.get(path, 0)
            if left > 0:
                self._flaky_left[path] = left - 1
            return left > 0


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end)`` inclusive, "unsatisfiable", or None for "send everything"."""
    if not header or not header.strip().lower().startswith("bytes="):
        return None
    spec = header.strip()[6:].strip()
    if "," in spec or "-" not in spec:
        return None  # multiple ranges: a full answer is allowed
    first, _, last = (part.strip() for part in spec.partition("-"))
    try:
        if not first:
            length = int(last)
            if length <= 0:
                return "unsatisfiable"
            return (max(size - length, 0), size - 1) if size else "unsatisfiable"
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        return "unsatisfiable"
    return start, min(end, size - 1)


_LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Login</title></head><body>\n"
    b'<form method="post" action="/+login"><input name="username" type="text">\n'
    b'<input name="password" type="password"><button>Log in</button></form>\n'
    b"</body></html>\n"
)


def _html_doc(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.1">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}</body>\n</html>\n"
    )
