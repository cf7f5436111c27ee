"""``@record`` is ``@dataclass`` with shared ``__repr__``/``__eq__``/``__hash__`` (fewer
compilations at import): every class reads, compares and hashes exactly as ``dataclass``
would have made it, field options, recursion, frozen and slots classes included."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from indexgate.records import record

TEMPLATE = """
from dataclasses import field, InitVar
from typing import ClassVar

@DECO
class Plain:
    a: int
    b: str = "x"
    hidden: str = field(default="secret", repr=False)
    loose: int = field(default=0, compare=False)
    unhashed: int = field(default=1, hash=False)
    only_hashed: int = field(default=2, compare=False, hash=True)
    items: list = field(default_factory=list, hash=False)
    kind: ClassVar[str] = "plain"

@DECO
class Empty:
    pass

@DECO
class One:
    only: Any

@DECO
class OwnRepr:
    v: int
    def __repr__(self):
        return "own"

@DECO
class OwnEq:
    v: int
    def __eq__(self, other):
        return True

@DECO
class OwnHash:
    v: int
    def __hash__(self):
        return 7

@DECO
class Child(Plain):
    extra: int = 5
"""


def _classes(deco: Any) -> dict[str, Any]:
    namespace: dict[str, Any] = {"DECO": deco, "Any": Any}
    exec(TEMPLATE, namespace)  # a fixed template, decorated with ``deco``
    return namespace


DECORATORS = [
    ({}, {}),
    ({"frozen": True}, {"frozen": True}),
    ({"frozen": True, "slots": True}, {"frozen": True, "slots": True}),
    ({"slots": True}, {"slots": True}),
]


def _outcome(do: Any) -> Any:
    try:
        return ("ok", do())
    except Exception as exc:  # the same failure, named the same
        return ("raised", type(exc).__name__, str(exc))


def _behaviour(ns: dict[str, Any]) -> list[Any]:
    plain, empty, one, child = ns["Plain"], ns["Empty"], ns["One"], ns["Child"]
    x = plain(1, "y", hidden="h", loose=3, unhashed=4, only_hashed=5, items=[1, "a"])
    same = plain(1, "y", hidden="h", loose=99, unhashed=4, only_hashed=6, items=[1, "a"])
    other = plain(2)
    c = child(1, extra=6)
    looped = one(None)
    if not dataclasses.is_dataclass(looped) or not looped.__dataclass_params__.frozen:
        looped.only = looped  # a repr that meets itself
    seen = []
    for obj in (x, same, other, c, empty(), one([one(1)]), looped, ns["OwnRepr"](1)):
        seen.append(repr(obj))
        seen.append(_outcome(lambda obj=obj: hash(obj)))
        seen.append([f.name for f in dataclasses.fields(obj)])
        seen.append(getattr(type(obj), "__match_args__", None))
        seen.append(hasattr(obj, "__dict__"))
    for left, right in [(x, same), (x, other), (x, c), (c, c), (x, 1), (empty(), empty())]:
        seen.append((left == right, left != right))
    seen.append(x.__eq__(1))
    seen.append((ns["OwnEq"](1) == ns["OwnEq"](2), _outcome(lambda: hash(ns["OwnEq"](1)))))
    seen.append(_outcome(lambda: hash(ns["OwnHash"](1))))
    seen.append(_outcome(lambda: setattr(plain(1), "a", 9)))
    seen.append(_outcome(lambda: delattr(plain(1), "b")))
    seen.append(repr(dataclasses.replace(x, a=3)))
    seen.append(dataclasses.asdict(c))
    seen.append(_outcome(lambda: plain()))
    return seen


@pytest.mark.parametrize(("ours", "theirs"), DECORATORS, ids=str)
def test_a_record_behaves_as_the_dataclass(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    with_record = _classes(record(**ours))
    with_dataclass = _classes(dataclasses.dataclass(**theirs))
    assert _behaviour(with_record) == _behaviour(with_dataclass)


def test_record_without_arguments_is_dataclass_without_arguments() -> None:
    @record
    class Point:
        x: int
        y: int = 0

    assert repr(Point(1)).endswith("<locals>.Point(x=1, y=0)")
    assert Point(1) == Point(1, 0) and Point.__hash__ is None


def test_the_run_models_read_as_dataclass_would_write_them() -> None:
    """The settings' and the answers' classes: secrets kept out of ``repr`` as before."""
    from indexgate.index.responses import Response
    from indexgate.index.transport.headers import Headers
    from indexgate.settings import IndexConfig

    index = IndexConfig("internal", "https://i.example/simple/", username="u", password="p")
    text = repr(index)
    assert text.startswith("IndexConfig(name='internal', url='https://i.example/simple/', ")
    assert "username" not in text and "password" not in text and "'p'" not in text
    assert index == IndexConfig("internal", "https://i.example/simple/", "u", "p")
    assert hash(index) == hash(IndexConfig("internal", "https://i.example/simple/", "u", "p"))
    assert index != dataclasses.replace(index, password="q")
    r = Response("u", 200, "OK", Headers(), b"")
    assert r == dataclasses.replace(r, sink=object())  # the sink is not compared
