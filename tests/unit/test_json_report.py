"""The report's JSON text: ``dumps_indented`` writes what ``json.dumps(indent=2)`` writes,
byte for byte (the contract's consumers diff reports), and leaves anything unusual to it."""

from __future__ import annotations

import enum
import json
from collections import OrderedDict
from typing import Any

import pytest

from indexgate.model import Blocked, Problem, Report, Resolved, TargetReport
from indexgate.report.json_report import dumps_indented, to_json


class Kind(enum.StrEnum):
    A = "a"


class Level(enum.IntEnum):
    TWO = 2


VALUES: list[Any] = [
    {},
    [],
    (),
    {"a": [], "b": {}, "c": ()},
    [1, -7, 10**30, 2.5, -0.0, 1e300, 1e-7, 3.0, float("nan"), float("inf"), -float("inf")],
    'é ☃ \u2028 " \\ \n \t \x00 \U0001f600',
    {"nested": [None, True, False, {"x": "y", "z": [[[]]]}]},
    (1, (2, [3])),
    {'key with "quotes" and é': "value"},
    {"e": Kind.A, "i": Level.TWO, Kind.A: 1},  # a str-enum key: left to json.dumps
    {1: "int key", None: "null key", 2.5: "float key", False: "bool key"},  # left to json.dumps
    OrderedDict(b=1, a=2),  # a dict subclass: left to json.dumps
    [True, 1, 1.0, "1"],
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_text_is_json_dumps_indent_2(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2)


def test_what_json_refuses_is_refused_in_its_words() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps_indented({"a": {1, 2}})
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps_indented({"loop": loop})


def test_a_report_reads_back_as_the_json_module_writes_it() -> None:
    report = Report(
        "check",
        [
            TargetReport(
                "3.12",
                "linux_x86_64",
                resolution=[Resolved("lib", "1.0", "internal", "lib-1.0-py3-none-any.whl")],
                blocked=[
                    Blocked(
                        "bad", "2.0", "bad-2.0.tar.gz", "internal", "download", 403, "nexus", "no"
                    )
                ],
                warnings=[Problem("yanked", "lib 1.0 is yanked", package="lib", line=3)],
            )
        ],
    )
    assert to_json(report) == json.dumps(report.to_dict(), indent=2) + "\n"
