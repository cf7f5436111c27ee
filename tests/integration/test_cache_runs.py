"""Two runs of ``indexgate check`` sharing a cache dir, against a static index (ETag, 304).

The second run must revalidate every project page (304s), read no metadata again (no
``.metadata`` GET, no wheel range GET), still probe the files it picks (a quarantine that
appeared since the first run is caught), and give the same resolution. The index and the
command line are tests/support/static_index.py's, shared with test_warm_reuse.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from check_support import clean_env
from support.static_index import (
    APP_TREE,
    APP_TREE_RESOLVED,
    Network,
    check_argv,
    write_static_index,
)

from indexgate.cli import main

pytestmark = pytest.mark.integration

PROJECTS = sorted({name for name, _, _ in APP_TREE})


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Network]:
    root = tmp_path_factory.mktemp("static-index")
    write_static_index(root, {"simple": False, "simple658": True})
    with Network(root, latency_ms=0) as net:
        yield net


def _check(net: Network, tree: str, workdir: Path, cache: Path, name: str) -> dict:
    reqs = workdir / "requirements.txt"
    reqs.write_text("app\n")
    report = workdir / f"{name}.json"
    code = main(check_argv(reqs, net.url(tree + "/"), cache, report))
    data = json.loads(report.read_text())
    data["exit_code"] = code
    return data


def _versions(report: dict) -> dict[str, str]:
    return {r["name"]: r["version"] for r in report["targets"][0]["resolution"]}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("tree", ["simple", "simple658"])
def test_second_run_revalidates_pages_and_reads_no_metadata(
    network: Network, tmp_path: Path, tree: str
) -> None:
    cache = tmp_path / "cache"
    network.reset()
    first = _check(network, tree, tmp_path, cache, "first")
    cold = network.reset()
    second = _check(network, tree, tmp_path, cache, "second")
    warm = network.reset()

    assert first["exit_code"] == second["exit_code"] == 0
    assert _versions(first) == _versions(second) == APP_TREE_RESOLVED

    cold_pages = [(m, s) for m, p, s in cold.log if p.startswith(f"/{tree}/")]
    assert sorted(cold_pages) == [("GET", 200)] * len(PROJECTS)
    cold_meta = [p for m, p, s in cold.log if m == "GET" and p.startswith("/files/")]
    assert len(cold_meta) >= len(APP_TREE_RESOLVED)  # metadata was read over the network once

    warm_pages = [(m, s) for m, p, s in warm.log if p.startswith(f"/{tree}/")]
    assert warm_pages == [("GET", 304)] * len(PROJECTS), warm.log
    refetched = [(m, p, s) for m, p, s in warm.log if m == "GET" and p.startswith("/files/")]
    assert refetched == [], "metadata must come from the cache on the second run"
    probes = sorted(p.rsplit("/", 1)[-1] for m, p, s in warm.log if m == "HEAD")
    assert len(probes) == len(APP_TREE_RESOLVED)  # each picked file is still checked for quarantine
    assert all(s == 200 for m, p, s in warm.log if m == "HEAD")


def test_an_artifact_quarantined_after_the_first_run_is_caught_by_the_warm_run(
    network: Network, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = _check(network, "simple", tmp_path, cache, "first")
    assert _versions(first)["lib-a"] == "2.0"
    blocked = "/files/lib_a-2.0-py3-none-any.whl"
    network.static.blocked.add(blocked)
    try:
        network.reset()
        second = _check(network, "simple", tmp_path, cache, "second")
        warm = network.reset()
    finally:
        network.static.blocked.discard(blocked)
    assert ("HEAD", blocked, 403) in warm.log
    assert _versions(second)["lib-a"] == "1.0"
    target = second["targets"][0]
    assert [b["version"] for b in target["blocked"] if b["name"] == "lib-a"] == ["2.0"]
    # The 403 was not cached: the next run asks again (and, unblocked, uses 2.0 again).
    third = _check(network, "simple", tmp_path, cache, "third")
    assert _versions(third)["lib-a"] == "2.0"


def test_credentials_never_reach_the_cache_dir(network: Network, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    secret = "Sup3r-S3cret-T0ken"
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("app\n")
    url = network.url("simple/").replace("http://", f"http://ci:{secret}@")
    main(check_argv(reqs, url, cache, tmp_path / "r.json"))
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert secret.encode() not in path.read_bytes()
        assert secret not in str(path)
