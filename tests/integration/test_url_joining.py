"""Index URLs are joined as pip and uv join them, with or without a trailing slash (issue 11).

``--extra-index-url file:///srv/simple`` once became ``file:///srv/simplehttpx/``: a 404 for
every project, so resolution fell through to the next index without a word.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from check_support import CheckCli
from support.packages import Wheelhouse, add_file

from indexgate.index.client import page_url
from indexgate.settings import IndexConfig


def simple_tree(root: Path, wheelhouse: Wheelhouse, *specs: str) -> Path:
    """A PEP 503 layout on disk: ``root/<project>/<files>`` (a file:// simple index)."""
    for spec in specs:
        name = spec.split("==")[0]
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        add_file(folder, wheelhouse.build(spec))
    return root


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://nexus.example/simple", "https://nexus.example/simple/httpx/"),
        ("https://nexus.example/simple/", "https://nexus.example/simple/httpx/"),
        ("file:///srv/simple", "file:///srv/simple/httpx/"),
        ("file:///srv/simple/", "file:///srv/simple/httpx/"),
    ],
)
def test_page_url_joins_with_or_without_a_trailing_slash(base: str, expected: str) -> None:
    assert page_url(base, "httpx") == expected


@pytest.mark.parametrize("slash", ["", "/"])
def test_file_extra_index_without_trailing_slash_is_used_not_skipped(
    cli: CheckCli, wheelhouse: Wheelhouse, public_index, tmp_path: Path, slash: str
) -> None:
    """lib 1.0 is only on the file:// index, which ranks first: it must be the pick, not the
    2.0 of the --index-url behind it (what the silent 404 fall-through gave)."""
    later = public_index(["lib==2.0"])
    tree = simple_tree(tmp_path / "srv" / "simple", wheelhouse, "lib==1.0")
    run = cli.run(
        "--extra-index-url",
        tree.as_uri() + slash,
        "--index-url",
        later.url,
        requirements="lib\n",
    )
    assert run.code == 0, run.out + run.err
    lib = run.resolved("lib")
    assert (lib["version"], lib["index"]) == ("1.0", "simple")
    assert later.requests_for("/simple/lib") == []  # first-index: never asked


@pytest.mark.parametrize("slash", ["", "/"])
def test_http_index_without_trailing_slash(cli: CheckCli, public_index, slash: str) -> None:
    index = public_index(["lib==1.0"])
    url = index.url.rstrip("/") + slash
    run = cli.run("--index-url", url, requirements="lib\n")
    assert run.code == 0, run.out + run.err
    assert run.resolved("lib")["version"] == "1.0"
    assert [e.path for e in index.requests_for("/simple/lib")] == ["/simple/lib/"]


def test_a_simple_index_given_as_a_folder_path_without_slash(
    cli: CheckCli, wheelhouse: Wheelhouse, tmp_path: Path
) -> None:
    simple_tree(tmp_path / "simple", wheelhouse, "lib==1.0")
    run = cli.run("--index", "local=simple", requirements="lib\n")
    assert run.code == 0, run.out + run.err
    assert run.resolved("lib")["index"] == "local"


def test_config_gives_a_simple_index_its_slash_but_leaves_a_flat_page_alone(
    tmp_path: Path,
) -> None:
    from indexgate.config.indexes import normalize_url

    assert normalize_url("file:///srv/simple", tmp_path) == "file:///srv/simple/"
    assert normalize_url("http://h/simple", tmp_path) == "http://h/simple/"
    page = "file:///srv/links.html"
    assert normalize_url(page, tmp_path, flat=True) == page
    assert IndexConfig("x", "file:///srv/simple/").url.endswith("/")
