"""``record``: ``dataclasses.dataclass`` with shared ``__repr__``, ``__eq__`` and ``__hash__``.

``dataclass`` writes the source of each method of each class and compiles it (``exec``):
for a frozen class, ``__init__``, ``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__``
and ``__delattr__``, six compilations at import time, and a run of ``check`` imports some
fifty such classes before its first request (~15% of a warm run's CPU). ``record`` lets
``dataclass`` make ``__init__`` (and the frozen guards) as ever, and gives the class shared
functions for the other three that read the class's fields when called: the same text,
the same equality and the same hash as ``dataclass`` would have given, with half the
compilations. Everything else is ``dataclass``'s own: ``fields``, ``replace``, ``asdict``,
frozen instances, slots.
"""

from __future__ import annotations

import dataclasses
from _thread import get_ident
from collections.abc import Callable
from operator import attrgetter
from typing import Any, TypeVar, dataclass_transform, overload

__all__ = ["record"]

C = TypeVar("C", bound=type)

_Getter = Callable[[Any], tuple[Any, ...]]
_EQ: dict[type, _Getter] = {}  # class -> its compared fields' values, as a tuple
_HASH: dict[type, _Getter] = {}  # class -> its hashed fields' values, as a tuple
_REPR: dict[type, tuple[str, ...]] = {}  # class -> the names ``repr`` shows
_REPR_RUNNING: set[tuple[int, int]] = set()  # (id, thread) of reprs under way: recursion


def _getter(names: list[str]) -> _Getter:
    """A tuple of the named attributes, as ``(self.a, self.b,)`` is."""
    if not names:
        return lambda obj: ()
    if len(names) == 1:
        name = names[0]
        return lambda obj: (getattr(obj, name),)
    return attrgetter(*names)  # type: ignore[return-value]


def _eq_getter(cls: type) -> _Getter:
    getter = _EQ.get(cls)
    if getter is None:
        names = [f.name for f in dataclasses.fields(cls) if f.compare]
        getter = _EQ[cls] = _getter(names)
    return getter


def _eq(self: Any, other: Any) -> Any:
    """``dataclass``'s ``__eq__``: the compared fields, in order, of the same class only."""
    if other.__class__ is self.__class__:
        getter = _eq_getter(self.__class__)
        return getter(self) == getter(other)
    return NotImplemented


def _hash(self: Any) -> int:
    """``dataclass``'s ``__hash__`` of a frozen class: its hashed fields as a tuple."""
    cls = self.__class__
    getter = _HASH.get(cls)
    if getter is None:
        hashed = [f for f in dataclasses.fields(cls) if (f.compare if f.hash is None else f.hash)]
        getter = _HASH[cls] = _getter([f.name for f in hashed])
    return hash(getter(self))


def _repr(self: Any) -> str:
    """``dataclass``'s ``__repr__``: ``Name(a=1, b='x')``, ``...`` where it recurses."""
    key = (id(self), get_ident())
    if key in _REPR_RUNNING:
        return "..."
    _REPR_RUNNING.add(key)
    try:
        cls = self.__class__
        names = _REPR.get(cls)
        if names is None:
            names = _REPR[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.repr)
        shown = ", ".join([f"{name}={getattr(self, name)!r}" for name in names])
        return f"{cls.__qualname__}({shown})"
    finally:
        _REPR_RUNNING.discard(key)


@overload
def record(cls: C, /) -> C: ...
@overload
def record(*, frozen: bool = False, slots: bool = False) -> Callable[[C], C]: ...
@dataclass_transform()
def record(
    cls: C | None = None, /, *, frozen: bool = False, slots: bool = False
) -> C | Callable[[C], C]:
    """``@dataclass`` (or ``@dataclass(frozen=..., slots=...)``), as it behaves with its
    defaults ``repr=True`` and ``eq=True``; a method the class defines itself is kept."""

    def wrap(cls: C) -> C:
        own = cls.__dict__
        has_repr, has_eq = "__repr__" in own, "__eq__" in own
        class_hash = own.get("__hash__", dataclasses.MISSING)
        explicit_hash = not (class_hash is dataclasses.MISSING or (class_hash is None and has_eq))
        made: Any = dataclasses.dataclass(cls, repr=False, eq=False, frozen=frozen, slots=slots)
        if not has_repr:
            made.__repr__ = _repr
        if not has_eq:
            made.__eq__ = _eq
        if not explicit_hash:  # as dataclass(eq=True): hashable by value if frozen, else not
            made.__hash__ = _hash if frozen else None
        return made  # type: ignore[no-any-return]

    return wrap if cls is None else wrap(cls)
