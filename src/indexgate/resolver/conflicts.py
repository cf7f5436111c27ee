"""The resolver's reporter: which packages keep conflicting (resolve.py).

Its own module so that resolvelib is imported when a target is resolved, not by every
run: a check that reuses its previous outcome resolves nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from resolvelib import BaseReporter

from indexgate.model import Problem

if TYPE_CHECKING:
    from indexgate.resolver.provider import Provider


class ConflictTracker(BaseReporter):  # type: ignore[misc]
    """Counts the conflicts each package takes part in, for the provider's priorities
    (uv's: a package that keeps conflicting is decided early) and for the message when
    the resolver gives up: the requirements that kept clashing, as uv names them."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        # name -> requirement text -> who asked, for the conflicts seen
        self.clashes: dict[str, dict[str, str]] = {}

    def resolving_conflicts(self, causes: Sequence) -> None:
        counted: set[str] = set()
        for cause in causes:
            req = cause.requirement
            for name in (req.name, cause.parent.name if cause.parent is not None else None):
                if name is not None and name not in counted:
                    counted.add(name)
                    self.provider.conflicts[name] += 1
            who = req.requested_by if cause.parent is None else str(cause.parent)
            asked = self.clashes.setdefault(req.name, {})
            if len(asked) < 50:
                asked.setdefault(str(req), who)

    def too_deep(self, max_rounds: int) -> Problem:
        """The gave-up error, naming the packages whose requirements kept conflicting.

        ``max_rounds`` is the resolver's budget, passed in (not imported from resolve.py:
        that would be an import circle)."""
        top = self.provider.conflicts.most_common(4)
        if not top:
            return Problem(kind="no-solution", message="resolution took too many rounds")
        parts = []
        for name, count in top:
            asked = self.clashes.get(name)
            text = f"{name} ({count} conflicts"
            if asked:
                shown = list(asked.items())[:3]
                text += ": " + ", ".join(f"{r} from {who}" for r, who in shown)
            parts.append(text + ")")
        name = top[0][0]
        origin = self.provider.origins.get(name)  # type: ignore[call-overload]
        return Problem(
            kind="no-solution",
            package=name,
            message=(
                f"resolution took too many rounds ({max_rounds}) and gave up; the requirements "
                "that kept conflicting: " + "; ".join(parts)
            ),
            file=origin.file if origin else None,
            line=origin.line if origin else None,
        )
