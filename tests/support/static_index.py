"""A small dependency tree as a static index, for the tests of runs that share a cache.

``app`` needs ``lib-a`` and ``lib-b``, which need ``lib-c``; two versions of ``lib-a`` and
``lib-c`` leave the resolver a choice. The pages are plain files, served by the benchmark's
static server (``netsim.Network``: ETag and 304, a traffic log, blocked paths), so a warm
run's revalidations and the requests it saves can be counted. test_cache_runs.py and
test_warm_reuse.py both check this tree, in-process, with the same command line.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from pathlib import Path

from indexgate.demo.wheels import build_wheel, read_core_metadata

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from netsim import Network

__all__ = ["APP_TREE", "APP_TREE_RESOLVED", "Network", "check_argv", "write_static_index"]

APP_TREE = [  # name, version, requires
    ("app", "1.0", ["lib-a>=1", "lib-b"]),
    ("lib-a", "1.0", ["lib-c"]),
    ("lib-a", "2.0", ["lib-c>=1"]),
    ("lib-b", "1.0", ['lib-c; python_version >= "3.8"']),
    ("lib-c", "1.0", []),
    ("lib-c", "1.1", []),
]
# What ``app`` resolves to: the newest of each.
APP_TREE_RESOLVED = {"app": "1.0", "lib-a": "2.0", "lib-b": "1.0", "lib-c": "1.1"}


def write_static_index(
    root: Path, trees: Mapping[str, bool] | None = None, *, hashes: bool = True
) -> None:
    """Wheels and their ``.metadata`` files under ``root/files``, and for each tree of
    ``trees`` (its name -> whether its pages carry PEP 658's ``data-core-metadata``) a page
    per project at ``root/<tree>/<project>/index.html``, hashes in the URL fragment unless
    ``hashes`` is false (default: one tree, ``simple``, without PEP 658). The wheels are
    built once, so every tree names the same bytes."""
    links: dict[str, list[tuple[str, str, str]]] = {}
    for name, version, requires in APP_TREE:
        path = build_wheel(root / "files", name, version, requires_dist=requires)
        meta = read_core_metadata(path)
        assert meta is not None
        path.with_name(path.name + ".metadata").write_bytes(meta)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        links.setdefault(name, []).append((path.name, digest, hashlib.sha256(meta).hexdigest()))
    for tree, pep658 in (trees or {"simple": False}).items():
        for name, entries in links.items():
            anchors = []
            for filename, digest, meta_digest in entries:
                attr = f' data-core-metadata="sha256={meta_digest}"' if pep658 else ""
                href = f"../../files/{filename}" + (f"#sha256={digest}" if hashes else "")
                anchors.append(f'<a href="{href}"{attr}>{filename}</a>')
            page = root / tree / name / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            body = "\n".join(anchors)
            page.write_text(f"<!DOCTYPE html><html><body>\n{body}\n</body></html>\n")


def check_argv(requirements: Path, url: str | None, cache: Path, report: Path) -> list[str]:
    """``indexgate check`` of ``requirements`` for one fixed target (CPython 3.11 on Linux
    x86-64), quiet, with ``cache`` as its cache dir; no ``--index-url`` when ``url`` is None."""
    return [
        "check", "-r", str(requirements), *(["--index-url", url] if url else []),
        "--python-version", "3.11", "--platform", "linux_x86_64",
        "--cache-dir", str(cache), "--report-json", str(report), "-q",
    ]  # fmt: skip
