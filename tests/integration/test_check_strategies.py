"""Index strategies and project-page auth answers, against real pypiservers (issue 2).

The private index (htpasswd, ``--disable-fallback``) has ``acme-core`` and two versions of
``shared``; the public one has newer ``shared`` versions, a same-named ``acme-core 9.0`` (the
dependency-confusion bait) and ``pubonly``.
"""

from __future__ import annotations

import pytest
from support.packages import wheel

PRIVATE = [wheel("acme-core", "1.0", "shared>=1"), "shared==1.0", "shared==1.1"]
PUBLIC = ["shared==2.0", "shared==1.5", "acme-core==9.0", "pubonly==1.0"]


@pytest.fixture
def indexes(private_index, public_index):
    return private_index(PRIVATE), public_index(PUBLIC)


def _args(private, public, *extra: str) -> list[str]:
    return ["--index", f"private={private.url}", "--index", f"public={public.url}", *extra]


def _pinned(private, public, source: str, *, explicit: bool = False) -> str:
    """A config of both indexes, private first (``explicit`` when asked), whose
    ``sources:`` pins ``source`` (``"package: index"``)."""
    flag = "    explicit: true\n" if explicit else ""
    return (
        f"indexes:\n  - name: private\n    url: {private.url}\n{flag}"
        f"  - name: public\n    url: {public.url}\nsources:\n  {source}\n"
    )


def _creds(private, password: str | None = None) -> dict[str, str]:
    user, real = private.credentials
    return {
        "INDEXGATE_INDEX_PRIVATE_USERNAME": user,
        "INDEXGATE_INDEX_PRIVATE_PASSWORD": real if password is None else password,
    }


def test_first_index_takes_each_package_from_the_first_index_that_has_it(cli, indexes) -> None:
    private, public = indexes
    run = cli.run(
        *_args(private, public),
        requirements="acme-core\nshared\npubonly\n",
        env=_creds(private),
    )
    assert run.code == 0, run.out + run.err
    assert run.versions() == {"acme-core": "1.0", "shared": "1.1", "pubonly": "1.0"}
    assert run.resolved("acme-core")["index"] == "private"
    assert run.resolved("shared")["index"] == "private"  # public's 2.0 is never considered
    assert run.resolved("pubonly")["index"] == "public"
    # what the private index has is never asked of the public one
    assert public.requests_for("/simple/acme-core/") == []
    assert public.requests_for("/simple/shared/") == []


def test_404_on_the_first_index_falls_through_to_the_next(cli, indexes) -> None:
    private, public = indexes
    run = cli.run(*_args(private, public), requirements="pubonly\n", env=_creds(private))
    assert run.code == 0, run.out + run.err
    assert [e.status for e in private.requests_for("/simple/pubonly/")] == [404]
    assert [e.status for e in public.requests_for("/simple/pubonly/")] == [200]
    assert run.resolved("pubonly")["index"] == "public"


def test_unsafe_first_match_uses_every_version_of_the_first_index_before_the_next(
    cli, indexes
) -> None:
    private, public = indexes
    args = _args(private, public, "--index-strategy", "unsafe-first-match")
    # private has 1.0 and 1.1; public's 2.0 and 1.5 come only after both
    run = cli.run(*args, requirements="shared!=1.1\n", env=_creds(private))
    # private's shared is not public's (other files): the resolution stands, the gate fails
    assert run.code == 1, run.out + run.err
    assert [e["kind"] for e in run.errors()] == ["shadowed-name"]
    assert run.resolved("shared") | {"requested_by": None} == {
        "name": "shared",
        "version": "1.0",
        "index": "private",
        "file": "shared-1.0-py3-none-any.whl",
        "requested_by": None,
    }
    # nothing on the first index fits: the next index's versions, newest first
    run = cli.run(*args, requirements="shared>=1.2\n")
    assert run.code == 1, run.out + run.err
    assert [e["kind"] for e in run.errors()] == ["shadowed-name"]
    assert (run.resolved("shared")["version"], run.resolved("shared")["index"]) == ("2.0", "public")


