"""Regenerate this example's local indexes: ``python build_indexes.py`` (run from anywhere).

The wheels are tiny stand-ins (metadata only) and deterministic: building them again gives
the same bytes, so the committed folders never change unless this file does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from indexgate.demo import build_wheel

HERE = Path(__file__).resolve().parent

# folder -> (name, version, Requires-Dist, Requires-Python)
INDEXES: dict[str, list[tuple[str, str, tuple[str, ...], str | None]]] = {
    "internal": [
        ("acme-core", "1.0.0", ("requests>=2.31",), ">=3.9"),
        ("acme-core", "1.1.0", ("requests>=2.31", "acme-utils>=0.3"), ">=3.10"),
        ("acme-utils", "0.3.0", ('tomli>=2; python_version < "3.11"',), None),
    ],
    "public": [
        # a look-alike of the internal package: first-index never takes it
        ("acme-core", "99.0.0", (), None),
        ("requests", "2.31.0", ("urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"), None),
        ("requests", "2.32.3", ("urllib3>=1.21,<3", "idna>=2.5,<4", "certifi>=2017.4.17"), ">=3.8"),
        ("urllib3", "2.2.3", (), ">=3.8"),
        ("idna", "3.10", (), ">=3.6"),
        ("certifi", "2024.8.30", (), ">=3.6"),
        ("tomli", "2.0.2", (), ">=3.8"),
    ],
}


def main() -> None:
    for folder, dists in INDEXES.items():
        target = HERE / "indexes" / folder
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name, version, requires, requires_python in dists:
            build_wheel(
                target, name, version, requires_dist=requires, requires_python=requires_python
            )


if __name__ == "__main__":
    main()
