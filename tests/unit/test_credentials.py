"""``indexgate.credentials`` is the one home of credential discovery: the run's order of
sources, and the Action's masking, which must cover every environment source the run reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexgate.credentials import discover, secrets_in_config, secrets_in_env, url_secrets

URL = "https://nexus.corp.example/simple/"


def test_sources_are_taken_in_order_first_found_wins(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine nexus.corp.example login n-user password n-pass\n")
    env = {
        "NETRC": str(netrc),
        "INDEXGATE_INDEX_CORP_USERNAME": "ig-user",
        "INDEXGATE_INDEX_CORP_PASSWORD": "ig-pass",
        "UV_INDEX_CORP_USERNAME": "uv-user",
        "UV_INDEX_CORP_PASSWORD": "uv-pass",
    }
    userinfo = "https://u-user:u-pass@nexus.corp.example/simple/"
    assert discover("corp", userinfo, "c-user", "c-pass", env) == ("c-user", "c-pass")
    assert discover("corp", userinfo, None, None, env) == ("ig-user", "ig-pass")
    del env["INDEXGATE_INDEX_CORP_USERNAME"], env["INDEXGATE_INDEX_CORP_PASSWORD"]
    assert discover("corp", userinfo, None, None, env) == ("uv-user", "uv-pass")
    del env["UV_INDEX_CORP_USERNAME"], env["UV_INDEX_CORP_PASSWORD"]
    assert discover("corp", userinfo, None, None, env) == ("u-user", "u-pass")
    assert discover("corp", URL, None, None, env) == ("n-user", "n-pass")
    assert discover("corp", URL, None, None, {"NETRC": str(tmp_path / "none")}) == (None, None)


@pytest.mark.parametrize("prefix", ["INDEXGATE_INDEX", "UV_INDEX"])
def test_masking_covers_every_password_variable_the_run_reads(prefix: str) -> None:
    env = {f"{prefix}_MY_CORP_USERNAME": "someone", f"{prefix}_MY_CORP_PASSWORD": "s3cret-pw"}
    _user, password = discover("my-corp", URL, None, None, env)
    assert password == "s3cret-pw"
    assert password in secrets_in_env(env)


def test_masking_reads_url_userinfo_and_config_passwords() -> None:
    env = {"PIP_EXTRA_INDEX_URL": "https://tok%40en@a.example/simple/", "PW": "from-env"}
    assert secrets_in_env(env) == {"tok%40en", "tok@en"}
    assert url_secrets("corp=https://u:p%2Fw@h.example/simple/") == {"p%2Fw", "p/w"}
    config = {"indexes": [{"url": "https://u:url-pw@h.example/", "password": "${PW}"}]}
    found = secrets_in_config(config, lambda v: v.replace("${PW}", env["PW"]))
    assert found == {"url-pw", "from-env"}


def test_a_request_that_read_the_credentials_before_a_refresh_does_not_restore_them() -> None:
    """A request reads its credentials, waits for a slot, and meanwhile they are
    refreshed: its late header is of the old ones, and every later request's of the new."""
    from indexgate.index.origin_auth import OriginCredentials, basic
    from indexgate.index.transport.base import origin_of

    url = "https://idx.example/simple/"
    creds = OriginCredentials()
    creds.add(url, ("ci", "old"))
    origin = origin_of(url)

    assert creds.authorization(origin, ("ci", "old"), url) == basic("ci", "old")
    assert creds.authorization(origin, ("ci", "new"), url) == basic("ci", "new")
    assert creds.authorization(origin, ("ci", "old"), url) == basic("ci", "old")  # the late one
    assert creds.authorization(origin, ("ci", "new"), url) == basic("ci", "new")