def test_unsafe_best_match_takes_the_best_version_from_any_index(cli, indexes) -> None:
    private, public = indexes
    args = _args(private, public, "--index-strategy", "unsafe-best-match")
    run = cli.run(*args, requirements="acme-core\nshared\n", env=_creds(private))
    # the public acme-core 9.0 wins: exactly the hole first-index closes...
    assert run.versions() == {"acme-core": "9.0", "shared": "2.0"}
    assert {r["index"] for r in run.target["resolution"]} == {"public"}
    assert run.warnings("skipped-index") == []
    # ...so the gate fails, naming both indexes of each shadowed name (issue 13)
    assert run.code == 1, run.out + run.err
    errors = {e["package"]: e for e in run.errors("shadowed-name")}
    assert set(errors) == {"acme-core", "shared"}
    acme = errors["acme-core"]
    assert (acme["index"], acme["file"], acme["line"]) == ("private", "requirements.txt", 1)
    assert "'private'" in acme["message"] and "'public' (9.0)" in acme["message"]


# A wrong password is caught earlier, by the auth check (test_index_realities.py).
@pytest.mark.parametrize(("password", "status"), [(None, 401)], ids=["401"])
def test_auth_failure_under_first_index_never_reaches_the_public_index(
    cli, indexes, password, status
) -> None:
    private, public = indexes
    env = {} if password is None else _creds(private, password)
    run = cli.run(*_args(private, public), requirements="acme-core\n", env=env)
    assert run.code == 1
    assert run.report["status"] == "fail"
    (error,) = run.errors()
    assert error["kind"] == "auth-failure"
    assert error["package"] == "acme-core"
    assert error["index"] == "private"
    assert error["status_code"] == status
    assert (error["file"], error["line"]) == ("requirements.txt", 1)
    message = error["message"]
    assert private.url in message  # the index's (credential-free) URL
    assert f"HTTP {status}" in message
    assert "acme-core" in message
    assert "credentials" in message
    if status == 403:
        assert "ignore-error-codes" in message  # how to opt in, when 403 means "not here"
    assert [e.status for e in private.requests_for("/simple/acme-core/")] == [status]
    assert public.requests_for("/simple/acme-core/") == []
    assert "auth-failure" in run.out
    if password is not None:
        assert password not in run.everything()


def test_ignore_error_codes_do_not_excuse_credentials_that_fail_the_auth_check(
    cli, indexes
) -> None:
    """403 in ignore-error-codes means "not here" for a project page; a wrong password is
    caught before any project page is asked (issue 16), so nothing falls through."""
    private, public = indexes
    config = f"""\
indexes:
  - name: private
    url: {private.url}
    username: ${{PRIVATE_USER}}
    password: ${{PRIVATE_PASSWORD}}
    ignore-error-codes: [403]
  - name: public
    url: {public.url}
"""
    env = {"PRIVATE_USER": "ci", "PRIVATE_PASSWORD": "not-the-password"}
    run = cli.run(requirements="acme-core\n", config=config, env=env)
    assert run.code == 1, run.out + run.err
    assert [(e["kind"], e["index"], e["status_code"]) for e in run.errors()] == [
        ("auth-failure", "private", 403)
    ]
    assert private.requests_for("/simple/acme-core/") == []
    assert public.requests_for("/simple/acme-core/") == []


def test_ignore_error_codes_from_the_environment_for_a_command_line_index(cli, indexes) -> None:
    private, public = indexes
    # without credentials the private index answers 401 (no auth check: nothing to prove);
    # 401 is not the listed code, so it is still fatal
    env = {"INDEXGATE_INDEX_PRIVATE_IGNORE_ERROR_CODES": "403"}
    run = cli.run(*_args(private, public), requirements="acme-core\n", env=env)
    assert run.code == 1
    assert [(e["kind"], e["status_code"]) for e in run.errors()] == [("auth-failure", 401)]
    assert public.requests_for("/simple/acme-core/") == []
    # listed, it falls through to the next index
    env = {"INDEXGATE_INDEX_PRIVATE_IGNORE_ERROR_CODES": "401"}
    run = cli.run(*_args(private, public), requirements="acme-core\n", env=env)
    assert run.code == 0, run.out + run.err
    assert run.resolved("acme-core")["index"] == "public"


