"""resolvelib's resolver, with its per-round check of every pin remembered.

Each round, resolvelib asks whether every pinned package still satisfies every requirement
on it (``Resolution._is_current_pin_satisfying``), twice: 70,000 checks on the benchmark's
225-package graph, a quarter of the resolver's CPU on a cold run, nearly all repeating the
last round's. A criterion is never changed in place (resolvelib makes a new one for each
new requirement or dropped parent), nor is a pin, so the answer for the same criterion
object and the same pin object stands; that pair is remembered per package.

The check is a private method of resolvelib: where a version has no such method, the
plain ``Resolver`` is used (the same resolution, without the memo).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from resolvelib import Resolver
from resolvelib.resolvers import resolution as _resolution

_Resolution = getattr(_resolution, "Resolution", None)
_build_result = getattr(_resolution, "_build_result", None)
_SUPPORTED = (
    _Resolution is not None
    and _build_result is not None
    and hasattr(_Resolution, "_is_current_pin_satisfying")
)


if _SUPPORTED:

    class _PinMemoResolution(_Resolution):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            # The check is called ~300 times a round: an instance attribute (a plain
            # function, found before the class's method) saves building a bound method
            # and the ``state`` property on each call.
            if isinstance(getattr(self, "_states", None), list):  # else: resolvelib's own
                self._is_current_pin_satisfying = self._pin_check()

        def _pin_check(self) -> Any:
            checks: dict[Any, tuple[Any, Any, bool]] = {}
            full = _Resolution._is_current_pin_satisfying

            pins: list[Any] = [None, None]  # the last state seen, its mapping's ``get``

            def is_current_pin_satisfying(name: Any, criterion: Any) -> bool:
                state = self._states[-1]
                if state is not pins[0]:  # a round's checks all look at one state
                    pins[0], pins[1] = state, state.mapping.get
                pin = pins[1](name)
                if pin is None:
                    return False
                try:  # the usual case: the answer stands (an unpacking, no indexing)
                    last_criterion, last_pin, ok = checks[name]
                    if last_criterion is criterion and last_pin is pin:
                        return ok
                except KeyError:
                    pass
                ok = full(self, name, criterion)
                checks[name] = (criterion, pin, ok)  # keeps both alive: ids stay theirs
                return ok

            return is_current_pin_satisfying


class PinMemoResolver(Resolver):  # type: ignore[misc]
    """``resolvelib.Resolver`` whose resolution remembers its pin checks (see above)."""

    def resolve(self, requirements: Iterable[Any], max_rounds: int = 100) -> Any:
        if not _SUPPORTED:
            return super().resolve(requirements, max_rounds=max_rounds)
        resolution = _PinMemoResolution(self.provider, self.reporter)
        state = resolution.resolve(requirements, max_rounds=max_rounds)
        return _build_result(state)  # type: ignore[misc]
