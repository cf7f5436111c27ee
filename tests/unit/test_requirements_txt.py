"""pip requirements syntax: what each line becomes, and where each error points."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from indexgate.errors import InputError, Origin
from indexgate.sources.model import IndexHint
from indexgate.sources.requirements_txt import parse_requirements_file

SHA_A = "a" * 64
SHA_B = "B" * 64


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def parse(tmp_path: Path, text: str, name: str = "requirements.txt"):
    return parse_requirements_file(write(tmp_path / name, text), display=name)


def error(tmp_path: Path, text: str, name: str = "requirements.txt") -> InputError:
    with pytest.raises(InputError) as info:
        parse(tmp_path, text, name)
    return info.value


def test_plain_lines_keep_their_line_numbers(tmp_path: Path) -> None:
    result = parse(tmp_path, "requests>=2\n\nurllib3==2.2.1\n")
    assert [str(r.requirement) for r in result.requirements] == ["requests>=2", "urllib3==2.2.1"]
    assert [r.origin for r in result.requirements] == [
        Origin("requirements.txt", 1),
        Origin("requirements.txt", 3),
    ]
    assert result.files == ["requirements.txt"]
    assert not result.constraints


def test_comments_at_start_and_after_whitespace_are_dropped(tmp_path: Path) -> None:
    result = parse(tmp_path, "# header\nfoo==1  # pinned\n   # indented comment\nbar\t# tab\n")
    assert [str(r.requirement) for r in result.requirements] == ["foo==1", "bar"]
    assert [r.origin.line for r in result.requirements] == [2, 4]


def test_hash_sign_without_whitespace_is_not_a_comment(tmp_path: Path) -> None:
    err = error(tmp_path, "foo==1#frag\n")
    assert err.file == "requirements.txt" and err.line == 1
    assert "invalid requirement 'foo==1#frag'" in str(err)


def test_continuation_joins_lines_and_uses_first_line(tmp_path: Path) -> None:
    text = f"# c\nfoo==1.0 \\\n    --hash=sha256:{SHA_A} \\\n    --hash=sha256:{SHA_B}\nbar\n"
    result = parse(tmp_path, text)
    foo, bar = result.requirements
    assert str(foo.requirement) == "foo==1.0"
    assert foo.origin == Origin("requirements.txt", 2)
    assert foo.hashes == (f"sha256:{SHA_A}", f"sha256:{SHA_B.lower()}")
    assert bar.origin.line == 5


def test_continuation_without_space_glues_text(tmp_path: Path) -> None:
    result = parse(tmp_path, "foo\\\n>=1\n")
    assert str(result.requirements[0].requirement) == "foo>=1"
    assert result.requirements[0].origin.line == 1


def test_comment_line_ending_in_backslash_is_not_a_continuation(tmp_path: Path) -> None:
    result = parse(tmp_path, "# note \\\nfoo\n")
    assert [r.origin.line for r in result.requirements] == [2]


def test_continuation_at_end_of_file_is_refused_naming_where_it_began(tmp_path: Path) -> None:
    """pip refuses a file whose last line ends in a backslash: nothing follows to join."""
    exc = error(tmp_path, "a\nfoo==1 \\\n")
    assert (exc.file, exc.line) == ("requirements.txt", 2)
    assert "ends inside a line continuation" in str(exc)
    # a continuation over several lines is named by its first line
    exc = error(tmp_path, "a\nfoo==1 \\\n  --hash=sha256:" + SHA_A + " \\\n")
    assert exc.line == 2
    # without a final newline too
    assert error(tmp_path, "foo==1 \\").line == 1


def test_continuation_into_the_last_line_is_fine(tmp_path: Path) -> None:
    result = parse(tmp_path, "a\nfoo==1 \\\n  ; python_version > '3'")
    assert [r.name for r in result.requirements] == ["a", "foo"]
    assert result.requirements[1].origin.line == 2


def test_markers_and_extras(tmp_path: Path) -> None:
    result = parse(tmp_path, 'foo[bar,baz]>=1; python_version < "3.12"\n')
    requirement = result.requirements[0].requirement
    assert requirement.extras == {"bar", "baz"}
    assert str(requirement.marker) == 'python_version < "3.12"'


def test_hash_requires_known_algorithm(tmp_path: Path) -> None:
    err = error(tmp_path, "x\nfoo==1 --hash=md5:abcd\n")
    assert (err.file, err.line) == ("requirements.txt", 2)
    assert "invalid --hash 'md5:abcd'" in str(err)


def test_hash_alone_on_a_line_is_an_error(tmp_path: Path) -> None:
    err = error(tmp_path, f"--hash=sha256:{SHA_A}\n")
    assert err.line == 1 and "--hash must follow a requirement" in str(err)


def test_index_options_become_hints(tmp_path: Path) -> None:
    text = (
        "-i https://a.example/simple\n"
        "--extra-index-url https://b.example/simple\n"
        "--extra-index-url=https://c.example/simple\n"
        "--index-url=https://d.example/simple\n"
        "-f https://e.example/links/\n"
        "foo\n"
    )
    result = parse(tmp_path, text)
    assert result.index_hints == [
        IndexHint("https://a.example/simple", "index-url", Origin("requirements.txt", 1)),
        IndexHint("https://b.example/simple", "extra-index-url", Origin("requirements.txt", 2)),
        IndexHint("https://c.example/simple", "extra-index-url", Origin("requirements.txt", 3)),
        IndexHint("https://d.example/simple", "index-url", Origin("requirements.txt", 4)),
        IndexHint("https://e.example/links/", "find-links", Origin("requirements.txt", 5)),
    ]
    assert len(result.requirements) == 1


def test_relative_find_links_is_resolved_against_the_file(tmp_path: Path) -> None:
    (tmp_path / "sub" / "wheels").mkdir(parents=True)
    path = write(tmp_path / "sub" / "req.txt", "--find-links wheels\n-f missing-dir\n")
    hints = parse_requirements_file(path, display="sub/req.txt").index_hints
    assert hints[0].url == str(tmp_path / "sub" / "wheels")
    assert hints[1].url == "missing-dir"


def test_binary_and_pre_options_are_accepted(tmp_path: Path) -> None:
    text = (
        "--pre\n--only-binary :all:\n--no-binary=foo\n--prefer-binary\n"
        "--require-hashes\n--trusted-host example.com\n--no-index\nfoo\n"
    )
    result = parse(tmp_path, text)
    assert [str(r.requirement) for r in result.requirements] == ["foo"]
    assert result.requirements[0].origin.line == 8


def test_unknown_option_is_named(tmp_path: Path) -> None:
    err = error(tmp_path, "foo\n--frobnicate yes\n")
    assert (err.file, err.line) == ("requirements.txt", 2)
    assert "unknown option '--frobnicate'" in str(err)
    assert str(err).startswith("requirements.txt:2: ")


def test_option_missing_its_value(tmp_path: Path) -> None:
    err = error(tmp_path, "--index-url\n")
    assert err.line == 1 and "requires 1 argument" in str(err)


def test_file_option_after_a_requirement_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, "foo -i https://a.example/simple\n")
    assert err.line == 1 and "-i/--index-url must be on a line of its own" in str(err)


def test_invalid_requirement_names_line_and_reason(tmp_path: Path) -> None:
    err = error(tmp_path, "ok\n\n\n\n\n\nfoo==\n")
    assert (err.file, err.line) == ("requirements.txt", 7)
    assert str(err).startswith("requirements.txt:7: invalid requirement 'foo==': Expected")
    assert "\n" not in str(err)


def parse_in(root: Path, text: str, name: str = "requirements.txt"):
    """Parse with ``root`` as the working directory (where pip reads relative paths)."""
    return parse_requirements_file(write(root / name, text), display=name, cwd=root)


def test_editable_local_project(tmp_path: Path) -> None:
    (tmp_path / "src" / "pkg").mkdir(parents=True)
    result = parse_in(tmp_path, "foo\n-e ./src/pkg[Dev,test]\n")
    (project,) = result.local_projects
    assert project.path == (tmp_path / "src" / "pkg").resolve()
    assert (project.display, project.editable, project.origin) == (
        os.path.join("src", "pkg"),
        True,
        Origin("requirements.txt", 2),
    )
    assert project.extras == {"dev", "test"}
    assert [r.name for r in result.requirements] == ["foo"]


@pytest.mark.parametrize("line", [".", "./", "-e .", "--editable .", "file:.", "-e file:."])
def test_the_working_directory_as_a_project(tmp_path: Path, line: str) -> None:
    (project,) = parse_in(tmp_path, f"{line}\n").local_projects
    assert project.path == tmp_path.resolve() and project.display == "."
    assert project.editable == line.startswith("-")


def test_relative_paths_are_read_from_the_working_directory_then_the_file(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "requirements" / "vendored").mkdir(parents=True)
    text = "-e .\n./lib\n./vendored\n"
    result = parse_in(tmp_path, text, name="requirements/dev.txt")
    assert [p.path for p in result.local_projects] == [
        tmp_path.resolve(),
        (tmp_path / "lib").resolve(),
        (tmp_path / "requirements" / "vendored").resolve(),
    ]


def test_file_url_and_named_file_reference(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    uri = (tmp_path / "lib").as_uri()
    result = parse_in(tmp_path, f"{uri}\nlib @ {uri} ; python_version < '4'\n")
    first, second = result.local_projects
    assert first.path == second.path == (tmp_path / "lib").resolve()
    assert str(second.marker) == 'python_version < "4"'


@pytest.mark.parametrize(
    ("line", "kind", "name"),
    [
        ("foo @ https://example.com/foo-1.0-py3-none-any.whl", "url", "foo"),
        ("https://example.com/Foo_Bar-1.0.tar.gz", "url", "foo-bar"),
        ("https://example.com/x.whl#egg=named", "url", "named"),
        ("git+https://example.com/foo.git@v1#egg=foo", "vcs", "foo"),
        ("git+https://example.com/foo.git@v1", "vcs", None),
        ("foo @ git+ssh://git@example.com/foo.git", "vcs", "foo"),
        ("-e git+https://example.com/foo.git#egg=foo&subdirectory=py", "vcs", "foo"),
        ("--editable=hg+https://example.com/foo#egg=foo", "vcs", "foo"),
        ("./dist/foo-1.0-py3-none-any.whl", "archive", "foo"),
        ("foo-1.0-py3-none-any.whl", "archive", "foo"),
        ("../bar-2.0.tar.gz", "archive", "bar"),
    ],
)
def test_direct_url_vcs_and_archive_lines_are_read_with_their_line(
    tmp_path: Path, line: str, kind: str, name: str | None
) -> None:
    root = tmp_path / "repo"
    (root / "dist").mkdir(parents=True)
    for archive in ("dist/foo-1.0-py3-none-any.whl", "foo-1.0-py3-none-any.whl"):
        (root / archive).write_bytes(b"PK")
    (tmp_path / "bar-2.0.tar.gz").write_bytes(b"")
    result = parse_in(root, f"ok\n{line}\n")
    (ref,) = result.direct
    assert (ref.kind, ref.name, ref.origin) == (kind, name, Origin("requirements.txt", 2))
    assert [r.name for r in result.requirements] == ["ok"]


def test_direct_url_credentials_are_not_echoed(tmp_path: Path) -> None:
    result = parse_in(tmp_path, "foo @ https://user:s3cret@example.com/foo.whl\n")
    (ref,) = result.direct
    assert "s3cret" not in ref.shown and "s3cret" in ref.url


@pytest.mark.parametrize("line", ["./missing", "-e ./missing", "file:///no/such/folder"])
def test_a_missing_project_path_names_the_line(tmp_path: Path, line: str) -> None:
    with pytest.raises(InputError) as info:
        parse_in(tmp_path, f"ok\n{line}\n")
    assert info.value.line == 2 and "does not exist" in str(info.value)


def test_a_constraints_file_may_not_name_locations(tmp_path: Path) -> None:
    write(tmp_path / "c.txt", "git+https://example.com/foo.git#egg=foo\n")
    with pytest.raises(InputError) as info:
        parse_in(tmp_path, "-c c.txt\n")
    assert (info.value.file, info.value.line) == ("c.txt", 1)
    assert "constraints file" in str(info.value)


def test_unsupported_scheme(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_in(tmp_path, "foo @ ftp://example.com/foo.whl\n")
    assert info.value.line == 1 and "unsupported URL scheme 'ftp:'" in str(info.value)


def test_env_vars_are_expanded_like_pip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IG_TOKEN", "tok")
    monkeypatch.delenv("IG_UNSET", raising=False)
    result = parse(
        tmp_path,
        "--extra-index-url https://u:${IG_TOKEN}@a.example/simple\n"
        "-i https://${IG_UNSET}@b.example/simple\n",
    )
    assert result.index_hints[0].url == "https://u:tok@a.example/simple"
    assert result.index_hints[1].url == "https://${IG_UNSET}@b.example/simple"


def test_include_paths_are_relative_to_including_file(tmp_path: Path) -> None:
    write(tmp_path / "reqs" / "base.txt", "# base\nbase-pkg\n-r ../common.txt\n")
    write(tmp_path / "common.txt", "common-pkg\n")
    write(tmp_path / "requirements.txt", "top\n-r reqs/base.txt\n")
    result = parse_requirements_file(tmp_path / "requirements.txt", display="requirements.txt")
    assert [(r.name, str(r.origin)) for r in result.requirements] == [
        ("top", "requirements.txt:1"),
        ("base-pkg", "reqs/base.txt:2"),
        ("common-pkg", "common.txt:1"),
    ]
    assert result.files == ["requirements.txt", "reqs/base.txt", "common.txt"]


def test_include_keeps_display_relative_to_given_dir(tmp_path: Path) -> None:
    write(tmp_path / "ci" / "reqs" / "base.txt", "base-pkg\n")
    write(tmp_path / "ci" / "requirements.txt", "--requirement reqs/base.txt\n")
    result = parse_requirements_file(
        tmp_path / "ci" / "requirements.txt", display="ci/requirements.txt"
    )
    assert str(result.requirements[0].origin) == "ci/reqs/base.txt:1"


def test_constraint_file_lines_become_constraints(tmp_path: Path) -> None:
    write(tmp_path / "constraints.txt", "urllib3<2\n-r more.txt\n")
    write(tmp_path / "more.txt", "idna<4\n")
    write(tmp_path / "requirements.txt", "requests\n-c constraints.txt\n")
    result = parse_requirements_file(tmp_path / "requirements.txt", display="requirements.txt")
    assert [r.name for r in result.requirements] == ["requests"]
    assert [(r.name, r.constraint, str(r.origin)) for r in result.constraints] == [
        ("urllib3", True, "constraints.txt:1"),
        ("idna", True, "more.txt:1"),
    ]
    assert not result.requirements[0].constraint


def test_top_level_constraint_flag(tmp_path: Path) -> None:
    path = write(tmp_path / "c.txt", "foo<2\n")
    result = parse_requirements_file(path, display="c.txt", constraint=True)
    assert not result.requirements and result.constraints[0].constraint


def test_include_cycle_is_reported_at_the_closing_include(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "a\n-r b.txt\n")
    write(tmp_path / "b.txt", "b\n\n-r a.txt\n")
    with pytest.raises(InputError) as info:
        parse_requirements_file(tmp_path / "a.txt", display="a.txt")
    assert (info.value.file, info.value.line) == ("b.txt", 3)
    assert "include cycle: a.txt -> b.txt -> a.txt" in str(info.value)


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    err = error(tmp_path, "-r requirements.txt\n")
    assert err.line == 1 and "include cycle" in str(err)


def test_same_file_included_twice_is_not_a_cycle(tmp_path: Path) -> None:
    write(tmp_path / "common.txt", "c\n")
    write(tmp_path / "requirements.txt", "-r common.txt\n-c common.txt\n")
    result = parse_requirements_file(tmp_path / "requirements.txt", display="requirements.txt")
    assert [r.name for r in result.requirements] == ["c"]
    assert [r.name for r in result.constraints] == ["c"]


def test_missing_include_points_at_the_include_line(tmp_path: Path) -> None:
    err = error(tmp_path, "foo\n-r reqs/missing.txt\n")
    assert (err.file, err.line) == ("requirements.txt", 2)
    assert "included file 'reqs/missing.txt' not found" in str(err)


def test_remote_include_is_refused(tmp_path: Path) -> None:
    err = error(tmp_path, "-r https://example.com/req.txt\n")
    assert err.line == 1 and "remote requirement files are not supported" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        parse_requirements_file(tmp_path / "nope.txt", display="nope.txt")
    assert info.value.file == "nope.txt" and "file not found" in str(info.value)


def test_utf16_file_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes("\ufefffoo==1\r\nbar\r\n".encode("utf-16-le"))
    result = parse_requirements_file(path, display="requirements.txt")
    assert [str(r.requirement) for r in result.requirements] == ["foo==1", "bar"]


def test_invalid_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "requirements.txt"
    path.write_bytes(b"foo\n\xff\xfe\xfa\n")
    with pytest.raises(InputError) as info:
        parse_requirements_file(path, display="requirements.txt")
    assert "not valid utf-8" in str(info.value)


def test_unbalanced_quote_in_options(tmp_path: Path) -> None:
    err = error(tmp_path, '--extra-index-url "https://a.example\n')
    assert err.line == 1 and "cannot split options" in str(err)


def test_stray_argument_after_options(tmp_path: Path) -> None:
    err = error(tmp_path, "--pre foo\n")
    assert err.line == 1 and "unexpected 'foo'" in str(err)


def test_display_defaults_to_the_path(tmp_path: Path) -> None:
    path = write(tmp_path / "r.txt", "foo\n")
    result = parse_requirements_file(path)
    assert result.requirements[0].origin.file == str(path)
    assert os.path.isabs(result.requirements[0].origin.file)


def test_a_line_without_options_reads_as_the_option_parsers_defaults() -> None:
    """Bare lines skip optparse; what they read must be exactly its defaults (the same
    option names, all unset), and an option name that does not exist is an error, not a
    silent None."""
    from indexgate.sources import requirements_txt as rt

    assert vars(rt._NO_OPTIONS) == vars(rt._parser().get_default_values())
    with pytest.raises(AttributeError):
        rt._NO_OPTIONS.hash  # noqa: B018  (the option is "hashes")
