"""A report lists its blocks in one order on every run: by package, newest version first,
then file. Probes run concurrently and answer in any order; reports are compared between
runs (drift, the Action's summaries), so the order must not follow the network."""

from __future__ import annotations

import random

from indexgate.model import Blocked
from indexgate.resolver.resolve import in_report_order


def _block(name: str, version: str, file: str) -> Blocked:
    return Blocked(
        name=name,
        version=version,
        file=file,
        index="private",
        stage="download",
        status_code=403,
        vendor="nexus",
        reason="quarantined",
    )


EXPECTED = [
    ("acme-web", "10.0.0", "acme_web-10.0.0-py3-none-any.whl"),
    ("acme-web", "10.0.0", "acme_web-10.0.0.tar.gz"),
    ("acme-web", "2.1.0", "acme_web-2.1.0-py3-none-any.whl"),
    ("acme-web", "2.0.0rc1", "acme_web-2.0.0rc1-py3-none-any.whl"),
    ("acme-web", "not-a-version", "acme_web-not-a-version.tar.gz"),
    ("urllib3", "2.8.0", "urllib3-2.8.0-py3-none-any.whl"),
    ("urllib3", "1.26.20", "urllib3-1.26.20-py2.py3-none-any.whl"),
]


def test_blocks_are_ordered_by_package_then_newest_version_then_file() -> None:
    for seed in range(20):
        shuffled = [_block(*fields) for fields in EXPECTED]
        random.Random(seed).shuffle(shuffled)
        got = [(b.name, b.version, b.file) for b in in_report_order(shuffled)]
        assert got == EXPECTED, seed
