"""Names compared as the specs define them, not as each tool happens to spell them.

uv writes ``pyyaml-6.0.2-cp312-...whl`` in a ``pylock.toml`` where the index lists
``PyYAML-6.0.2-cp312-...whl``: the same file under PEP 427's name escaping (and PEP 503's
name normalization). Comparing the strings reported a false ``missing-pin``.
"""

from __future__ import annotations

from indexgate.dists.models import parse_filename

_SDIST_SUFFIXES = (".tar.gz", ".zip")


def filename_key(filename: str) -> tuple[object, ...]:
    """What identifies a distribution file: its normalized name, version and tags (wheels),
    or name, version and archive kind (sdists). ``PyYAML-6.0.2-py3-none-any.whl`` and
    ``pyyaml-6.0.2-py3-none-any.whl`` have the same key; a file name that parses as neither
    is compared case-insensitively, as a whole."""
    parsed = parse_filename(filename)
    if parsed is None:
        return ("?", filename.lower())
    if parsed.kind == "wheel":
        stem = filename[:-4].split("-")
        build = stem[2] if len(stem) == 6 else ""
        tags = ".".join(sorted(str(t) for t in parsed.tags))
        return ("wheel", parsed.name, parsed.version, build, tags)
    suffix = next(s for s in _SDIST_SUFFIXES if filename.lower().endswith(s))
    return ("sdist", parsed.name, parsed.version, suffix)
