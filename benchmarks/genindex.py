"""Generate a realistic static index: a web + data stack's shape, not its code.

About 225 packages are reached from 45 top-level requirements through a graph 7 levels deep
(one chain with no shortcut makes the depth exact), with popular leaves shared by many
parents, extras (some asked for, some not), markers that are false for Linux / CPython 3.11
(their targets are never reached), pre-releases, newest versions that need Python 3.12, and
upper bounds that make the newest version unusable. Wheels look like real ones where it
matters for range reads: ``*.dist-info`` last, a long description in ``METADATA``, a real
``RECORD``; most fit their metadata in the last 64 KiB, the many-file ones (a quarter of
the binary packages) do not. Payload is random bytes stored uncompressed, so file sizes are
what was asked for; only the two newest usable versions carry it, older ones are small.

The result is static files, as nginx would serve them::

    simple/<project>/index.html      PEP 503 HTML, hashes in the URL fragment
    simple658/<project>/index.html   the same plus PEP 658 data-core-metadata
    files/<wheel>, files/<wheel>.metadata, files/<sdist>
    requirements.in, expected.json   the top-level requirements and the intended solution
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import random
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

GENERATOR_VERSION = 3
TIERS = (45, 55, 45, 35, 25, 14, 6)  # packages per level: 225 reached
UNREACHED = 40  # behind false markers or extras nobody asks for
NOISE = 60  # unrelated projects on the index
TARGET_TAG = "cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64"
OTHER_TAGS = (
    "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64",
    "cp311-cp311-musllinux_1_2_x86_64",
    "cp311-cp311-macosx_11_0_arm64",
    "cp311-cp311-win_amd64",
)
_DATE = (2024, 1, 1, 0, 0, 0)
_WORDS = [
    "async",
    "http",
    "client",
    "data",
    "frame",
    "model",
    "schema",
    "parser",
    "fast",
    "simple",
    "json",
    "yaml",
    "config",
    "cloud",
    "cache",
    "stream",
    "task",
    "queue",
    "event",
    "signal",
    "crypto",
    "token",
    "auth",
    "web",
    "server",
    "test",
    "mock",
    "plot",
    "array",
    "the",
    "a",
    "of",
    "to",
    "and",
    "for",
    "with",
    "from",
    "this",
    "that",
    "is",
    "are",
    "be",
    "can",
    "you",
    "your",
    "will",
    "it",
    "in",
    "on",
    "by",
    "as",
]
_SYLLABLES = [
    "ba",
    "be",
    "bo",
    "bu",
    "da",
    "de",
    "di",
    "do",
    "ka",
    "ke",
    "ki",
    "ko",
    "la",
    "le",
    "li",
    "lo",
    "ma",
    "me",
    "mi",
    "mo",
    "na",
    "ne",
    "ni",
    "no",
]
_FALSE_MARKERS = (
    'sys_platform == "win32"',
    'python_version < "3.9"',
    'platform_system == "Darwin"',
    'implementation_name == "pypy"',
)
_TRUE_MARKERS = (
    'python_version >= "3.8"',
    'platform_system != "Windows"',
    'platform_machine == "x86_64"',
    'implementation_name == "cpython"',
)


@dataclass
class Package:
    name: str  # as its metadata spells it
    level: int  # -1: not reached
    versions: list[str]
    binary: bool
    many_files: bool
    size: int  # wheel size for the newest versions, bytes
    deps: list[str] = field(default_factory=list)  # Requires-Dist lines
    extras: dict[str, list[str]] = field(default_factory=dict)
    py312_newest: bool = False  # newest version requires Python >= 3.12
    prerelease: str | None = None  # newest is this pre-release

    @property
    def norm(self) -> str:
        return self.name.lower().replace("_", "-").replace(".", "-")


def _name(rng: random.Random, taken: set[str]) -> str:
    while True:
        parts = ["".join(rng.choices(_SYLLABLES, k=rng.randint(2, 3))) for _ in range(2)]
        style = rng.random()
        if style < 0.6:
            name = "-".join(parts)
        elif style < 0.8:
            name = parts[0] + parts[1]
        elif style < 0.9:
            name = "_".join(parts)
        else:
            name = parts[0].capitalize() + "." + parts[1]
        norm = name.lower().replace("_", "-").replace(".", "-")
        if norm not in taken:
            taken.add(norm)
            return name


def _versions(rng: random.Random) -> list[str]:
    count = min(60, int(rng.lognormvariate(2.0, 0.8)) + 2)
    major, minor, patch = rng.randint(0, 3), rng.randint(0, 9), 0
    out = []
    for _ in range(count):
        out.append(f"{major}.{minor}.{patch}")
        step = rng.random()
        if step < 0.6:
            patch += 1
        elif step < 0.93:
            minor, patch = minor + 1, 0
        else:
            major, minor, patch = major + 1, 0, 0
    return out


def _size(rng: random.Random, binary: bool, many: bool) -> int:
    if many:
        return rng.randint(1_000_000, 3_000_000)
    if binary:
        return rng.randint(300_000, 2_000_000)
    roll = rng.random()
    if roll < 0.45:
        return rng.randint(8_000, 60_000)
    if roll < 0.9:
        return rng.randint(70_000, 400_000)
    return rng.randint(400_000, 1_200_000)


def plan(seed: int = 20250101) -> tuple[list[Package], list[str]]:
    """The packages (reached ones first, by level) and the top-level requirements."""
    rng = random.Random(seed)
    taken: set[str] = set()
    levels: list[list[Package]] = []
    for level, count in enumerate(TIERS):
        tier = []
        for _ in range(count):
            binary = rng.random() < 0.3
            many = (binary and rng.random() < 0.35) or (not binary and rng.random() < 0.03)
            tier.append(Package(_name(rng, taken), level, _versions(rng), binary, many, 0))
            tier[-1].size = _size(rng, binary, many)
        levels.append(tier)
    unreached = [
        Package(_name(rng, taken), -1, _versions(rng), False, False, 30_000)
        for _ in range(UNREACHED + NOISE)
    ]
    spine = [tier[0] for tier in levels]  # spine[k+1]'s only parent is spine[k]
    hubs = [p for tier in levels[2:] for p in tier if p not in spine][:12]

    edges: dict[str, list[tuple[Package, str]]] = {}  # parent -> (child, marker)

    def add(parent: Package, child: Package, marker: str = "") -> None:
        if child is parent or any(c is child for c, _ in edges.setdefault(parent.name, [])):
            return
        edges[parent.name].append((child, marker))

    for k in range(len(levels) - 1):
        add(spine[k], spine[k + 1])
        for child in levels[k + 1]:
            if child in spine:
                continue
            add(rng.choice([p for p in levels[k] if p is not spine[k] or k == 0]), child)
    for k, tier in enumerate(levels):
        for parent in tier:
            if parent in spine and k > 0:
                continue  # no shortcuts from the spine either: keeps it a plain chain
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3, 4))):
                deeper = [p for t in levels[k + 1 :] for p in t if p not in spine]
                if not deeper:
                    break
                pool = [h for h in hubs if h.level > k] if rng.random() < 0.5 else deeper
                if pool:
                    add(parent, rng.choice(pool), rng.choice(("",) * 6 + _TRUE_MARKERS))
            if rng.random() < 0.25:
                add(parent, rng.choice(unreached[:UNREACHED]), rng.choice(_FALSE_MARKERS))

    # Which packages have one parent only: safe to cap (no resolver ever meets a conflict).
    parents: dict[str, list[Package]] = {}
    by_name = {p.name: p for tier in levels for p in tier}
    for parent_name, children in edges.items():
        for child, _ in children:
            parents.setdefault(child.name, []).append(by_name[parent_name])

    for p in [p for tier in levels for p in tier] + unreached:
        roll = rng.random()
        if len(p.versions) > 2 and roll < 0.12:
            p.py312_newest = True
        elif len(p.versions) > 2 and roll < 0.2:
            p.prerelease = _bump_major(p.versions[-1]) + "rc1"

    capped: set[str] = set()
    for p in [p for tier in levels for p in tier]:
        lines = []
        for child, marker in edges.get(p.name, []):
            spec = _lower_bound(rng, child)
            if (
                child.level >= 0
                and len(parents.get(child.name, [])) == 1
                and len(_usable(child)) > 2
                and rng.random() < 0.15
            ):
                spec += ("," if spec else "") + f"<{_usable(child)[-1]}"
                capped.add(child.name)
            lines.append(f"{child.name}{spec}" + (f"; {marker}" if marker else ""))
        p.deps = lines

    # Extras: some asked for (their deps are ordinary reached packages), some not.
    extra_hosts = [p for tier in levels[:5] for p in tier if p not in spine]
    asked_extras: list[tuple[Package, str]] = []
    for p in rng.sample(extra_hosts, 18):
        for name in rng.sample(("socks", "async", "speedups", "docs", "test", "cli"), 2):
            if name in ("docs", "test"):
                targets = rng.sample(unreached[:UNREACHED], 2)
            else:
                deeper = [c for t in levels[p.level + 1 :] for c in t if c not in spine]
                targets = rng.sample(deeper, min(2, len(deeper)))
            p.extras[name] = [f'{t.name}{_lower_bound(rng, t)}; extra == "{name}"' for t in targets]
            if name not in ("docs", "test") and rng.random() < 0.5:
                asked_extras.append((p, name))

    top = []
    for p in levels[0]:
        extras = sorted(name for host, name in asked_extras if host is p)
        suffix = f"[{','.join(extras)}]" if extras else ""
        usable = _usable(p)
        roll = rng.random()
        if roll < 0.15:
            spec = f"=={usable[-1]}"
        elif roll < 0.25 and len(usable) > 2:
            spec = f">={usable[0]},<{usable[-1]}"  # an upper bound, as teams write them
        else:
            spec = _lower_bound(rng, p)
        top.append(f"{p.name}{suffix}{spec}")
    # Extras asked for by packages deeper down: ask for them on an existing edge.
    for host, name in asked_extras:
        if host.level == 0:
            continue
        for parent in parents.get(host.name, []):
            parent.deps = [_with_extra(line, host.name, name) for line in parent.deps]
            break
    packages = [p for tier in levels for p in tier] + unreached
    return packages, top


def _bump_major(version: str) -> str:
    return f"{int(version.split('.')[0]) + 1}.0.0"


def _usable(p: Package) -> list[str]:
    """Final versions a CPython 3.11 target may use, oldest first."""
    return p.versions[:-1] if p.py312_newest else list(p.versions)


def _lower_bound(rng: random.Random, p: Package) -> str:
    usable = _usable(p)
    if rng.random() < 0.2:
        return ""
    return f">={rng.choice(usable[: max(1, len(usable) - 1)])}"


def _with_extra(line: str, name: str, extra: str) -> str:
    if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("", ">", "=", "<", ";"):
        return line
    rest = line[len(name) :]
    if rest.startswith("["):
        return line
    return f"{name}[{extra}]{rest}"


# --- files ----------------------------------------------------------------------------------


def _escape(name: str) -> str:
    return name.lower().replace("-", "_").replace(".", "_")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _description(rng: random.Random, size: int) -> str:
    words = rng.choices(_WORDS, k=max(1, size // 5))
    lines = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
    return "\n".join(lines)


def metadata(p: Package, version: str, rng: random.Random) -> bytes:
    requires_python = ">=3.12" if version == p.versions[-1] and p.py312_newest else ">=3.8"
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {p.name}",
        f"Version: {version}",
        f"Summary: {p.name}: a generated package for indexgate's benchmark",
        "Home-page: https://example.invalid/",
        "License: MIT",
        "Classifier: Programming Language :: Python :: 3",
        f"Requires-Python: {requires_python}",
    ]
    lines += [f"Provides-Extra: {e}" for e in p.extras]
    lines += [f"Requires-Dist: {d}" for d in p.deps]
    lines += [d for deps in p.extras.values() for d in (f"Requires-Dist: {x}" for x in deps)]
    lines.append("Description-Content-Type: text/markdown")
    body = _description(rng, rng.choice((1_500, 4_000, 8_000, 15_000, 30_000)))
    return ("\n".join(lines) + "\n\n" + body + "\n").encode()


def build_wheel(
    folder: Path, p: Package, version: str, tag: str, size: int, files: int, seed: int
) -> tuple[Path, bytes]:
    rng = random.Random(seed)
    module = _escape(p.name)
    stem = f"{module}-{version}"
    dist_info = f"{stem}.dist-info"
    members: dict[str, bytes] = {}
    per_file = max(0, size // max(1, files))
    for i in range(files):
        sub = f"_impl/{_WORDS[i % 29]}_{i // 29}" if files > 30 else "_impl"
        ext = ".so" if p.binary and i % 17 == 0 else ".py"
        members[f"{module}/{sub}/module_{i:04d}{ext}"] = rng.randbytes(per_file)
    members[f"{module}/__init__.py"] = f'__version__ = "{version}"\n'.encode()
    meta = metadata(p, version, rng)
    members[f"{dist_info}/METADATA"] = meta
    members[f"{dist_info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: {str(not p.binary).lower()}\n"
        + "".join(f"Tag: {t}\n" for t in _expand(tag))
    ).encode()
    members[f"{dist_info}/top_level.txt"] = f"{module}\n".encode()
    members[f"{dist_info}/licenses/LICENSE"] = b"MIT License\n" + rng.randbytes(600).hex().encode()
    record = "".join(f"{n},sha256={_b64(d)},{len(d)}\n" for n, d in members.items())
    members[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()
    path = folder / f"{stem}-{tag}.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, _DATE)
            stored = name.startswith(f"{module}/_impl/")
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return path, meta


def _expand(tag: str) -> list[str]:
    py, abi, plats = tag.split("-")
    return [f"{py}-{abi}-{plat}" for plat in plats.split(".")]


def build_sdist(folder: Path, p: Package, version: str) -> Path:
    base = f"{_escape(p.name)}-{version}"
    data = f"Metadata-Version: 2.1\nName: {p.name}\nVersion: {version}\n".encode()
    path = folder / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size, info.mtime = len(data), 1704067200
        tar.addfile(info, io.BytesIO(data))
    return path


def generate(root: Path, seed: int = 20250101) -> dict[str, object]:
    """Write the index under ``root`` (reused when already complete); returns its summary."""
    stamp = root / "done.json"
    if stamp.is_file():
        summary = json.loads(stamp.read_text())
        if summary.get("generator") == GENERATOR_VERSION and summary.get("seed") == seed:
            return summary
    packages, top = plan(seed)
    files_dir = root / "files"
    files_dir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed + 1)
    many_files_reached = 0
    for p in packages:
        links: list[tuple[str, str, str | None, str | None]] = []  # file, sha, rp, meta sha
        releases = list(p.versions) + ([p.prerelease] if p.prerelease else [])
        recent_versions = _usable(p)[-2:]
        for version in releases:
            recent = version in recent_versions
            rp = ">=3.12" if version == p.versions[-1] and p.py312_newest else ">=3.8"
            tags = [TARGET_TAG, *OTHER_TAGS] if p.binary else ["py3-none-any"]
            for tag in tags:
                main = tag in (TARGET_TAG, "py3-none-any") and recent
                size = p.size if main else 6_000
                nfiles = _file_count(rng, p) if main else 4
                path, meta = build_wheel(
                    files_dir, p, version, tag, size, nfiles, rng.getrandbits(32)
                )
                if main and p.level >= 0 and p.many_files and version == recent_versions[-1]:
                    many_files_reached += 1
                (files_dir / (path.name + ".metadata")).write_bytes(meta)
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                links.append((path.name, digest, rp, hashlib.sha256(meta).hexdigest()))
            sdist = build_sdist(files_dir, p, version)
            links.append((sdist.name, hashlib.sha256(sdist.read_bytes()).hexdigest(), rp, None))
        for tree, pep658 in (("simple", False), ("simple658", True)):
            page = root / tree / p.norm / "index.html"
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_text(_page(p.norm, links, pep658))
    for tree in ("simple", "simple658"):
        names = sorted(p.norm for p in packages)
        body = "".join(f'<a href="{n}/">{n}</a><br/>\n' for n in names)
        (root / tree / "index.html").write_text(_doc("Simple index", body))
    (root / "requirements.in").write_text("\n".join(top) + "\n")
    summary = {
        "generator": GENERATOR_VERSION,
        "seed": seed,
        "projects": len(packages),
        "reached_planned": sum(TIERS),
        "depth": len(TIERS),
        "top_level": len(top),
        "many_file_wheels": many_files_reached,
    }
    stamp.write_text(json.dumps(summary, indent=1))
    return summary


def _file_count(rng: random.Random, p: Package) -> int:
    if p.many_files:
        return rng.randint(700, 3500)
    if p.binary:
        return rng.randint(20, 250)
    return rng.randint(3, 120)


def _page(name: str, links: list[tuple[str, str, str | None, str | None]], pep658: bool) -> str:
    rows = []
    for filename, digest, rp, meta in links:
        attrs = f' data-requires-python="{html.escape(rp)}"' if rp else ""
        if pep658 and meta:
            attrs += f' data-core-metadata="sha256={meta}" data-dist-info-metadata="sha256={meta}"'
        href = f"../../files/{filename}#sha256={digest}"
        rows.append(f'<a href="{href}"{attrs}>{html.escape(filename)}</a><br/>\n')
    return _doc(f"Links for {name}", "".join(rows))


def _doc(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{html.escape(title)}</title>\n</head>\n<body>\n<h1>{html.escape(title)}</h1>\n"
        f"{body}</body>\n</html>\n"
    )


if __name__ == "__main__":
    import sys

    print(json.dumps(generate(Path(sys.argv[1])), indent=1))
