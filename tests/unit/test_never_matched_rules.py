"""Which indexes ``index-never-matched`` names, from the page answers of a run."""

from __future__ import annotations

from indexgate.index.client import PageResult, never_matched
from indexgate.settings import IndexConfig

PRIVATE = IndexConfig("private", "https://nexus.example/private/simple/")
PUBLIC = IndexConfig("public", "https://nexus.example/public/simple/", default=True)
VENDOR = IndexConfig(
    "vendor", "https://vendor.example/simple/", ignore_error_codes=frozenset({403})
)


class Answers:
    """What ``never_matched`` reads of an IndexClient: its indexes and the pages answered."""

    def __init__(self, indexes: tuple[IndexConfig, ...], *pages: tuple[IndexConfig, str, int]):
        self.indexes = indexes
        self.pages = pages

    def page_answers(self) -> dict[str, tuple[IndexConfig, list[PageResult]]]:
        out: dict[str, tuple[IndexConfig, list[PageResult]]] = {}
        for index, name, status in self.pages:
            out.setdefault(index.name, (index, []))[1].append(PageResult(index, name, status))
        return out


def named(answers: Answers) -> list[str]:
    return [p.index for p in never_matched(answers)]  # type: ignore[arg-type]


def test_an_index_that_had_none_is_named() -> None:
    answers = Answers(
        (PRIVATE, PUBLIC),
        (PRIVATE, "a", 404),
        (PRIVATE, "b", 404),
        (PUBLIC, "a", 200),
        (PUBLIC, "b", 200),
    )
    (problem,) = never_matched(answers)  # type: ignore[arg-type]
    assert (problem.kind, problem.index, problem.status_code) == (
        "index-never-matched",
        "private",
        404,
    )
    assert "a, b" in problem.message


def test_one_match_is_enough_and_unasked_indexes_are_not_named() -> None:
    answers = Answers(
        (PRIVATE, VENDOR, PUBLIC), (PRIVATE, "acme", 200), (PRIVATE, "b", 404), (PUBLIC, "b", 200)
    )
    assert named(answers) == []


def test_later_indexes_asked_for_names_an_earlier_one_has_are_not_named() -> None:
    """Drift's shadow check asks the public index for private names: 404 there is normal."""
    answers = Answers((PRIVATE, PUBLIC), (PRIVATE, "acme", 200), (PUBLIC, "acme", 404))
    assert named(answers) == []


def test_ignore_error_codes_count_as_not_here() -> None:
    answers = Answers((VENDOR, PUBLIC), (VENDOR, "a", 403), (VENDOR, "b", 404), (PUBLIC, "a", 200))
    (problem,) = never_matched(answers)  # type: ignore[arg-type]
    assert problem.index == "vendor" and problem.status_code is None
    assert "HTTP 403/HTTP 404" in problem.message
