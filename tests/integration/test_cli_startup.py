"""What an ``indexgate check`` process loads, and what it does to the garbage collector.

Start-up is paid on every CI run, so a check of a requirements file must not import the
YAML, TOML, lock-file, drift or text/Markdown code it does not use; and only a process
of its own may freeze its heap, never a caller of ``main(argv)``.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.probe import run_probe

import indexgate

NOT_FOR_A_REQUIREMENTS_CHECK = {
    "yaml",
    "netrc",
    "indexgate.sources.pyproject",
    "indexgate.sources.toml_text",
    "indexgate.sources.uv_settings",
    "indexgate.sources.locks",
    "indexgate.drift",
    "indexgate.report.drift",
    "indexgate.report.render",
    "indexgate.report.tables",
    "indexgate.action",
    "indexgate.workflow",
    "indexgate.demo",
    # a line without options does not build pip's option parser; a check builds no
    # drift entry
    "optparse",
    "shlex",
    "indexgate.drift_model",
    # every line names a project: the location lines' reader and data are not needed
    "indexgate.sources.locations",
    # a plain-http index, no proxy: neither the HTTP/2 client nor the proxy tunnel
    "indexgate.index.transport.http2",
    "indexgate.index.transport.http2_connection",
    "indexgate.index.transport.tunnel",
}


@pytest.fixture
def index(public_index):
    return public_index(["lib==1.0"])


def _probe(cwd: Path, *args: str, netrc: str = "no-such-netrc") -> dict:
    """Run ``indexgate check`` as a process of its own, from the code under test."""
    argv = ["check", *args, "--report-json", "out/report.json", "--no-cache", "-q"]
    return run_probe(cwd, argv, netrc=netrc)[0]


def test_a_requirements_check_imports_no_config_toml_lock_drift_or_text_code(
    cli, index, tmp_path
) -> None:
    cli.write("requirements.txt", "lib\n")
    result = _probe(tmp_path, "--index", index.url, "--format", "json")

    assert result["code"] == 0
    modules = set(result["modules"])
    assert modules & NOT_FOR_A_REQUIREMENTS_CHECK == set()
    # The probe sees the modules the run did need.
    assert {"indexgate.sources.requirements_txt", "indexgate.report.json_report"} <= modules


def test_the_readers_still_load_when_their_files_are_there(cli, index, tmp_path) -> None:
    cli.write("requirements.txt", "lib\n")
    cli.write(".github/indexgate.yml", "fail-on: [blocked]\n")
    cli.write("pyproject.toml", '[project]\nname = "app"\nversion = "1"\n')
    cli.write(".netrc", "machine example.invalid login u password p\n")
    result = _probe(
        tmp_path, "requirements.txt", "--index", index.url, "--format", "markdown", netrc=".netrc"
    )

    assert result["code"] == 0
    loaded = {"yaml", "netrc", "indexgate.sources.uv_settings", "indexgate.report.render"}
    assert loaded <= set(result["modules"])


def test_a_check_process_freezes_its_start_up_heap(cli, index, tmp_path) -> None:
    cli.write("requirements.txt", "lib\n")
    assert _probe(tmp_path, "--index", index.url)["frozen"] > 10_000


def test_a_check_process_collects_young_objects_only_every_million_allocations(
    cli, index, tmp_path
) -> None:
    """A run's data lives until exit: a pass at the default 700, or at 100,000, walks it
    again for the little garbage it finds (see ``gate.gc_tuned_for``)."""
    cli.write("requirements.txt", "lib\n")
    assert _probe(tmp_path, "--index", index.url)["threshold"] == 1_000_000


def test_main_with_argv_leaves_the_callers_collector_alone(cli, index) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled())

    run = cli.run("--index", index.url, requirements="lib\n")

    assert run.code == 0
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before


def test_parsing_the_command_line_imports_no_shutil_and_help_keeps_the_terminal_width() -> None:
    """argparse sizes a formatter on every ``add_argument``; its default one imports
    shutil (with bz2 and lzma) for the terminal width, on every run."""
    # -S: no .pth file runs at start-up (a machine's own may import certifi, hence shutil);
    # the site-packages folders are still searched, so the test sees indexgate's imports only.
    code = (
        "import site, sys; sys.path.extend(site.getsitepackages()); "
        "from indexgate.gate import build_parser; "
        "build_parser().parse_args(['check', 'requirements.txt']); "
        "print('shutil' in sys.modules)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(indexgate.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-S", "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "False", done.stderr

    def help_lines(columns: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-m", "indexgate", "--help"],
            env={**env, "COLUMNS": columns},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    narrow, wide = help_lines("50"), help_lines("200")
    assert max(len(line) for line in narrow) <= 50 < max(len(line) for line in wide)


# What a check that reuses the previous outcome (resolver/reuse.py) leaves out: the
# resolver itself, which only a full resolution runs.
NOT_FOR_A_REUSED_CHECK = {
    "resolvelib",
    "indexgate.resolver.provider",
    "indexgate.resolver.candidates",
    "indexgate.resolver.finder",
    "indexgate.resolver.found",
    "indexgate.resolver.files",
    "indexgate.resolver.prefetch",
    "indexgate.resolver.pins",
    "indexgate.resolver.conflicts",
    "indexgate.resolver.dead",
    "indexgate.dists.build",
}


def test_a_check_that_reuses_the_previous_outcome_imports_no_resolver(cli, index, tmp_path) -> None:
    cli.write("requirements.txt", "lib\n")
    argv = ["check", "--index", index.url, "--cache-dir", "cache", "-v"]
    first, _ = run_probe(tmp_path, [*argv, "--report-json", "out/first.json"])
    second, log = run_probe(tmp_path, [*argv, "--report-json", "out/second.json"])

    assert (first["code"], second["code"]) == (0, 0)
    assert "reused the previous resolution" in log
    assert set(second["modules"]) & NOT_FOR_A_REUSED_CHECK == set()
    # The probe sees the modules the run did need.
    assert {"indexgate.resolver.reuse", "indexgate.index.client"} <= set(second["modules"])
    first_report = json.loads((tmp_path / "out/first.json").read_text())
    second_report = json.loads((tmp_path / "out/second.json").read_text())
    assert second_report["targets"] == first_report["targets"]
