"""The CLI names the ``--fail-on`` rule that failed the gate (text, Markdown, step summary),
against the demo's real local indexes."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexgate import cli
from indexgate.demo.run import CONFIG, REQUIREMENTS, TOKEN_VAR, USER, demo_indexes

pytestmark = pytest.mark.integration


def test_the_cli_says_which_fail_on_rule_failed_the_gate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with demo_indexes(tmp_path / "indexes") as ix:
        project = tmp_path / "project"
        project.mkdir()
        (project / "requirements.txt").write_text(REQUIREMENTS)
        config = CONFIG.format(
            private=ix.private.url, public=ix.public.url, user=USER, token_var=TOKEN_VAR
        )
        (project / "indexgate.yml").write_text(config)
        monkeypatch.setenv(TOKEN_VAR, ix.token)
        monkeypatch.chdir(project)
        summary = tmp_path / "summary.md"
        argv = ["check", "--config", "indexgate.yml", "--fail-on", "blocked", "--no-cache"]
        argv += ["--summary", str(summary), "requirements.txt"]

        code = cli.main(argv)

    assert code == 1
    out = capsys.readouterr().out
    assert "indexgate check: FAIL" in out
    # The blocked artifacts are listed in the order the run met them (probes run
    # concurrently), so the line is read for the one it must name, not for its order.
    failed_by = next(line for line in out.splitlines() if line.startswith("Failed by fail-on: "))
    assert failed_by.startswith("Failed by fail-on: blocked: ") and "acme-web 2.1.0" in failed_by
    assert "urllib3 via acme-web 2.6.0" in out
    md = summary.read_text()
    assert "### Failed by `fail-on`" in md and "`fail-on: blocked` (3 findings)" in md
