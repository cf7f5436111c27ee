"""Real pypiserver processes on 127.0.0.1, with an access log the tests can assert on.

pypiserver 2.4.2 serves PEP 503 HTML only (no PEP 691 JSON, no PEP 658 ``.metadata``, no
``data-requires-python`` / yanked), ``#sha256=`` fragments, file links as ``/packages/<file>``
(absolute paths), byte ranges (bottle's ``static_file``), ``/health`` without auth. With
``-P htpasswd -a download,list,update`` it answers 401 without credentials and 403 with wrong
ones. Each request is logged (``-v``) once before it is handled (the ``--log-req-frmt`` line)
and once after (wsgiref's access line, which has the status); pairing them by thread gives
an access log in which a request is visible before its client could have seen the answer.
"""

from __future__ import annotations

import http.client
import re
import socket
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from indexgate.demo import AccessLogEntry

LAUNCHER = Path(__file__).with_name("pypiserver_launcher.py")
_REQ = re.compile(r"^(?P<thread>\d+)\|pypiserver\._app\|IGREQ (?P<method>\S+) (?P<path>.*)$")
_ACCESS = re.compile(
    r"^(?P<thread>\d+)\|pypiserver\.main\|.*?"
    r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3})'
)


@dataclass
class PypiServer:
    """A running pypiserver; ``url`` is its simple index (``http://127.0.0.1:<port>/simple/``)."""

    packages_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    log_file: Path
    output_file: Path
    credentials: tuple[str, str] | None = None
    shared: bool = False  # handed to several tests: do not add packages to it
    _log_offset: int = field(default=0, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/simple/"

    def url_with_credentials(self) -> str:
        if self.credentials is None:
            return self.url
        user, password = self.credentials
        return f"http://{user}:{password}@127.0.0.1:{self.port}/simple/"

    def file_url(self, filename: str) -> str:
        return f"{self.base_url}/packages/{filename}"

    def mark_log(self) -> None:
        """Start the access log afresh (earlier requests are no longer reported)."""
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0

    def access_log(self, settle: float = 1.0) -> list[AccessLogEntry]:
        """Requests since ``mark_log``; waits up to ``settle`` s for statuses still in flight.

        A request whose status is not logged yet has status 0.
        """
        deadline = time.monotonic() + settle
        while True:
            entries = self._read_log()
            if all(e.status for e in entries) or time.monotonic() >= deadline:
                return entries
            time.sleep(0.02)

    def requests_for(self, path_prefix: str) -> list[AccessLogEntry]:
        """E.g. ``requests_for("/simple/flask/")``: what this server was asked for it."""
        return [e for e in self.access_log() if e.path.startswith(path_prefix)]

    def _read_log(self) -> list[AccessLogEntry]:
        try:
            with open(self.log_file, "rb") as handle:
                handle.seek(self._log_offset)
                text = handle.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return []
        entries: list[AccessLogEntry] = []
        pending: dict[str, int] = {}
        for line in text.splitlines():
            # The start-up probe's ``/health`` line can be written after ``mark_log`` (the
            # server logs once the answer is sent): it is the harness's, never a test's.
            if " /health" in line:
                continue
            if match := _REQ.match(line):
                pending[match["thread"]] = len(entries)
                entries.append(AccessLogEntry(match["method"], match["path"], 0, {}))
            elif match := _ACCESS.match(line):
                index = pending.pop(match["thread"], None)
                if index is None:  # never reached the app (e.g. a malformed request line)
                    entries.append(
                        AccessLogEntry(match["method"], match["path"], int(match["status"]), {})
                    )
                else:
                    entries[index] = entries[index]._replace(
                        status=int(match["status"]), path=match["path"]
                    )
        return entries

    def add(self, built_file: Path) -> Path:
        """Serve one more file (pypiserver rescans its folder on every request)."""
        if self.shared:
            raise RuntimeError("this server is shared between tests; ask for fresh=True")
        target = self.packages_dir / built_file.name
        target.write_bytes(built_file.read_bytes())
        return target

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def write_htpasswd(path: Path, user: str, password: str) -> Path:
    """An Apache htpasswd file; passlib's default scheme (apr1 md5-crypt) needs no bcrypt."""
    with warnings.catch_warnings():  # passlib imports the deprecated stdlib ``crypt``
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.apache import HtpasswdFile  # type: ignore[import-untyped]

    htpasswd = HtpasswdFile(str(path), new=True)
    htpasswd.set_password(user, password)
    htpasswd.save()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_pypiserver(
    packages_dir: Path,
    *,
    htpasswd: tuple[str, str] | None = None,
    work_dir: Path | None = None,
    threaded: bool = True,
    timeout: float = 15.0,
) -> PypiServer:
    """Start pypiserver on a free port and return once it answers.

    ``threaded=False`` runs exactly ``python -m pypiserver`` (single-threaded wsgiref, slow
    under concurrent clients); the default runs the same CLI through the threaded launcher.
    """
    work_dir = work_dir or packages_dir.parent / f"{packages_dir.name}-pypiserver"
    work_dir.mkdir(parents=True, exist_ok=True)
    last_error = ""
    for _attempt in range(3):
        port = free_port()
        log_file = work_dir / f"access-{port}.log"
        output_file = work_dir / f"output-{port}.log"
        command = [sys.executable, *([str(LAUNCHER)] if threaded else ["-m", "pypiserver"])]
        command += ["run", "-v", "-p", str(port), "-i", "127.0.0.1", "--disable-fallback"]
        command += ["--log-file", str(log_file), "--log-stream", "none"]
        command += ["--log-frmt", "%(thread)d|%(name)s|%(message)s"]
        command += ["--log-req-frmt", "IGREQ %(REQUEST_METHOD)s %(PATH_INFO)s"]
        if htpasswd is not None:
            password_file = write_htpasswd(work_dir / f"htpasswd-{port}", *htpasswd)
            command += ["-P", str(password_file), "-a", "download,list,update"]
        else:
            command += ["-P", ".", "-a", "."]
        command.append(str(packages_dir))
        with open(output_file, "wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        server = PypiServer(packages_dir, port, process, log_file, output_file, htpasswd)
        if _wait_until_up(server, timeout):
            server.mark_log()
            return server
        server.stop()
        last_error = output_file.read_text(errors="replace")
        if "Address already in use" not in last_error:
            break
    raise RuntimeError(f"pypiserver did not start:\n{last_error}")


def _wait_until_up(server: PypiServer, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=1)
        try:
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.05)
    return False
