"""A real forward proxy for the network tests: tinyproxy (Debian's ``tinyproxy`` package,
which ``.ci/run`` installs), one process per test, on 127.0.0.1, with its log in the
test's folder so that tests can see which requests and tunnels it carried."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

TINYPROXY = shutil.which("tinyproxy") or "/usr/bin/tinyproxy"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Tinyproxy:
    folder: Path
    auth: tuple[str, str] | None = None  # BasicAuth user password
    extra: tuple[str, ...] = ()  # more configuration lines, e.g. "ConnectPort 443"
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def log_file(self) -> Path:
        return self.folder / "tinyproxy.log"

    @property
    def url(self) -> str:
        """The proxy URL a user would set, with its credentials if it has some."""
        if self.auth is None:
            return f"http://127.0.0.1:{self.port}"
        return f"http://{self.auth[0]}:{self.auth[1]}@127.0.0.1:{self.port}"

    def with_credentials(self, user: str, password: str) -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def requests(self) -> list[str]:
        """The request lines it received, in order (``CONNECT host:port HTTP/1.1``, or
        ``GET http://... HTTP/1.1``)."""
        text = self.log_file.read_text(errors="replace") if self.log_file.exists() else ""
        return [
            line.split("): ", 1)[1]
            for line in text.splitlines()
            if "Request (file descriptor" in line and "): " in line
        ]

    def __enter__(self) -> Tinyproxy:
        if not Path(TINYPROXY).exists():  # fail, never skip: CI must run these tests
            raise RuntimeError("tinyproxy is not installed (apt-get install tinyproxy; .ci/run)")
        self.folder.mkdir(parents=True, exist_ok=True)
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            f'LogFile "{self.log_file}"',
            "LogLevel Connect",
            f'PidFile "{self.folder / "tinyproxy.pid"}"',
            "MaxClients 100",
            "Allow 127.0.0.1",
            "DisableViaHeader Yes",
        ]
        if self.auth is not None:
            lines.append(f"BasicAuth {self.auth[0]} {self.auth[1]}")
        lines += self.extra
        config = self.folder / "tinyproxy.conf"
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(
            [TINYPROXY, "-d", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"tinyproxy did not start (see {config})") from None
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
