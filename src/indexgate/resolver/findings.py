"""What one target's resolution saw besides its answer: the blocked artifacts it went
around, the files it could not use and why, warnings, hash mismatches. The provider and its
parts (file selection, found candidates, dead versions) write it; resolve.py turns it into
the target's report and its no-solution explanations."""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.utils import NormalizedName
from packaging.version import Version

from indexgate.index.client import BlockHit
from indexgate.model import Problem


@dataclass
class TargetFindings:
    """What one target saw that explains a failure or belongs in the report."""

    blocks: dict[str, BlockHit] = field(default_factory=dict)  # by file URL, in order seen
    unusable: dict[NormalizedName, list[str]] = field(default_factory=dict)
    excluded: dict[NormalizedName, dict[str, int]] = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)
    hash_mismatch: dict[NormalizedName, Version] = field(default_factory=dict)

    def exclude(self, name: NormalizedName, why: str) -> None:
        reasons = self.excluded.setdefault(name, {})
        reasons[why] = reasons.get(why, 0) + 1
