"""Status-code policy: what each answer means for a project page or a file, per strategy."""

from __future__ import annotations

import pytest

from indexgate.policy import (
    DEFAULT_QUARANTINE_CODES,
    FileAction,
    PageAction,
    Strategy,
    auth_failure_advice,
    default_ignore_error_codes,
    env_name,
    file_action,
    project_page_action,
)

UNSAFE = [Strategy.UNSAFE_FIRST_MATCH, Strategy.UNSAFE_BEST_MATCH]


@pytest.mark.parametrize("strategy", list(Strategy))
@pytest.mark.parametrize("status", [200, 203])
def test_a_served_page_is_used(strategy, status) -> None:
    assert project_page_action(status, strategy, frozenset()) is PageAction.USE


@pytest.mark.parametrize("strategy", list(Strategy))
def test_404_always_moves_on_even_with_an_empty_ignore_list(strategy) -> None:
    assert project_page_action(404, strategy, frozenset()) is PageAction.NEXT


@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_stop_first_index(status) -> None:
    assert project_page_action(status, Strategy.FIRST_INDEX, frozenset()) is PageAction.AUTH_FAILURE
    # a quarantine code is irrelevant for a project page: still an auth failure
    assert (
        project_page_action(status, Strategy.FIRST_INDEX, frozenset({404}))
        is PageAction.AUTH_FAILURE
    )


@pytest.mark.parametrize("strategy", UNSAFE)
@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_are_skipped_with_a_warning_under_unsafe_strategies(strategy, status) -> None:
    assert project_page_action(status, strategy, frozenset()) is PageAction.SKIP_WITH_WARNING


@pytest.mark.parametrize("strategy", list(Strategy))
def test_ignore_error_codes_opt_in_per_code(strategy) -> None:
    assert project_page_action(403, strategy, frozenset({403})) is PageAction.NEXT
    assert project_page_action(401, strategy, frozenset({401, 403})) is PageAction.NEXT
    if strategy is Strategy.FIRST_INDEX:
        # ignoring 403 says nothing about 401
        assert project_page_action(401, strategy, frozenset({403})) is PageAction.AUTH_FAILURE


@pytest.mark.parametrize("status", [400, 405, 410, 429, 500, 503, 302])
def test_anything_else_fails_closed(status) -> None:
    for strategy in Strategy:
        assert project_page_action(status, strategy, frozenset()) is PageAction.ERROR
    assert project_page_action(status, Strategy.FIRST_INDEX, frozenset({status})) is (
        PageAction.NEXT
    )


def test_file_actions() -> None:
    assert set(DEFAULT_QUARANTINE_CODES) == {403}
    assert file_action(200, DEFAULT_QUARANTINE_CODES) is FileAction.OK
    assert file_action(206, DEFAULT_QUARANTINE_CODES) is FileAction.OK
    assert file_action(403, DEFAULT_QUARANTINE_CODES) is FileAction.BLOCKED
    assert file_action(401, DEFAULT_QUARANTINE_CODES) is FileAction.AUTH_FAILURE
    # not a quarantine code: 403 on a file is then an auth failure, never a silent skip
    assert file_action(403, frozenset()) is FileAction.AUTH_FAILURE
    assert file_action(451, frozenset({403, 451})) is FileAction.BLOCKED
    assert file_action(451, DEFAULT_QUARANTINE_CODES) is FileAction.ERROR
    assert file_action(404, DEFAULT_QUARANTINE_CODES) is FileAction.ERROR


def test_pytorch_ignores_403_by_default_and_nothing_else_does() -> None:
    assert default_ignore_error_codes("https://download.pytorch.org/whl/cpu/") == frozenset({403})
    assert default_ignore_error_codes("https://pypi.org/simple/") == frozenset()
    assert default_ignore_error_codes("https://nexus.example.com/repository/pypi/") == frozenset()
    assert default_ignore_error_codes("https://evil.download.pytorch.org.example/") == frozenset()
    assert default_ignore_error_codes("file:///srv/wheels/") == frozenset()


def test_auth_failure_advice_says_how_to_fix_it() -> None:
    advice = auth_failure_advice(401, "my-nexus")
    assert "INDEXGATE_INDEX_MY_NEXUS_USERNAME/_PASSWORD" in advice
    assert "UV_INDEX_MY_NEXUS_USERNAME/_PASSWORD" in advice
    assert "netrc" in advice
    assert "ignore-error-codes" not in advice  # 401 is never "not here"
    assert "did not look for this package on any later index" in advice
    advice = auth_failure_advice(403, "my-nexus")
    assert "ignore-error-codes" in advice
    assert "INDEXGATE_INDEX_MY_NEXUS_IGNORE_ERROR_CODES=403" in advice


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("internal", "INTERNAL"),
        ("my-index.prod", "MY_INDEX_PROD"),
        ("pypi_proxy", "PYPI_PROXY"),
        ("127.0.0.1", "127_0_0_1"),
        ("Nexus 2", "NEXUS_2"),
    ],
)
def test_env_name(name, expected) -> None:
    assert env_name(name) == expected
