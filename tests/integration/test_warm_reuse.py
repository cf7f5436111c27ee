"""A warm run whose inputs and pages did not change takes the previous resolution without
running the resolver, and still probes every file it picks (issue 15, "Reuse what did not
change"). Anything that could change the outcome resolves in full: a new version on a page,
a changed requirement, a probe that now answers 403, other credentials.

Real servers: the static server of the benchmark (ETag, 304) and the project's dev index
(no validators: pages are compared by their bytes; a built-in firewall; basic auth). The
resolver is counted by wrapping resolvelib's ``Resolver.resolve``, which check() imports when a
target is resolved.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import resolvelib
from check_support import clean_env
from support.probe import run_probe
from support.static_index import (
    APP_TREE,
    APP_TREE_RESOLVED,
    Network,
    check_argv,
    write_static_index,
)

from indexgate.cli import main
from indexgate.demo import IndexServer
from indexgate.demo.server import ServerConfig
from indexgate.demo.wheels import build_wheel

pytestmark = pytest.mark.integration

PICKED = {
    "app-1.0-py3-none-any.whl",
    "lib_a-2.0-py3-none-any.whl",
    "lib_b-1.0-py3-none-any.whl",
    "lib_c-1.1-py3-none-any.whl",
}


class Runs:
    """``indexgate check`` in-process, counting how often the resolver ran."""

    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.tmp_path = tmp_path
        self.resolver_runs = 0
        self.requirements = "app\n"
        self.cache = tmp_path / "cache"
        runs = self

        # Counted at resolvelib's Resolution, which every resolver indexgate makes runs
        # (the plain one and resolver/pins.py's), whenever it was imported.
        resolution = resolvelib.resolvers.resolution.Resolution
        plain = resolution.resolve

        def counting(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            runs.resolver_runs += 1
            return plain(self, *args, **kwargs)

        monkeypatch.setattr(resolution, "resolve", counting)
        self.count = 0

    def check(self, url: str | None, *extra: str) -> tuple[int, dict, int]:
        """Exit code, JSON report, and whether (1) or not (0) the resolver ran."""
        self.count += 1
        reqs = self.tmp_path / "requirements.txt"
        reqs.write_text(self.requirements)
        report = self.tmp_path / f"report-{self.count}.json"
        before = self.resolver_runs
        code = main([*check_argv(reqs, url, self.cache, report), *extra])
        return code, json.loads(report.read_text()), self.resolver_runs - before


def _versions(report: dict) -> dict[str, str]:
    return {r["name"]: r["version"] for r in report["targets"][0]["resolution"]}


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Runs:
    clean_env(monkeypatch, tmp_path)
    monkeypatch.chdir(tmp_path)
    return Runs(tmp_path, monkeypatch)


# -- a static index: validators and 304s ----------------------------------------------


@pytest.mark.parametrize("pep658", [False, True], ids=["range", "pep658"])
def test_unchanged_pages_reuse_the_resolution_and_probe_every_pick(
    runs: Runs, tmp_path: Path, pep658: bool
) -> None:
    root = tmp_path / "index"
    write_static_index(root, {"simple": pep658})
    with Network(root, latency_ms=0) as net:
        url = net.url("simple/")
        net.reset()
        code, cold, resolved = runs.check(url)
        assert (code, resolved, _versions(cold)) == (0, 1, APP_TREE_RESOLVED)
        net.reset()
        code, warm, resolved = runs.check(url)
        traffic = net.reset()
    assert code == 0
    assert resolved == 0, "the resolver ran although nothing changed"
    assert warm == cold  # the same report, every field
    pages = [(m, s) for m, p, s in traffic.log if p.startswith("/simple/")]
    assert pages == [("GET", 304)] * len(APP_TREE_RESOLVED), traffic.log
    probed = {p.rsplit("/", 1)[-1] for m, p, s in traffic.log if m == "HEAD" and s == 200}
    assert probed == PICKED, traffic.log
    assert not [e for e in traffic.log if e[0] == "GET" and e[1].startswith("/files/")]


def test_a_run_whose_pages_all_answer_304_imports_no_page_parser(tmp_path: Path) -> None:
    """The page parsers (with html.parser and html.entities) are imported when a page's
    bytes arrive; a reused run whose every page is unchanged (304) reads none."""
    root = tmp_path / "index"
    write_static_index(root, {"simple": True})
    (tmp_path / "requirements.txt").write_text("app\n")
    with Network(root, latency_ms=0) as net:
        argv = check_argv(Path("requirements.txt"), net.url("simple/"), Path("c"), Path("r.json"))
        (cold, _), (warm, warm_log) = [run_probe(tmp_path, [*argv, "-vv"]) for _ in range(2)]
    assert cold["code"] == warm["code"] == 0
    assert "reused the previous resolution" in warm_log
    parsers = {"indexgate.index.simple", "html.parser", "html.entities"}
    assert parsers <= set(cold["modules"])
    assert parsers & set(warm["modules"]) == set()


def test_files_without_a_hash_on_their_page_are_resolved_every_time(
    runs: Runs, tmp_path: Path
) -> None:
    """Such a file may be replaced under an unchanged page: only a resolution rereads it."""
    root = tmp_path / "index"
    write_static_index(root, hashes=False)
    with Network(root, latency_ms=0) as net:
        assert runs.check(net.url("simple/"))[::2] == (0, 1)
        assert runs.check(net.url("simple/"))[::2] == (0, 1)


# -- the dev index: pages without validators, a firewall, basic auth -----------------


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[IndexServer]:
    root = tmp_path / "dist"
    for name, version, requires in APP_TREE:
        build_wheel(root, name, version, requires_dist=requires)
    with IndexServer(root, ServerConfig()) as server:
        yield server


def _heads(server: IndexServer) -> set[str]:
    return {e.path.rsplit("/", 1)[-1] for e in server.access_log.entries() if e.method == "HEAD"}


def test_pages_compared_by_their_bytes_when_the_index_sends_no_validators(
    runs: Runs, dev: IndexServer
) -> None:
    code, cold, resolved = runs.check(dev.url)
    assert (code, resolved) == (0, 1)
    dev.access_log.clear()
    code, warm, resolved = runs.check(dev.url)
    assert (code, resolved) == (0, 0)
    assert warm == cold
    assert _heads(dev) == PICKED
    assert not [e for e in dev.access_log.entries() if e.path.endswith(".metadata")]


def test_a_new_version_on_one_page_resolves_in_full(runs: Runs, dev: IndexServer) -> None:
    runs.check(dev.url)
    build_wheel(dev.root, "lib-c", "1.2")  # published since
    code, report, resolved = runs.check(dev.url)
    assert (code, resolved) == (0, 1)
    assert _versions(report)["lib-c"] == "1.2"
    code, again, resolved = runs.check(dev.url)  # and that run is reused in turn
    assert (code, resolved, again) == (0, 0, report)


def test_a_changed_requirement_resolves_in_full(runs: Runs, dev: IndexServer) -> None:
    runs.check(dev.url)
    runs.requirements = "app\nlib-c<1.1\n"
    code, report, resolved = runs.check(dev.url)
    assert (code, resolved) == (0, 1)
    assert _versions(report)["lib-c"] == "1.0"


def test_a_changed_setting_resolves_in_full(runs: Runs, dev: IndexServer) -> None:
    runs.check(dev.url)
    code, _, resolved = runs.check(dev.url, "--fallback", "next-distribution")
    assert (code, resolved) == (0, 1)


def test_a_changed_config_file_resolves_in_full(
    runs: Runs, dev: IndexServer, tmp_path: Path
) -> None:
    config = tmp_path / "indexgate.yml"
    config.write_text("fallback: next-version\n")
    assert runs.check(dev.url, "--config", str(config))[::2] == (0, 1)
    assert runs.check(dev.url, "--config", str(config))[::2] == (0, 0)  # unchanged: reused
    config.write_text("fallback: next-distribution\n")
    assert runs.check(dev.url, "--config", str(config))[::2] == (0, 1)


def test_changed_targets_resolve_in_full(runs: Runs, dev: IndexServer) -> None:
    assert runs.check(dev.url)[::2] == (0, 1)
    assert runs.check(dev.url)[::2] == (0, 0)
    code, report, resolved = runs.check(dev.url, "--platform", "macosx_14_0_arm64")
    assert (code, resolved, len(report["targets"])) == (0, 2, 2)


def test_a_pick_quarantined_since_resolves_in_full_and_names_it(
    runs: Runs, dev: IndexServer
) -> None:
    runs.check(dev.url)
    dev.config.firewall["lib_c-1.1-py3-none-any.whl"] = "nexus"
    dev.access_log.clear()
    code, report, resolved = runs.check(dev.url)
    assert resolved == 1
    first = next(e for e in dev.access_log.entries() if "lib_c-1.1" in e.path)
    assert (first.method, first.status) == ("HEAD", 403)
    assert _versions(report)["lib-c"] == "1.0"
    (blocked,) = report["targets"][0]["blocked"]
    assert (blocked["file"], blocked["vendor"], blocked["fallback"]) == (
        "lib_c-1.1-py3-none-any.whl",
        "nexus-firewall",
        "1.0",
    )
    assert code == 0


def test_recorded_blocks_are_asked_again_before_reuse(runs: Runs, dev: IndexServer) -> None:
    dev.config.firewall["lib_c-1.1-py3-none-any.whl"] = "nexus"
    code, blocked_run, resolved = runs.check(dev.url)
    assert (code, resolved, _versions(blocked_run)["lib-c"]) == (0, 1, "1.0")
    dev.access_log.clear()
    code, again, resolved = runs.check(dev.url)  # still blocked, same answer: reused
    assert (code, resolved) == (0, 0)
    assert again == blocked_run  # blocked[] included, as recorded
    assert any(e.status == 403 and "lib_c-1.1" in e.path for e in dev.access_log.entries())
    del dev.config.firewall["lib_c-1.1-py3-none-any.whl"]  # released: 1.1 again, in full
    code, released, resolved = runs.check(dev.url)
    assert (code, resolved, _versions(released)["lib-c"]) == (0, 1, "1.1")
    assert released["targets"][0]["blocked"] == []


def test_other_credentials_never_reuse(
    runs: Runs, dev: IndexServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev.config.basic_auth = ("ci", "token-one-7f3a")
    monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_USERNAME", "ci")
    monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_PASSWORD", "token-one-7f3a")
    index = f"private={dev.url}"
    assert runs.check(None, "--index", index)[::2] == (0, 1)
    assert runs.check(None, "--index", index)[::2] == (0, 0)  # same credentials: reused
    dev.config.basic_auth = ("ci", "token-two-91c4")  # rotated: the pages are the same
    monkeypatch.setenv("INDEXGATE_INDEX_PRIVATE_PASSWORD", "token-two-91c4")
    assert runs.check(None, "--index", index)[::2] == (0, 1)
    for path in runs.cache.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"token-one-7f3a" not in data and b"token-two-91c4" not in data


def test_a_failing_run_is_not_reused(runs: Runs, dev: IndexServer) -> None:
    runs.requirements = "app\nlib-c>5\n"
    assert runs.check(dev.url)[::2] == (1, 1)
    assert runs.check(dev.url)[::2] == (1, 1)


def test_the_key_does_not_depend_on_the_hash_seed(tmp_path: Path) -> None:
    """Sets of strings (``--only-binary``, ``fail-on``) iterate in a per-process order."""
    code = (
        "from indexgate.resolver.reuse import _canon; import json; "
        "print(json.dumps(_canon(frozenset(['numpy', 'scipy', ':all:', 'pandas', 'zlib']))))"
    )
    outs = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                text=True, check=True).stdout)  # fmt: skip
    assert len(outs) == 1


def test_a_package_appearing_on_an_earlier_index_resolves_in_full(
    runs: Runs, dev: IndexServer, tmp_path: Path
) -> None:
    """Under first-index a 404 from an earlier index is part of the outcome too."""
    private = tmp_path / "private"
    private.mkdir()
    build_wheel(private, "other", "1.0")
    with IndexServer(private, ServerConfig()) as first:
        args = ("--index", f"private={first.url}", "--index", f"public={dev.url}")
        code, cold, resolved = runs.check(None, *args)
        assert (code, resolved, cold["targets"][0]["resolution"][0]["index"]) == (0, 1, "public")
        assert [w["kind"] for w in cold["warnings"]] == ["index-never-matched"]
        code, warm, resolved = runs.check(None, *args)
        assert (code, resolved, warm) == (0, 0, cold)  # the run-wide warning too
        build_wheel(private, "lib-c", "1.1")  # the same name, now on the first index
        code, report, resolved = runs.check(None, *args)
    assert (code, resolved) == (0, 1)
    by_name = {r["name"]: r["index"] for r in report["targets"][0]["resolution"]}
    assert by_name["lib-c"] == "private"


def test_an_unreadable_record_means_a_full_resolution(runs: Runs, dev: IndexServer) -> None:
    runs.check(dev.url)
    (entry,) = [p for p in (runs.cache / "v1" / "blob" / "reuse1").rglob("*") if p.is_file()]
    entry.write_bytes(entry.read_bytes()[:-20] + b"not json at all, no.")
    assert runs.check(dev.url)[::2] == (0, 1)
    assert runs.check(dev.url)[::2] == (0, 0)  # recorded again


def test_every_target_is_reused_together(runs: Runs, dev: IndexServer) -> None:
    extra = ("--python-version", "3.12", "--platform", "macosx_14_0_arm64")
    code, cold, resolved = runs.check(dev.url, *extra)
    assert (code, resolved, len(cold["targets"])) == (0, 4, 4)
    code, warm, resolved = runs.check(dev.url, *extra)
    assert (code, resolved, warm) == (0, 0, cold)


def test_a_pick_whose_page_changed_is_still_probed_by_the_next_reuse(
    runs: Runs, dev: IndexServer
) -> None:
    """The warm run after a page changed walks the cache's older copy of that page too;
    the files it records must be the ones the page lists now, picks included."""
    runs.check(dev.url)
    build_wheel(dev.root, "lib-a", "3.0rc1")  # the page changes, the pick does not
    code, report, resolved = runs.check(dev.url)
    assert (code, resolved, _versions(report)["lib-a"]) == (0, 1, "2.0")
    dev.config.firewall["lib_a-2.0-py3-none-any.whl"] = "nexus"
    code, report, resolved = runs.check(dev.url)
    assert (code, resolved, _versions(report)["lib-a"]) == (0, 1, "1.0")
    assert [b["file"] for b in report["targets"][0]["blocked"]] == ["lib_a-2.0-py3-none-any.whl"]


# What a reused run imports: start-up is most of its CPU (see benchmarks/RESULTS.md).
NOT_FOR_A_REUSED_RUN = {
    "indexgate.dists.wheelzip",  # reads wheels: the metadata is not read again
    "urllib.request",  # only for a file: URL in a requirement
    "http",  # HTTPStatus: only to classify a blocked answer
    # the resolver: a reused run resolves nothing
    "resolvelib",
    "indexgate.resolver.provider",
    "indexgate.resolver.candidates",
    "indexgate.resolver.conflicts",
    # a plain-http index: no HTTP/2 client
    "indexgate.index.transport.http2",
}


def test_a_reused_run_does_not_import_what_only_a_resolution_needs(
    dev: IndexServer, tmp_path: Path
) -> None:
    dev.config.pep658 = False  # the cold run reads the wheels themselves
    (tmp_path / "requirements.txt").write_text("app\n")
    argv = [
        "check", "-r", "requirements.txt", "--index-url", dev.url, "--cache-dir", "cache",
        "--python-version", "3.11", "--platform", "linux_x86_64", "-v", "--format", "json",
    ]  # fmt: skip
    runs = [run_probe(tmp_path, argv) for _ in range(2)]
    (cold, cold_log), (warm, warm_log) = runs
    assert cold["code"] == warm["code"] == 0
    assert "reused the previous resolution" in warm_log
    assert "reused" not in cold_log
    # the probe sees what a run loads
    assert {"indexgate.dists.wheelzip", "resolvelib", "indexgate.index.simple"} <= set(
        cold["modules"]
    )
    assert set(warm["modules"]) & NOT_FOR_A_REUSED_RUN == set()


def test_a_block_only_the_prefetch_met_does_not_stop_reuse(
    runs: Runs, dev: IndexServer, tmp_path: Path
) -> None:
    """The prefetch reads the newest lib-c (blocked), the constraint makes the resolver take
    1.0: that block is not part of the outcome (recorded as the fetches saw it and asked
    again, or left out when they had not finished), so the next run still reuses."""
    dev.config.firewall["lib_c-1.1-py3-none-any.whl"] = "nexus"
    (tmp_path / "constraints.txt").write_text("lib-c<1.1\n")
    runs.requirements = "-c constraints.txt\napp\n"
    code, cold, resolved = runs.check(dev.url)
    assert (code, resolved, _versions(cold)["lib-c"], cold["targets"][0]["blocked"]) == (
        0,
        1,
        "1.0",
        [],
    )
    assert any("lib_c-1.1" in e.path and e.status == 403 for e in dev.access_log.entries())
    code, warm, resolved = runs.check(dev.url)
    assert (code, resolved, warm) == (0, 0, cold)
