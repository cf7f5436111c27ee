"""Large generated project pages (PEP 691 JSON and PEP 503 HTML) shaped like real ones.

Real pages of projects with native wheels (numpy, botocore, grpcio...) list thousands of
files: every version has an sdist and a wheel per Python and platform. The benchmark
(``benchmarks/pages.py``) and the regression tests parse pages built here; each page is
built with one ``join`` and nothing else, so a 50 MB page takes well under a second.
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterator
from dataclasses import dataclass

PYTHONS = ("cp39", "cp310", "cp311", "cp312", "cp313")
PLATFORMS = (
    "manylinux_2_17_x86_64.manylinux2014_x86_64",
    "manylinux_2_17_aarch64.manylinux2014_aarch64",
    "musllinux_1_2_x86_64",
    "macosx_11_0_arm64",
    "win_amd64",
)
WHEEL_TAGS = tuple(f"{py}-{py}-{plat}" for py in PYTHONS for plat in PLATFORMS)
FILES_PER_VERSION = len(WHEEL_TAGS) + 1  # the wheels and one sdist

# What real pages carry per file besides its name and URL (a few repeated values).
_REQUIRES_PYTHON = (">=3.9", ">=3.9,<3.14", ">=2.7, !=3.0.*, !=3.1.*, !=3.2.*", "")


@dataclass(frozen=True)
class GenFile:
    filename: str
    url: str  # as written on the page (absolute or relative)
    sha256: str
    requires_python: str
    metadata_sha256: str | None  # PEP 658/714 core metadata when offered ("": without hash)
    yanked: bool


def version_of(i: int) -> str:
    """The i-th version: 0.0.0, 0.0.1, ... distinct and ordered by i."""
    return f"{i // 10000}.{i // 100 % 100}.{i % 100}"


def generate(
    project: str,
    n_files: int,
    *,
    absolute: bool = True,
    metadata: bool | str = True,
    host: str = "https://files.example.test",
) -> list[GenFile]:
    """``n_files`` files of ``project``: versions in order, each with its sdist and wheels.

    ``absolute``: URLs as the big public index writes them (one hash folder per file);
    else short relative ones (``../../f/<name>``) as pypiserver, devpi and mirrors do.
    ``metadata``: True offers core metadata (with a hash) on two files in three;
    ``"all"`` on every file, without a hash (a server can then answer any of them).
    """
    files = []
    for n, (filename, i) in zip(range(n_files), _filenames(project), strict=False):
        digest = hashlib.sha256(filename.encode()).hexdigest()
        if absolute:
            url = f"{host}/packages/{digest[:2]}/{digest[2:4]}/{digest[4:60]}/{filename}"
        else:
            url = f"../../f/{filename}"
        files.append(
            GenFile(
                filename=filename,
                url=url,
                sha256=digest,
                requires_python=_REQUIRES_PYTHON[i % len(_REQUIRES_PYTHON)],
                metadata_sha256=_metadata_hash(metadata, n, digest),
                yanked=i % 50 == 7,
            )
        )
    return files


def _metadata_hash(metadata: bool | str, n: int, digest: str) -> str | None:
    if metadata == "all":
        return ""
    return digest[::-1] if metadata and n % 3 else None


def _filenames(project: str) -> Iterator[tuple[str, int]]:
    i = 0
    while True:
        version = version_of(i)
        yield f"{project}-{version}.tar.gz", i
        for tag in WHEEL_TAGS:
            yield f"{project}-{version}-{tag}.whl", i
        i += 1


def json_page(project: str, files: list[GenFile]) -> bytes:
    """A PEP 691 page, every field a real one carries (``size``, ``upload-time``...)."""
    entries = []
    for f in files:
        entry: dict[str, object] = {
            "filename": f.filename,
            "hashes": {"sha256": f.sha256},
            "requires-python": f.requires_python or None,
            "size": 1000 + len(f.filename),
            "upload-time": "2024-05-01T12:00:00.000000Z",
            "url": f.url,
            "yanked": f.yanked,
        }
        if f.metadata_sha256 is None:
            entry["core-metadata"] = entry["data-dist-info-metadata"] = False
        elif f.metadata_sha256:
            meta = {"sha256": f.metadata_sha256}
            entry["core-metadata"] = entry["data-dist-info-metadata"] = meta
        else:
            entry["core-metadata"] = True
        entries.append(entry)
    doc = {"meta": {"api-version": "1.1"}, "name": project, "files": entries, "versions": []}
    return json.dumps(doc).encode()


def html_page(project: str, files: list[GenFile], *, lean: bool = False) -> bytes:
    """A PEP 503 page; ``lean`` leaves out what most links do not need (a dense page)."""
    parts = [
        "<!DOCTYPE html>\n<html>\n<head>\n"
        '<meta name="pypi:repository-version" content="1.1">\n'
        f"<title>Links for {project}</title>\n</head>\n<body>\n<h1>Links for {project}</h1>\n"
    ]
    for f in files:
        attrs = ""
        if f.requires_python and not lean:
            attrs += f' data-requires-python="{html.escape(f.requires_python)}"'
        if f.metadata_sha256 == "":
            attrs += ' data-core-metadata="true"'
        elif f.metadata_sha256 and not lean:
            attrs += f' data-dist-info-metadata="sha256={f.metadata_sha256}"'
            attrs += f' data-core-metadata="sha256={f.metadata_sha256}"'
        if f.yanked:
            attrs += ' data-yanked=""'
        parts.append(f'<a href="{f.url}#sha256={f.sha256}"{attrs}>{f.filename}</a><br />\n')
    parts.append("</body>\n</html>\n")
    return "".join(parts).encode()
