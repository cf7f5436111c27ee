"""Run pypiserver's own CLI, on a threaded wsgiref server with a real listen backlog.

pypiserver falls back to bottle's single-threaded wsgiref server when waitress and friends
are missing, and that server listens with a backlog of 5: a client opening eight
connections at once waits a second for SYN retries. This launcher changes only that; the
arguments, the app, authentication and logging are pypiserver's (``python -m pypiserver``).
"""

from __future__ import annotations

import os
import socketserver
import sys
import wsgiref.simple_server


class ThreadingWSGIServer(socketserver.ThreadingMixIn, wsgiref.simple_server.WSGIServer):
    daemon_threads = True
    request_queue_size = 128


def main() -> None:
    # This file runs as a script: keep its folder's modules from shadowing any package.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    wsgiref.simple_server.WSGIServer = ThreadingWSGIServer  # type: ignore[misc]
    from pypiserver.__main__ import main as pypiserver_main  # type: ignore[import-untyped]

    pypiserver_main(sys.argv[1:])


if __name__ == "__main__":
    main()
