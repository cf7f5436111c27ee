"""Local package indexes for ``indexgate demo`` and the tests: stdlib only, 127.0.0.1 only."""

from indexgate.devserver._http import AccessLog, AccessLogEntry
from indexgate.devserver.firewall_responses import FirewallResponse, FirewallRule
from indexgate.devserver.proxy import QuarantineProxy
from indexgate.devserver.server import IndexServer, ServerConfig
from indexgate.devserver.wheels import build_sdist, build_wheel

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
