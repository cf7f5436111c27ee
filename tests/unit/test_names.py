"""File names compared by their normalized forms (PEP 427 escaping, PEP 503 names)."""

from __future__ import annotations

import pytest

from indexgate.sources.names import filename_key

MANY = "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (f"PyYAML-6.0.2-{MANY}.whl", f"pyyaml-6.0.2-{MANY}.whl"),
        ("Django-5.1-py3-none-any.whl", "django-5.1-py3-none-any.whl"),
        ("zope.interface-7.0-py3-none-any.whl", "zope_interface-7.0-py3-none-any.whl"),
        ("MarkupSafe-3.0.2.tar.gz", "markupsafe-3.0.2.tar.gz"),
        ("SQLAlchemy-2.0.0-py3-none-any.whl", "sqlalchemy-2.0-py3-none-any.whl"),  # 2.0.0 == 2.0
        ("odd name.txt", "ODD NAME.TXT"),
    ],
)
def test_same_file_spelled_differently(a: str, b: str) -> None:
    assert filename_key(a) == filename_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("pyyaml-6.0.2-py3-none-any.whl", "pyyaml-6.0.1-py3-none-any.whl"),
        ("pyyaml-6.0.2-py3-none-any.whl", f"pyyaml-6.0.2-{MANY}.whl"),
        ("pyyaml-6.0.2-1-py3-none-any.whl", "pyyaml-6.0.2-2-py3-none-any.whl"),
        ("markupsafe-3.0.2.tar.gz", "markupsafe-3.0.2.zip"),
        ("markupsafe-3.0.2.tar.gz", "markupsafe-3.0.2-py3-none-any.whl"),
        ("markupsafe-3.0.2.tar.gz", "markupsafe2-3.0.2.tar.gz"),
    ],
)
def test_different_files_stay_different(a: str, b: str) -> None:
    assert filename_key(a) != filename_key(b)
