"""Build tiny but valid wheels and sdists, so tests and the demo need no network.

Archives are deterministic (fixed timestamps), so the same arguments give the same bytes and
the same hashes. Sdists carry a ``setup.py`` that raises: if anything ever executes it, the
gate ran package code, which it must never do.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import re
import tarfile
import zipfile
from collections.abc import Iterable
from email.parser import BytesParser
from pathlib import Path

from packaging.tags import parse_tag

_DATE_TIME = (2020, 1, 1, 0, 0, 0)
_MTIME = 1577836800  # 2020-01-01


def escape_name(name: str) -> str:
    """The distribution name as wheel and sdist filenames spell it."""
    return re.sub(r"[-_.]+", "_", name).lower()


def metadata_text(
    name: str,
    version: str,
    *,
    metadata_version: str = "2.1",
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    dynamic: Iterable[str] = (),
) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {field}" for field in dynamic]
    lines.append(f"Summary: {name}, built for indexgate's tests")
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Provides-Extra: {extra}" for extra in provides_extra]
    lines += [f"Requires-Dist: {req}" for req in requires_dist]
    return "\n".join(lines) + "\n\n"


def build_wheel(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
    tag: str = "py3-none-any",
    extra_files: dict[str, bytes] | None = None,
) -> Path:
    """Write ``<name>-<version>-<tag>.whl`` into ``dest_dir`` and return its path."""
    stem = f"{escape_name(name)}-{version.replace('-', '_')}"
    dist_info = f"{stem}.dist-info"
    module = escape_name(name)
    metadata = metadata_text(
        name,
        version,
        requires_dist=requires_dist,
        requires_python=requires_python,
        provides_extra=provides_extra,
    )
    wheel = "Wheel-Version: 1.0\nGenerator: indexgate-devserver\nRoot-Is-Purelib: true\n"
    wheel += "".join(f"Tag: {t}\n" for t in sorted(str(t) for t in parse_tag(tag)))
    files: dict[str, bytes] = {f"{module}/__init__.py": f'__version__ = "{version}"\n'.encode()}
    files.update(extra_files or {})
    files[f"{dist_info}/METADATA"] = metadata.encode()
    files[f"{dist_info}/WHEEL"] = wheel.encode()
    record = "".join(
        f"{arc},sha256={_b64_sha256(data)},{len(data)}\n" for arc, data in files.items()
    )
    files[f"{dist_info}/RECORD"] = (record + f"{dist_info}/RECORD,,\n").encode()

    path = Path(dest_dir) / f"{stem}-{tag}.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for arcname, data in files.items():
            archive.writestr(zipfile.ZipInfo(arcname, _DATE_TIME), data, zipfile.ZIP_DEFLATED)
    return path


def build_sdist(
    dest_dir: Path,
    name: str,
    version: str,
    *,
    requires_dist: Iterable[str] = (),
    metadata_version: str = "2.2",
    dynamic: Iterable[str] = (),
    requires_python: str | None = None,
    provides_extra: Iterable[str] = (),
) -> Path:
    """Write ``<name>-<version>.tar.gz`` (PEP 625 name) with a static ``PKG-INFO``."""
    base = f"{escape_name(name)}-{version}"
    pkg_info = metadata_text(
        name,
        version,
        metadata_version=metadata_version,
        requires_dist=requires_dist,
        requires_python=requires_python,
        provides_extra=provides_extra,
        dynamic=dynamic,
    )
    setup_py = f"raise RuntimeError('setup.py of {name} {version} was executed')\n"
    files = {
        f"{base}/PKG-INFO": pkg_info.encode(),
        f"{base}/setup.py": setup_py.encode(),
        f"{base}/{escape_name(name)}/__init__.py": f'__version__ = "{version}"\n'.encode(),
    }
    path = Path(dest_dir) / f"{base}.tar.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for arcname, data in files.items():
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), _MTIME, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def read_core_metadata(path: Path) -> bytes | None:
    """The ``METADATA`` of a wheel or the top-level ``PKG-INFO`` of an sdist, else None."""
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as archive:
                for arcname in archive.namelist():
                    parts = arcname.split("/")
                    if (
                        len(parts) == 2
                        and parts[0].endswith(".dist-info")
                        and parts[1] == "METADATA"
                    ):
                        return archive.read(arcname)
        elif path.name.endswith(".tar.gz"):
            with tarfile.open(path, "r:gz") as tar:
                for member in tar.getmembers():
                    if (
                        member.isfile()
                        and member.name.count("/") == 1
                        and member.name.endswith("/PKG-INFO")
                    ):
                        extracted = tar.extractfile(member)
                        return extracted.read() if extracted else None
    except (OSError, zipfile.BadZipFile, tarfile.TarError):
        return None
    return None


def requires_python_of(path: Path) -> str | None:
    """The ``Requires-Python`` a file declares, for ``data-requires-python``."""
    raw = read_core_metadata(path)
    if raw is None:
        return None
    value = BytesParser().parsebytes(raw, headersonly=True).get("Requires-Python")
    return str(value) if value else None


def _b64_sha256(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
