"""Config errors name the file, the exact line, and the index by its name; ``${VAR}`` rules."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from indexgate.config import (
    CliOptions,
    config_from_yaml_text,
    expand_vars,
    load_settings,
    load_yaml_lines,
)
from indexgate.errors import InputError
from indexgate.sources.model import SourceSet

A = "https://a.example/simple/"
B = "https://b.example/simple/"
CONFIG = ".github/indexgate.yml"


def settings(tmp_path: Path, text: str, env: dict[str, str] | None = None, **cli: object):
    path = tmp_path / CONFIG
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    env = {"NETRC": str(tmp_path / "no-netrc"), **(env or {})}
    return load_settings(CliOptions(**cli), SourceSet(), cwd=tmp_path, env=env)


def error(tmp_path: Path, text: str, env: dict[str, str] | None = None, **cli) -> InputError:
    with pytest.raises(InputError) as info:
        settings(tmp_path, text, env, **cli)
    return info.value


# --- each config error names its line and the index by its name ------------------------------


def test_unknown_top_level_key_names_its_line_and_the_closest_key(tmp_path) -> None:
    text = f"index-strategy: first-index\n\nindexes:\n  - url: {A}\nplatform: [win_amd64]\n"
    err = error(tmp_path, text)
    assert (err.file, err.line) == (CONFIG, 5)
    assert "unknown key 'platform'; did you mean 'platforms'?" in err.problem
    assert "known: cert, concurrency," in err.problem  # the known keys are listed


def test_unknown_index_key_names_the_index_by_name_and_suggests(tmp_path) -> None:
    text = (
        f"indexes:\n  - name: other\n    url: {B}\n"
        f"  - name: internal\n    url: {A}\n\n    passwd: x\n"
    )
    err = error(tmp_path, text)
    assert err.line == 7
    assert err.problem.startswith(
        "index 'internal': unknown key 'passwd'; did you mean 'password'?"
    )


def test_an_index_without_a_name_is_named_by_its_url_without_credentials(tmp_path) -> None:
    text = "indexes:\n  - url: https://ci:s3cret@a.example/simple/\n    user_name: ci\n"
    err = error(tmp_path, text)
    assert err.line == 3
    assert err.problem.startswith(f"index {A}: unknown key 'user_name'; did you mean 'username'?")
    assert "s3cret" not in str(err)


def test_an_index_without_url_is_named_and_points_at_its_entry(tmp_path) -> None:
    text = f"indexes:\n  - name: a\n    url: {A}\n  - name: internal\n    explicit: true\n"
    err = error(tmp_path, text)
    assert (err.line, err.problem) == (4, "index 'internal' needs a `url`")
    # neither name nor url: its place in the list
    err = error(tmp_path, f"indexes:\n  - url: {A}\n  - explicit: true\n")
    assert (err.line, err.problem) == (3, "indexes[1] needs a `url`")
    # an empty url
    err = error(tmp_path, "indexes:\n  - name: x\n    url: ''\n")
    assert (err.line, err.problem) == (3, "index 'x' needs a `url`")


def test_two_indexes_with_one_name_name_both_lines(tmp_path) -> None:
    text = f"indexes:\n  - name: internal\n    url: {A}\n  - url: {B}\n    name: internal\n"
    err = error(tmp_path, text)
    assert err.line == 5
    assert "two indexes are named 'internal' (lines 2 and 5)" in err.problem
    # the same URL twice does not hide it
    err = error(tmp_path, text.replace(B, A))
    assert "(lines 2 and 5)" in err.problem


def test_a_config_name_clashing_with_a_command_line_index_names_both(tmp_path) -> None:
    err = error(tmp_path, f"indexes:\n  - name: x\n    url: {B}\n", indexes=[f"x={A}"])
    assert "two indexes are named 'x' (--index and .github/indexgate.yml:2)" in err.problem
    assert (err.file, err.line) == (CONFIG, 2)


@pytest.mark.parametrize(
    ("codes", "line", "words"),
    [
        (
            "quarantine-codes:\n      - 403\n      - 200\n",
            6,
            "quarantine-codes: 200 is not an HTTP error",
        ),
        (
            "quarantine-codes:\n      - 403\n      - forbidden\n",
            6,
            "'forbidden' is not an HTTP status",
        ),
        ("quarantine-codes: [403, 4o3]\n", 4, "quarantine-codes: '4o3' is not an HTTP status"),
        ("quarantine-codes: [403, 99]\n", 4, "99 is not an HTTP error status (400-599)"),
        ("quarantine-codes: [600]\n", 4, "600 is not an HTTP error status"),
        ("quarantine-codes: [true]\n", 4, "true/false is not an HTTP status code"),
        ("quarantine-codes: 403\n", 4, "`quarantine-codes` must be a list of HTTP status codes"),
        ("ignore-error-codes:\n      - 401\n\n      - 403.5\n", 7, "403.5 is not an HTTP status"),
        ("ignore-error-codes: {403: yes}\n", 4, "must be a list of HTTP status codes"),
    ],
)
def test_bad_status_codes_name_the_line_of_the_code(tmp_path, codes, line, words) -> None:
    err = error(tmp_path, f"indexes:\n  - name: internal\n    url: {A}\n    {codes}")
    assert err.line == line
    assert err.problem.startswith("index 'internal': ")
    assert words in err.problem


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (f"indexes:\n  - url: {A}\nindex-strategy: fastest\n", 3, "index-strategy must be one of"),
        (f"fallback: 2\nindexes:\n  - url: {A}\n", 1, "fallback must be one of"),
        (
            f"indexes:\n  - name: a\n    url: {A}\n\n    format: pep503\n",
            5,
            "format must be simple",
        ),
    ],
)
def test_bad_enum_values_name_their_line(tmp_path, text, line, words) -> None:
    err = error(tmp_path, text)
    assert (err.file, err.line) == (CONFIG, line)
    assert words in err.problem


@pytest.mark.parametrize(
    ("entry", "line", "words"),
    [
        (
            "    username: 123456\n",
            4,
            "`username` must be a string, not a number (put it in quotes)",
        ),
        ("    password: 0123\n", 4, "`password` must be a string, not a number"),
        ("    default: 'yes'\n", 4, "`default` must be true or false, not a string"),
        ("    explicit: 1\n", 4, "`explicit` must be true or false"),
        ("    cert: [a, b]\n", 4, "`cert` must be a string, not a list"),
        ("    upstream: {x: 1}\n", 4, "`upstream` must be a string, not a mapping"),
    ],
)
def test_wrong_types_in_an_index_name_their_line_never_their_value(
    tmp_path, entry, line, words
) -> None:
    err = error(tmp_path, f"indexes:\n  - name: internal\n    url: {A}\n{entry}")
    assert err.line == line
    assert words in err.problem
    assert "123456" not in str(err)


def test_an_empty_name(tmp_path) -> None:
    err = error(tmp_path, f"indexes:\n  - url: {A}\n    name: ''\n")
    assert (err.line, err.problem) == (3, f"index {A}: `name` is empty")


def test_an_entry_that_is_not_a_mapping(tmp_path) -> None:
    err = error(tmp_path, f"indexes:\n  - name: a\n    url: {A}\n  - {B}\n")
    assert err.line == 4
    assert "indexes[1] must be a mapping with name and url, not a string" in err.problem


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("python-versions: {a: 1}\n", 1, "python-versions must be a list of strings"),
        ("platforms:\n  - linux_x86_64\n  - [x]\n", 3, "platforms must be a list of strings"),
        ("pre: 'yes'\n", 1, "`pre` must be true or false"),
        ("sources: [a]\n", 1, "`sources` must map package names"),
        ("sources:\n  acme: [x]\n", 2, "sources: acme must name an index"),
        ("timeout: 0\n", 1, "`timeout` must be a number of seconds above 0 (got 0)"),
        ("max-time: soon\n", 1, "`max-time` must be a number of seconds above 0 (got a string)"),
        ("max-time: .inf\n", 1, "`max-time` must be a number of seconds above 0"),
        ("cert: 3\n", 1, "`cert` must be a path"),
        ("fail-on:\n  - blocked\n  - yanks\n", 3, "unknown value 'yanks'; did you mean 'yanked'?"),
        ("concurrency: true\n", 1, "`concurrency` must be a whole number"),
        ("indexes: 3\n", 1, "`indexes` must be a list"),
    ],
)
def test_wrong_top_level_types_name_their_line(tmp_path, text, line, words) -> None:
    err = error(tmp_path, text, indexes=[A])
    assert (err.file, err.line) == (CONFIG, line)
    assert words in err.problem


def test_values_checked_later_still_name_their_line(tmp_path) -> None:
    text = f"indexes:\n  - name: a\n    url: {A}\nsources:\n  x: a\n  acme: nowhere\n"
    err = error(tmp_path, text)
    assert err.line == 6 and "pinned to index 'nowhere'" in err.problem
    text = f"python-versions:\n  - '3.12'\n  - '2.7'\nindexes:\n  - url: {A}\n"
    err = error(tmp_path, text)
    assert err.line == 3 and "invalid Python version '2.7'" in err.problem
    text = f"indexes:\n  - name: a\n    url: {A}\n    upstream: nowhere\n"
    err = error(tmp_path, text)
    assert err.line == 4
    assert "index 'a': upstream 'nowhere' must name another configured index" in err.problem


def test_a_duplicate_key_in_one_mapping_is_an_error(tmp_path) -> None:
    text = f"indexes:\n  - name: a\n    url: {A}\n    password: one\n    password: two\n"
    err = error(tmp_path, text)
    assert err.line == 5
    assert "duplicate key 'password' (first on line 4)" in err.problem


def test_yaml_syntax_errors_name_line_and_column(tmp_path) -> None:
    err = error(tmp_path, f"indexes:\n  - name: a\n    url: {A}\n   bad: [\n")
    assert err.file == CONFIG and err.line == 4
    assert "invalid YAML (column " in err.problem
    err = error(tmp_path, "pre: 2024-02-30\n")  # a date YAML cannot build
    assert err.line == 1 and "invalid YAML" in err.problem


def test_a_file_that_is_not_utf8_names_the_line(tmp_path) -> None:
    path = tmp_path / CONFIG
    path.parent.mkdir(parents=True)
    path.write_bytes(b"indexes:\n  - url: https://a.example/\n    password: caf\xe9\n")
    with pytest.raises(InputError) as info:
        load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env={})
    assert (info.value.line, info.value.problem) == (3, "not UTF-8 text")


def test_anchors_and_merges_keep_working(tmp_path) -> None:
    text = (
        f"indexes:\n  - &base\n    name: a\n    url: {A}\n    quarantine-codes: [451]\n"
        f"  - <<: *base\n    name: b\n    url: {B}\n"
    )
    s = settings(tmp_path, text)
    assert [(i.name, sorted(i.quarantine_codes)) for i in s.indexes] == [("a", [451]), ("b", [451])]


# --- the keys other features add are known, and the simple ones parsed ------------------------


def test_new_keys_are_known_and_parsed(tmp_path) -> None:
    text = (
        "cert: ${CA_DIR}/ca.pem\ntimeout: 12.5\nmax-time: 300\nmax-body-size: 1000000\n"
        f"indexes:\n  - name: internal\n    url: {A}\n    cert: certs/internal.pem\n"
        "    client-cert: certs/client.pem\n    auth-check: acme-core\n    upstream: public\n"
        "    password-command: echo $TOKEN\n"
        f"  - name: public\n    url: {B}\n"
    )
    from support.tls import PrivateCa

    ca = PrivateCa(tmp_path / "ca")  # cert: files must exist and be PEM (exit 2 otherwise)
    internal_ca = PrivateCa(tmp_path / "certs", name="internal ca")
    internal_ca.cert.rename(tmp_path / "certs" / "internal.pem")
    internal_ca.issue("ci", client=True).combined.rename(tmp_path / "certs" / "client.pem")
    s = settings(tmp_path, text, env={"CA_DIR": str(ca.folder)})
    assert (s.cert, s.timeout, s.max_time) == (str(ca.cert), 12.5, 300.0)
    internal = s.index("internal")
    # Relative paths are read from the working directory and kept absolute.
    assert (internal.cert, internal.client_cert) == (
        str(tmp_path / "certs" / "internal.pem"),
        str(tmp_path / "certs" / "client.pem"),
    )
    assert (internal.auth_check, internal.upstream) == ("acme-core", "public")
    assert internal.keyring_provider is None  # one token provider per index (see below)
    assert internal.password_command == "echo $TOKEN"  # left to its shell
    assert "echo" not in repr(internal)
    public = s.index("public")
    assert (public.cert, public.upstream, public.password_command) == (None, None, None)
    default = settings(tmp_path, f"indexes:\n  - url: {A}\n")
    assert (default.cert, default.timeout, default.max_time) == (None, 60.0, 600.0)


def test_python_versions_are_read_as_written(tmp_path) -> None:
    s = settings(tmp_path, f"python-versions: [3.10, 3.9]\nindexes:\n  - url: {A}\n")
    assert [t.python for t in s.targets] == ["3.10", "3.9"]


# --- ${VAR} ---------------------------------------------------------------------------------


def test_an_unset_variable_names_file_line_and_variable(tmp_path) -> None:
    text = (
        f"indexes:\n  - name: internal\n    url: {A}\n"
        "    username: ci\n    password: ${NEXUS_TOKEN}\n"
    )
    err = error(tmp_path, text)
    assert (err.file, err.line) == (CONFIG, 5)
    assert err.problem.startswith(
        "index 'internal': password: environment variable NEXUS_TOKEN is not set"
    )
    err = error(tmp_path, text, env={"NEXUS_TOKEN": ""})
    assert "NEXUS_TOKEN is set but empty" in err.problem and err.line == 5
    (index,) = settings(tmp_path, text, env={"NEXUS_TOKEN": "tok"}).indexes
    assert index.auth == ("ci", "tok")


def test_an_unset_variable_in_a_url_or_cert(tmp_path) -> None:
    err = error(tmp_path, "indexes:\n  - name: a\n\n    url: https://${HOST}/simple/\n")
    assert err.line == 4 and "HOST is not set" in err.problem
    err = error(tmp_path, f"cert: ${{CA}}\nindexes:\n  - url: {A}\n")
    assert err.line == 1 and "CA is not set" in err.problem


def test_defaults_work_as_in_shells(tmp_path) -> None:
    text = (
        "indexes:\n  - name: a\n    url: ${INDEX_URL:-https://a.example/simple/}\n"
        "    username: ${USER_NAME-ci}\n    password: ${TOKEN:-}\n"
    )
    (index,) = settings(tmp_path, text).indexes
    assert (index.url, index.auth) == (A, ("ci", ""))
    env = {"INDEX_URL": B, "USER_NAME": "", "TOKEN": "t"}
    (index,) = settings(tmp_path, text, env=env).indexes
    assert (index.url, index.auth) == (B, ("", "t"))


def test_a_url_that_expands_to_nothing(tmp_path) -> None:
    err = error(tmp_path, "indexes:\n  - name: a\n    url: ${INDEX_URL:-}\n")
    assert err.line == 3 and "`url` is empty once its variables are expanded" in err.problem


def test_expand_vars() -> None:
    env = {"SET": "v", "EMPTY": ""}
    assert expand_vars("a${SET}b", env) == "avb"
    assert expand_vars("${EMPTY:-d}|${EMPTY-d}|${UNSET-d}|${UNSET:-}", env) == "d||d|"
    assert expand_vars("$${SET} and $$ and $SET", env) == "${SET} and $$ and $SET"
    with pytest.raises(InputError, match="environment variable UNSET is not set"):
        expand_vars("${UNSET}", env, file="f.yml", line=3)
    with pytest.raises(InputError, match=r"GitHub's \$\{\{ \}\} is not expanded here"):
        expand_vars("${{ secrets.TOKEN }}", env)
    with pytest.raises(InputError, match="malformed variable reference"):
        expand_vars("${SET", env)
    # lenient (masking secrets before the run): never raises
    assert expand_vars("${UNSET}|${EMPTY}|${{ x }}|${SET}", env, strict=False) == "||${{ x }}|v"


# --- the Action's `indexes` input -------------------------------------------------------------


def test_inline_indexes_are_checked_with_their_own_lines() -> None:
    label = "input `indexes`"
    text = f"- name: a\n  url: {A}\n- name: b\n  url: {B}\n  quarantine-codes: [403, 200]\n"
    with pytest.raises(InputError) as info:
        config_from_yaml_text(text, label)
    assert (info.value.file, info.value.line) == (label, 5)
    assert "index 'b': quarantine-codes: 200" in info.value.problem
    with pytest.raises(InputError) as info:
        config_from_yaml_text(f"- name: a\n  url: {A}\n- name: a\n  url: {B}\n", label)
    assert info.value.line == 3 and "(lines 1 and 3)" in info.value.problem
    with pytest.raises(InputError) as info:
        config_from_yaml_text(f"indexes:\n  - url: {A}\nfallback: next-version\n", label)
    assert info.value.line == 3 and "only `indexes` belongs here" in info.value.problem
    with pytest.raises(InputError) as info:
        config_from_yaml_text(f"- name: a\n  url: {A}\n  password: ${{T}}\n", label, env={})
    assert info.value.line == 3 and "T is not set" in info.value.problem


def test_inline_indexes_stay_plain_data_for_the_merged_config() -> None:
    text = f"indexes:\n  - name: a\n    url: {A}\n    quarantine-codes: [403]\n"
    entries = config_from_yaml_text(text, "input")
    assert type(entries) is list and type(entries[0]) is dict
    assert yaml.safe_load(yaml.safe_dump({"indexes": entries})) == {"indexes": entries}


def test_load_yaml_lines_records_keys_and_items() -> None:
    data, lines = load_yaml_lines("a:\n  - x\n\n  - {k: 1,\n     m: 2}\nb: 3\n", "t.yml")
    assert lines.at(data, "a") == 1 and lines.at(data, "b") == 6
    assert [lines.at(data["a"], i) for i in range(2)] == [2, 4]
    assert lines.at(data["a"][1], "m") == 5
    assert lines.at(data, "missing") == 1  # where the mapping begins


# --- the command line: exit 2, file:line, no traceback ----------------------------------------


def test_the_cli_exits_2_with_file_and_line_and_no_traceback(tmp_path) -> None:
    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "bad.yml").write_text(
        f"indexes:\n  - name: internal\n    url: {A}\n    quarantine-codes: [403, 200]\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INDEXGATE_", "UV_", "PIP_"))}
    run = subprocess.run(
        [sys.executable, "-m", "indexgate", "check", "--config", "bad.yml", "requirements.txt"],
        cwd=tmp_path,
        env={**env, "INDEXGATE_NO_CACHE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert "bad.yml:4: index 'internal': quarantine-codes: 200 is not an HTTP error" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_cli_exits_2_on_an_unset_variable(tmp_path, monkeypatch, capsys) -> None:
    from indexgate.cli import main

    (tmp_path / "requirements.txt").write_text("six\n")
    (tmp_path / "gate.yml").write_text(f"indexes:\n  - url: {A}\n    password: ${{IG_NOPE}}\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("IG_NOPE", raising=False)
    assert main(["check", "--config", "gate.yml", "requirements.txt"]) == 2
    err = capsys.readouterr().err
    assert f"gate.yml:3: index {A}: password: environment variable IG_NOPE is not set" in err
    assert "Traceback" not in err
