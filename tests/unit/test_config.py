"""load_settings: index order, credentials, per-index codes, targets and config errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from indexgate.config import load_settings
from indexgate.errors import InputError, Origin
from indexgate.policy import Fallback, Strategy
from indexgate.settings import CliOptions
from indexgate.sources.model import IndexHint, SourceSet
from indexgate.sources.uv_settings import UvIndex

A = "https://a.example/simple/"
B = "https://b.example/simple/"
C = "https://c.example/simple/"
D = "https://d.example/simple/"
PYTORCH = "https://download.pytorch.org/whl/cpu/"


def settings(
    tmp_path: Path,
    *,
    config_text: str | None = None,
    env: dict[str, str] | None = None,
    sources: SourceSet | None = None,
    **cli: object,
):
    if config_text is not None:
        path = tmp_path / ".github" / "indexgate.yml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config_text)
    env = {"NETRC": str(tmp_path / "no-netrc"), **(env or {})}
    return load_settings(CliOptions(**cli), sources or SourceSet(), cwd=tmp_path, env=env)


def order(s) -> list[tuple[str, str]]:
    return [(i.name, i.url) for i in s.indexes]


# --- index order ----------------------------------------------------------------------------


def test_command_line_indexes_keep_their_order_and_the_default_is_last(tmp_path) -> None:
    s = settings(tmp_path, indexes=[f"first={A}", f"second={B}"], default_index=C)
    assert order(s) == [("first", A), ("second", B), ("c.example", C)]
    assert [i.default for i in s.indexes] == [False, False, True]


def test_extra_index_url_ranks_above_index_url(tmp_path) -> None:
    s = settings(tmp_path, index_url=A, extra_index_urls=[B, C])
    assert [i.url for i in s.indexes] == [B, C, A]
    assert s.indexes[-1].default


def test_priority_across_command_line_config_pip_and_uv(tmp_path) -> None:
    sources = SourceSet(
        index_hints=[IndexHint(C, "extra-index-url", Origin("requirements.txt", 1))],
        uv_indexes=[UvIndex(D, Origin("pyproject.toml", 5), name="uvidx")],
    )
    config = f"indexes:\n  - name: cfg\n    url: {B}\n"
    s = settings(
        tmp_path,
        config_text=config,
        sources=sources,
        indexes=[f"cli={A}"],
        env={"PIP_EXTRA_INDEX_URL": "https://e.example/simple/"},
    )
    assert [i.name for i in s.indexes] == ["cli", "cfg", "c.example", "e.example", "uvidx"]
    assert s.indexes[2].origin == "requirements.txt:1"


def test_only_the_highest_priority_default_counts(tmp_path) -> None:
    sources = SourceSet(uv_indexes=[UvIndex(D, Origin("pyproject.toml", 3), default=True)])
    s = settings(tmp_path, sources=sources, default_index=A, env={"PIP_INDEX_URL": B})
    assert [i.url for i in s.indexes] == [A]


def test_uv_and_pip_environment_defaults(tmp_path) -> None:
    s = settings(tmp_path, env={"UV_DEFAULT_INDEX": A, "UV_INDEX": f"named={B} {C}"})
    assert order(s) == [("named", B), ("c.example", C), ("a.example", A)]


def test_duplicate_urls_are_merged_and_derived_names_stay_unique(tmp_path) -> None:
    s = settings(
        tmp_path,
        indexes=[A, "https://ci:pw@a.example/simple/", "https://a.example/other/"],
    )
    assert order(s) == [("a.example", A), ("a.example-2", "https://a.example/other/")]


def test_pypi_is_named_pypi_and_never_added(tmp_path) -> None:
    s = settings(tmp_path, indexes=["https://pypi.org/simple"])
    assert order(s) == [("pypi", "https://pypi.org/simple/")]
    with pytest.raises(InputError, match="no index configured"):
        settings(tmp_path)


def test_uv_indexes_without_a_default_say_pypi_was_not_checked(tmp_path) -> None:
    sources = SourceSet(uv_indexes=[UvIndex(A, Origin("pyproject.toml", 3), name="internal")])
    s = settings(tmp_path, sources=sources)
    (warning,) = s.warnings
    assert warning.kind == "unchecked-default-index"
    assert "https://pypi.org/simple/" in warning.message
    assert settings(tmp_path, sources=sources, default_index=B).warnings == ()


def test_local_folders_become_file_urls(tmp_path) -> None:
    (tmp_path / "wheels").mkdir()
    config = "indexes:\n  - name: local\n    url: wheels\n    format: flat\n"
    (index,) = settings(tmp_path, config_text=config).indexes
    assert index.url == (tmp_path / "wheels").resolve().as_uri() + "/"
    assert index.format == "flat"


def test_duplicate_index_names_are_an_error(tmp_path) -> None:
    with pytest.raises(InputError, match="two indexes are named 'x'"):
        settings(tmp_path, indexes=[f"x={A}", f"x={B}"])


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        # U+FF03 (fullwidth '#') becomes '#' under NFKC: urllib refuses the netloc and quotes it
        ("https://user:s\uff03cret@a.example/simple/", "Unicode normalization"),
        ("https://user:s3cret@a.example:abc/simple/", "Port could not be cast"),
        ("https://user:s3cret@[::1/simple/", "Invalid IPv6 URL"),
    ],
)
def test_an_index_url_that_cannot_be_read_is_an_input_error_without_its_password(
    tmp_path, url: str, reason: str
) -> None:
    with pytest.raises(InputError) as raised:
        settings(tmp_path, index_url=url)
    message = str(raised.value)
    assert message.startswith("--index-url: the index URL https://***@")
    assert reason in message
    assert "cret" not in message


def test_an_unreadable_index_url_in_the_config_names_its_line(tmp_path) -> None:
    config = "indexes:\n  - name: corp\n    url: https://u:s\uff03cret@a.example/simple/\n"
    with pytest.raises(InputError) as raised:
        settings(tmp_path, config_text=config)
    assert (raised.value.file, raised.value.line) == (".github/indexgate.yml", 2)  # its entry
    assert "cret" not in str(raised.value)


# --- ignore-error-codes and quarantine-codes -----------------------------------------------


def test_codes_default(tmp_path) -> None:
    (index,) = settings(tmp_path, indexes=[A]).indexes
    assert index.ignore_error_codes == frozenset()
    assert index.quarantine_codes == frozenset({403})


def test_pytorch_ignores_403_by_default(tmp_path) -> None:
    (index,) = settings(tmp_path, indexes=[PYTORCH]).indexes
    assert index.ignore_error_codes == frozenset({403})


def test_an_explicit_empty_list_overrides_the_pytorch_default(tmp_path) -> None:
    config = f"indexes:\n  - name: torch\n    url: {PYTORCH}\n    ignore-error-codes: []\n"
    (index,) = settings(tmp_path, config_text=config).indexes
    assert index.ignore_error_codes == frozenset()
    # the same from the environment, for a command-line index
    (index,) = settings(
        tmp_path, indexes=[f"torch={PYTORCH}"], env={"INDEXGATE_INDEX_TORCH_IGNORE_ERROR_CODES": ""}
    ).indexes
    assert index.ignore_error_codes == frozenset()
    # and from [[tool.uv.index]]
    sources = SourceSet(
        uv_indexes=[UvIndex(PYTORCH, Origin("pyproject.toml", 3), "torch", ignore_error_codes=())]
    )
    (index,) = settings(tmp_path, sources=sources).indexes
    assert index.ignore_error_codes == frozenset()


def test_codes_from_the_config_file(tmp_path) -> None:
    config = (
        f"indexes:\n  - name: nexus\n    url: {A}\n"
        "    ignore-error-codes: [403]\n    quarantine-codes: [403, 451]\n"
    )
    (index,) = settings(tmp_path, config_text=config).indexes
    assert index.ignore_error_codes == frozenset({403})
    assert index.quarantine_codes == frozenset({403, 451})


def test_codes_from_the_environment_win_over_the_config(tmp_path) -> None:
    config = f"indexes:\n  - name: my-nexus\n    url: {A}\n    ignore-error-codes: [403]\n"
    env = {
        "INDEXGATE_INDEX_MY_NEXUS_IGNORE_ERROR_CODES": "401, 403",
        "INDEXGATE_INDEX_MY_NEXUS_QUARANTINE_CODES": "451",
    }
    (index,) = settings(tmp_path, config_text=config, env=env).indexes
    assert index.ignore_error_codes == frozenset({401, 403})
    assert index.quarantine_codes == frozenset({451})


@pytest.mark.parametrize("value", ["forbidden", "403,abc", "200", "99"])
def test_bad_codes_in_the_environment(tmp_path, value) -> None:
    env = {"INDEXGATE_INDEX_X_QUARANTINE_CODES": value}
    with pytest.raises(InputError, match="INDEXGATE_INDEX_X_QUARANTINE_CODES"):
        settings(tmp_path, indexes=[f"x={A}"], env=env)


@pytest.mark.parametrize("value", ["403", "[forbidden]", "[200]", "{a: 1}"])
def test_bad_codes_in_the_config(tmp_path, value) -> None:
    config = f"indexes:\n  - name: x\n    url: {A}\n    quarantine-codes: {value}\n"
    with pytest.raises(InputError) as info:
        settings(tmp_path, config_text=config)
    assert str(info.value).startswith(".github/indexgate.yml")
    assert "quarantine-codes" in str(info.value)


# --- credentials --------------------------------------------------------------------------


def _netrc(tmp_path: Path, host: str, login: str, password: str) -> str:
    path = tmp_path / "netrc"
    path.write_text(f"machine {host}\nlogin {login}\npassword {password}\n")
    path.chmod(0o600)
    return str(path)


def test_credentials_precedence(tmp_path) -> None:
    url = "https://urluser:urlpass@a.example/simple/"
    config = (
        f"indexes:\n  - name: my-idx\n    url: {url}\n"
        # `:-`: an unset variable is empty here (a plain ${VAR} unset is an error), so the
        # next source of credentials is used
        "    username: ${CFG_USER:-}\n    password: ${CFG_PASS:-}\n"
    )
    env = {
        "CFG_USER": "cfg",
        "CFG_PASS": "cfg-pw",
        "INDEXGATE_INDEX_MY_IDX_USERNAME": "ig",
        "INDEXGATE_INDEX_MY_IDX_PASSWORD": "ig-pw",
        "UV_INDEX_MY_IDX_USERNAME": "uv",
        "UV_INDEX_MY_IDX_PASSWORD": "uv-pw",
        "NETRC": _netrc(tmp_path, "a.example", "nrc", "nrc-pw"),
    }

    def auth(**changes):
        current = {**env, **changes}
        current = {k: v for k, v in current.items() if v is not None}
        (index,) = load_settings(CliOptions(), SourceSet(), cwd=tmp_path, env=current).indexes
        return index.auth

    path = tmp_path / ".github" / "indexgate.yml"
    path.parent.mkdir(parents=True)
    path.write_text(config)
    assert auth() == ("cfg", "cfg-pw")
    assert auth(CFG_USER=None, CFG_PASS=None) == ("ig", "ig-pw")
    assert auth(
        CFG_USER=None,
        CFG_PASS=None,
        INDEXGATE_INDEX_MY_IDX_USERNAME=None,
        INDEXGATE_INDEX_MY_IDX_PASSWORD=None,
    ) == ("uv", "uv-pw")
    none = dict.fromkeys(
        [
            "CFG_USER",
            "CFG_PASS",
            "INDEXGATE_INDEX_MY_IDX_USERNAME",
            "INDEXGATE_INDEX_MY_IDX_PASSWORD",
            "UV_INDEX_MY_IDX_USERNAME",
            "UV_INDEX_MY_IDX_PASSWORD",
        ]
    )
    assert auth(**none) == ("urluser", "urlpass")
    path.write_text(config.replace("urluser:urlpass@", ""))
    assert auth(**none) == ("nrc", "nrc-pw")
    assert auth(**none, NETRC=str(tmp_path / "missing")) is None


def test_url_userinfo_is_stripped_and_decoded(tmp_path) -> None:
    (index,) = settings(tmp_path, indexes=["x=https://ci%40corp:p%3Ass@a.example/simple/"]).indexes
    assert index.url == A
    assert index.auth == ("ci@corp", "p:ss")
    assert "p:ss" not in repr(index)


def test_a_token_alone_is_a_password(tmp_path) -> None:
    env = {"INDEXGATE_INDEX_X_PASSWORD": "tok"}
    (index,) = settings(tmp_path, indexes=[f"x={A}"], env=env).indexes
    assert index.auth == ("", "tok")


def test_credentials_are_registered_for_redaction(tmp_path) -> None:
    from indexgate.redact import redact

    env = {"INDEXGATE_INDEX_X_USERNAME": "u", "INDEXGATE_INDEX_X_PASSWORD": "s3cr3t-value-42"}
    settings(tmp_path, indexes=[f"x={A}"], env=env)
    assert "s3cr3t-value-42" not in redact("oops: s3cr3t-value-42 leaked")


def test_a_broken_netrc_is_bad_input(tmp_path) -> None:
    path = tmp_path / "netrc"
    path.write_text("machine a.example login x password y bogus\n")
    path.chmod(0o600)
    with pytest.raises(InputError, match="netrc"):
        settings(tmp_path, indexes=[A], env={"NETRC": str(path)})


# --- strategy, targets, sources, fail-on ---------------------------------------------------


def test_defaults(tmp_path) -> None:
    s = settings(tmp_path, indexes=[A])
    assert s.strategy is Strategy.FIRST_INDEX
    assert s.fallback is Fallback.NEXT_VERSION
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert [(t.python, t.platform) for t in s.targets] == [(running, "linux_x86_64")]


def test_targets_are_every_python_on_every_platform(tmp_path) -> None:
    s = settings(
        tmp_path,
        indexes=[A],
        python_versions=["3.11", "3.12"],
        platforms=["linux_x86_64", "win_amd64"],
    )
    assert [(t.python, t.platform) for t in s.targets] == [
        ("3.11", "linux_x86_64"),
        ("3.11", "win_amd64"),
        ("3.12", "linux_x86_64"),
        ("3.12", "win_amd64"),
    ]


def test_requires_python_floor_is_the_default_target(tmp_path) -> None:
    s = settings(tmp_path, indexes=[A], sources=SourceSet(requires_python=SpecifierSet(">=3.10")))
    assert [t.python for t in s.targets] == ["3.10"]


def test_config_file_settings_and_command_line_overrides(tmp_path) -> None:
    config = (
        "index-strategy: unsafe-best-match\nfallback: next-distribution\n"
        'python-versions: ["3.10"]\nplatforms: [win_amd64]\nfail-on: [blocked]\n'
        f"indexes:\n  - name: a\n    url: {A}\n"
    )
    s = settings(tmp_path, config_text=config)
    assert (s.strategy, s.fallback) == (Strategy.UNSAFE_BEST_MATCH, Fallback.NEXT_DISTRIBUTION)
    assert [(t.python, t.platform) for t in s.targets] == [("3.10", "win_amd64")]
    assert s.fail_on == frozenset({"blocked"})
    s = settings(
        tmp_path,
        config_text=config,
        strategy="first-index",
        python_versions=["3.12"],
        fallback=None,
    )
    assert s.strategy is Strategy.FIRST_INDEX
    assert [t.python for t in s.targets] == ["3.12"]


def test_sources_pin_packages_to_configured_indexes(tmp_path) -> None:
    config = (
        f"indexes:\n  - name: internal\n    url: {A}\n    explicit: true\n"
        f"  - name: public\n    url: {B}\nsources:\n  Acme_Core: internal\n"
    )
    s = settings(tmp_path, config_text=config)
    assert s.sources == {"acme-core": "internal"}
    assert s.index("internal").explicit
    with pytest.raises(InputError, match="pinned to index 'nowhere'"):
        settings(tmp_path, config_text=config.replace("Acme_Core: internal", "x: nowhere"))


def test_unknown_fail_on_value(tmp_path) -> None:
    with pytest.raises(InputError, match="unknown --fail-on"):
        settings(tmp_path, indexes=[A], fail_on=["blocked,everything"])
    assert settings(tmp_path, indexes=[A], fail_on=["blocked,yanked"]).fail_on == {
        "blocked",
        "yanked",
    }


@pytest.mark.parametrize(
    ("config", "line", "words"),
    [
        ("index-strategy: first-index\nindexs: []\n", 2, "unknown key 'indexs'"),
        ("indexes:\n  - name: a\n    url: [oops\n", 4, "invalid YAML"),
        (f"indexes:\n  - name: a\n    url: {A}\n    passwd: x\n", 4, "unknown key 'passwd'"),
        (f"indexes:\n  - name: a\n    url: {A}\n    format: pep503\n", 4, "format must be"),
        ("indexes: {a: 1}\n", 1, "must be a list"),
        ("- just\n- a list\n", 1, "must be a mapping"),
        (f"indexes:\n  - url: {A}\nconcurrency: lots\n", 3, "`concurrency` must be a whole"),
        (f"indexes:\n  - url: {A}\nconcurrency: 0\n", 3, "1 or more (got 0)"),
    ],
)
def test_config_errors_name_the_file_and_line(tmp_path, config, line, words) -> None:
    with pytest.raises(InputError) as info:
        settings(tmp_path, config_text=config)
    assert (info.value.file, info.value.line) == (".github/indexgate.yml", line)
    assert words in str(info.value)


def test_config_without_url_and_bad_enum(tmp_path) -> None:
    with pytest.raises(InputError, match="index 'a' needs a `url`") as info:
        settings(tmp_path, config_text="indexes:\n  - name: a\n")
    assert info.value.line == 2
    with pytest.raises(InputError, match="index-strategy must be one of"):
        settings(tmp_path, config_text=f"index-strategy: fastest\nindexes:\n  - url: {A}\n")


def test_explicit_config_path_and_missing_file(tmp_path) -> None:
    (tmp_path / "gate.yml").write_text(f"indexes:\n  - name: g\n    url: {A}\n")
    assert [i.name for i in settings(tmp_path, config="gate.yml").indexes] == ["g"]
    with pytest.raises(InputError, match="config file not found"):
        settings(tmp_path, config="missing.yml")


def test_bad_python_version_names_its_source(tmp_path) -> None:
    with pytest.raises(InputError, match="invalid Python version"):
        settings(tmp_path, indexes=[A], python_versions=["3.x"])
    config = f"python-versions: ['2.7']\nindexes:\n  - url: {A}\n"
    with pytest.raises(InputError) as info:
        settings(tmp_path, config_text=config)
    assert info.value.file == ".github/indexgate.yml"


def test_concurrency_defaults_to_uvs_and_the_config_can_lower_it(tmp_path) -> None:
    assert settings(tmp_path, indexes=[A]).concurrency == 50
    lowered = settings(tmp_path, config_text=f"indexes:\n  - url: {A}\nconcurrency: 8\n")
    assert lowered.concurrency == 8
