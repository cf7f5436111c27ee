"""Issue 11's runaway on the real public index (opt-in: ``pytest -m network``).

The index is pip's own default, derived at run time. The local regression test of the same
shape is ``test_check_backtracking.py``; this one confirms the real pages resolve, with the
corpus set ``benchmarks/corpus/fastapi-sentry.txt``, without any certificate variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from check_support import CheckCli

pytestmark = pytest.mark.network

CORPUS = Path(__file__).parents[2] / "benchmarks" / "corpus"
CERT_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _public_index() -> str:
    index = pytest.importorskip("pip._internal.models.index")
    return str(index.PyPI.simple_url)


def test_fastapi_standard_with_sentry_below_2_resolves(tmp_path, monkeypatch, capsys) -> None:
    cli = CheckCli(tmp_path, monkeypatch, capsys)
    for var in CERT_VARS:
        monkeypatch.delenv(var, raising=False)
    requirements = (CORPUS / "fastapi-sentry.txt").read_text()
    run = cli.run(
        "--index-url",
        _public_index(),
        "--python-version",
        "3.12",
        "--platform",
        "linux_x86_64",
        requirements=requirements,
    )
    assert run.code == 0, run.out + run.err
    versions = run.versions()
    # uv's answer: the last fastapi whose [standard] does not pull fastapi-cloud-cli
    assert versions["fastapi"].startswith("0.115."), versions["fastapi"]
    assert versions["sentry-sdk"].startswith("1."), versions["sentry-sdk"]
    assert "fastapi-cloud-cli" not in versions
