"""The command line is built for the command it names only (``build_parser(only)``): the
same parse, the same errors and help as the whole parser, at half its start-up cost."""

from __future__ import annotations

import pytest

from indexgate.gate import build_parser, command_of

ARGVS = [
    ["check", "requirements.txt", "--index-url", "https://i.example/simple/", "-q"],
    ["check", "-r", "a.txt", "-r", "b.txt", "--python-version", "3.12", "--format", "json"],
    ["check", "--concurrency", "8", "--timeout", "30", "--fail-on", "yanked", "-vv"],
    ["drift", "uv.lock", "--previous-report", "old.json", "--max-probes-per-package", "3"],
    ["demo"],
]
REFUSED = [
    ["check", "--previous-report", "old.json"],  # a drift option
    ["check", "--concurrency", "0"],
    ["drift", "--format", "yaml"],
    ["check", "--help"],
    ["drift", "--help"],
    ["nonsense"],
    ["--version"],
    [],
]


@pytest.mark.parametrize("argv", ARGVS)
def test_a_command_parses_as_the_whole_parser_parses_it(argv: list[str]) -> None:
    assert command_of(argv) == argv[0]
    assert build_parser(command_of(argv)).parse_args(argv) == build_parser().parse_args(argv)


@pytest.mark.parametrize("argv", REFUSED)
def test_help_and_refusals_read_as_the_whole_parsers(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    outcomes = []
    for parser in (build_parser(command_of(argv)), build_parser()):
        with pytest.raises(SystemExit) as stopped:
            parser.parse_args(argv)
        outcomes.append((stopped.value.code, capsys.readouterr()))
    assert outcomes[0] == outcomes[1]


def test_the_command_is_the_first_word_that_is_no_option() -> None:
    assert command_of(["-h", "drift", "check"]) == "drift"
    assert command_of(["--version"]) is None
    assert command_of(["chek", "check"]) is None  # a typo: the whole parser says so
    assert build_parser("check").parse_args(["check"]).command == "check"
