"""``new_dist`` (the page readers' quick DistFile) makes the same object as ``DistFile``,
and ``dist_files`` rebuilds stored rows as they were."""

from __future__ import annotations

import dataclasses

import pytest

from indexgate.dists.models import DIST_FIELDS, DistFile, dist_files, dist_row, new_dist

ROWS = [
    ("a-1.0.tar.gz", "https://h/a-1.0.tar.gz", {}, None, False, None, None, None, None),
    (
        "a-1.0-py3-none-any.whl",
        "https://h/a-1.0-py3-none-any.whl",
        {"sha256": "ab" * 32},
        ">=3.8",
        True,
        "broken",
        {"sha256": "cd" * 32},
        "2024-01-02T03:04:05Z",
        1234,
    ),
]


@pytest.mark.parametrize("row", ROWS)
def test_new_dist_is_the_dataclass_field_for_field(row: tuple) -> None:
    made, expected = new_dist(*row), DistFile(*row)
    assert type(made) is DistFile
    assert dist_row(made) == dist_row(expected) == row
    assert made == expected and hash(made) == hash(expected)
    assert made.hashes is row[2]  # kept as given, not copied
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.url = "https://other/"  # type: ignore[misc]


def test_new_dist_defaults_are_the_dataclass_defaults() -> None:
    made = new_dist("a-1.0.tar.gz", "https://h/a", {}, None, False, None, None)
    assert made == DistFile("a-1.0.tar.gz", "https://h/a")
    assert made.upload_time is None and made.size is None


def test_dist_files_rebuilds_rows_and_refuses_other_lengths() -> None:
    assert [dist_row(d) for d in dist_files(ROWS)] == ROWS
    with pytest.raises(ValueError, match=f"not {len(DIST_FIELDS)}"):
        dist_files([ROWS[0][:-1]])
