"""Status-code policy: what each answer means for a project page or a file, per strategy."""

from __future__ import annotations

import pytest

from indexgate.policy import (
    DEFAULT_QUARANTINE_CODES,
    FileAction,
    IndexPolicy,
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


# --- IndexPolicy: the policy as one value per index (issue 14) ---------------------------


def test_index_policy_from_url_takes_the_url_defaults_only_for_lists_not_given() -> None:
    torch = IndexPolicy.from_url("torch", "https://download.pytorch.org/whl/cpu/")
    assert torch.ignore_error_codes == frozenset({403})
    assert torch.quarantine_codes == DEFAULT_QUARANTINE_CODES
    assert torch.on_page(403).action is PageAction.NEXT
    said = IndexPolicy.from_url(
        "torch",
        "https://download.pytorch.org/whl/cpu/",
        ignore_error_codes=frozenset(),
        quarantine_codes=frozenset({451}),
    )
    assert said.ignore_error_codes == frozenset() and said.quarantine_codes == {451}
    assert said.on_page(403).action is PageAction.AUTH_FAILURE
    nexus = IndexPolicy.from_url("nexus", "https://nexus.example.com/repository/pypi/")
    assert nexus.ignore_error_codes == frozenset()


def test_index_policy_for_a_configured_index_is_the_index_value() -> None:
    from indexgate.settings import IndexConfig

    index = IndexConfig(
        "vendor",
        "https://vendor.example/simple/",
        ignore_error_codes=frozenset({401}),
        quarantine_codes=frozenset({451}),
    )
    assert index.policy == IndexPolicy("vendor", Strategy.FIRST_INDEX, {401}, {451})
    assert index.policy is index.policy  # built once per index
    unsafe = index.policy.under(Strategy.UNSAFE_BEST_MATCH)
    assert unsafe.strategy is Strategy.UNSAFE_BEST_MATCH
    assert (unsafe.ignore_error_codes, unsafe.quarantine_codes) == ({401}, {451})
    assert index.policy.under(Strategy.FIRST_INDEX) is index.policy


@pytest.mark.parametrize("strategy", list(Strategy))
def test_on_page_agrees_with_the_page_action_and_carries_kind_and_advice(strategy) -> None:
    policy = IndexPolicy("my-nexus", strategy, frozenset({429}))
    for status in (200, 204, 401, 403, 404, 410, 429, 500, 503):
        decision = policy.on_page(status)
        assert decision.action is project_page_action(status, strategy, frozenset({429}))
        if decision.action is PageAction.AUTH_FAILURE:
            assert decision.kind == "auth-failure"
            assert decision.why == f"answered HTTP {status}"
            assert decision.advice == auth_failure_advice(status, "my-nexus")
        elif decision.action is PageAction.ERROR:
            assert (decision.kind, decision.advice) == ("index-unreachable", "")
        else:
            assert decision.kind is None
    login = policy.on_page(200, refused="answered with a login form")
    assert (login.action, login.kind) == (PageAction.AUTH_FAILURE, "auth-failure")
    assert login.advice == auth_failure_advice(200, "my-nexus", refused=True)


def test_on_file_carries_the_kind_and_the_advice() -> None:
    policy = IndexPolicy("idx", quarantine_codes=frozenset({403, 451}))
    for status in (200, 206, 401, 403, 404, 410, 451, 500):
        assert policy.on_file(status).action is file_action(status, frozenset({403, 451}))
    assert policy.on_file(200).kind is None
    assert policy.on_file(451).action is FileAction.BLOCKED
    auth = policy.on_file(401)
    assert auth.kind == "auth-failure"
    assert auth.message("idx", "a-1.0.whl") == (
        "index 'idx' answered HTTP 401 for a-1.0.whl although it listed it; check the "
        "credentials, or add the code to its quarantine-codes if this is how its firewall "
        "blocks files"
    )
    assert policy.on_file(404).kind == policy.on_file(410).kind == "missing-pin"
    gone = policy.on_file(404)
    assert gone.message("idx", "a-1.0.whl") == (
        "index 'idx' answered HTTP 404 for a-1.0.whl, which its project page lists"
    )
    assert policy.on_file(500).kind == "index-unreachable"
    # without 403 among its quarantine codes, a 403 file is a refusal of the credentials
    assert IndexPolicy("idx", quarantine_codes=frozenset()).on_file(403).kind == "auth-failure"
