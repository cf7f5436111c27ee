"""``indexgate demo`` and the local package indexes it needs: stdlib only, 127.0.0.1 only.

This package owns the demo command (``run.py``: two local indexes, a firewall, two gate
runs) and the servers it ships for that: a simple-repository index server (``server.py``),
each repository firewall's answers (``firewall_responses.py``), a quarantine proxy in front
of any index (``proxy.py``), deterministic wheels and sdists (``wheels.py``) and their HTTP
plumbing (``_http.py``). The tests use the same servers. Nothing else in indexgate imports
this package: the gate never depends on it, and the CLI loads it only for ``demo``.
"""

from indexgate.demo._http import AccessLog, AccessLogEntry
from indexgate.demo.firewall_responses import FirewallResponse, FirewallRule
from indexgate.demo.proxy import QuarantineProxy
from indexgate.demo.server import IndexServer, ServerConfig
from indexgate.demo.wheels import build_sdist, build_wheel

__all__ = [
    "AccessLog",
    "AccessLogEntry",
    "FirewallResponse",
    "FirewallRule",
    "IndexServer",
    "QuarantineProxy",
    "ServerConfig",
    "build_sdist",
    "build_wheel",
]