@pytest.mark.parametrize("strategy", ["unsafe-first-match", "unsafe-best-match"])
def test_unsafe_strategies_still_fail_credentials_that_fail_the_auth_check(
    cli, indexes, strategy
) -> None:
    private, public = indexes
    run = cli.run(
        *_args(private, public, "--index-strategy", strategy),
        requirements="shared\n",
        env=_creds(private, "wrong-password"),
    )
    assert run.code == 1, run.out + run.err
    assert [(e["kind"], e["index"]) for e in run.errors()] == [("auth-failure", "private")]
    assert public.requests_for("/simple/shared/") == []


@pytest.mark.parametrize("strategy", ["unsafe-first-match", "unsafe-best-match"])
@pytest.mark.parametrize(("password", "status"), [(None, 401)], ids=["401"])
def test_unsafe_strategies_skip_a_refusing_index_with_a_warning(
    cli, indexes, strategy, password, status
) -> None:
    """Without credentials there is nothing to prove: the page's 401 skips the index."""
    private, public = indexes
    env = {} if password is None else _creds(private, password)
    run = cli.run(
        *_args(private, public, "--index-strategy", strategy),
        requirements="shared\n",
        env=env,
    )
    assert run.code == 0, run.out + run.err
    assert run.resolved("shared") | {"requested_by": None} == {
        "name": "shared",
        "version": "2.0",
        "index": "public",
        "file": "shared-2.0-py3-none-any.whl",
        "requested_by": None,
    }
    (warning,) = run.warnings()
    assert warning["kind"] == "skipped-index"
    assert (warning["package"], warning["index"], warning["status_code"]) == (
        "shared",
        "private",
        status,
    )
    assert "skipped-index" in run.out  # nothing is silent


def test_explicit_index_is_used_only_through_sources(cli, indexes) -> None:
    private, public = indexes
    config = _pinned(private, public, "acme-core: private", explicit=True)
    run = cli.run(requirements="acme-core\nshared\n", config=config, env=_creds(private))
    assert run.code == 0, run.out + run.err
    # acme-core is pinned to the private index; its dependency `shared` is not, and the
    # explicit private index is never asked for it although it lists the package
    assert run.versions() == {"acme-core": "1.0", "shared": "2.0"}
    assert run.resolved("acme-core")["index"] == "private"
    assert run.resolved("shared")["index"] == "public"
    assert private.requests_for("/simple/shared/") == []
    assert public.requests_for("/simple/acme-core/") == []


def test_a_package_pinned_by_sources_never_comes_from_another_index(cli, indexes) -> None:
    private, public = indexes
    config = _pinned(private, public, "pubonly: private")
    run = cli.run(requirements="pubonly\n", config=config, env=_creds(private))
    assert run.code == 1
    (error,) = run.errors()
    assert error["kind"] == "no-solution"
    assert error["package"] == "pubonly"
    assert "private" in error["message"]
    assert public.requests_for("/simple/pubonly/") == []


def test_a_pinned_source_wins_over_an_earlier_index(cli, indexes) -> None:
    private, public = indexes
    config = _pinned(private, public, "shared: public")
    run = cli.run(requirements="shared\n", config=config, env=_creds(private))
    assert run.code == 0, run.out + run.err
    assert (run.resolved("shared")["version"], run.resolved("shared")["index"]) == ("2.0", "public")
    assert private.requests_for("/simple/shared/") == []


def test_an_auth_failure_on_a_transitive_dependency_points_at_the_direct_requirement(
    cli, dev_index, public_index
) -> None:
    private = dev_index(PRIVATE, page_status={"shared": 403})
    public = public_index(PUBLIC)
    run = cli.run(
        "--index",
        f"private={private.url}",
        "--index",
        f"public={public.url}",
        requirements="# internal\nacme-core\n",
    )
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"], error["status_code"]) == (
        "auth-failure",
        "shared",
        403,
    )
    assert (error["file"], error["line"]) == ("requirements.txt", 2)
    assert public.requests_for("/simple/shared/") == []


def test_a_package_only_on_a_skipped_index_fails_and_names_the_refusal(cli, indexes) -> None:
    private, public = indexes
    run = cli.run(
        *_args(private, public, "--index-strategy", "unsafe-first-match"),
        requirements="acme-core<2\n",
    )
    assert run.code == 1
    (error,) = run.errors()
    assert (error["kind"], error["package"]) == ("no-solution", "acme-core")
    assert "private (HTTP 401)" in error["message"]
    assert [w["kind"] for w in run.warnings()] == ["skipped-index"]
