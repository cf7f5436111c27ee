"""Backtracking that finishes (issue 11), against a real local index.

The shape is issue 11's runaway (``fastapi[standard]`` with ``sentry-sdk[fastapi]<2``, see
``support/shapes.py``). No timing is asserted: the resolver's round budget is cut to a few
hundred rounds, far more than the answer needs (about 30) and far fewer than resolvelib
alone spends on this shape (it ran out of its 20,000 rounds), so the test fails if the
provider stops learning which versions can never be used.
"""

from __future__ import annotations

import pytest
from check_support import CheckCli
from support.packages import wheel
from support.shapes import fastapi_sentry_shape

from indexgate.resolver import resolve

ROUND_BUDGET = 300


@pytest.fixture
def cli(cli: CheckCli, monkeypatch: pytest.MonkeyPatch) -> CheckCli:
    """conftest.py's, with the resolver's round budget these shapes must stay within."""
    monkeypatch.setattr(resolve, "MAX_ROUNDS", ROUND_BUDGET)
    return cli


def test_a_dependency_that_conflicts_with_a_user_bound_is_backtracked_past(cli, dev_index) -> None:
    packages, requirements = fastapi_sentry_shape()
    index = dev_index(packages)
    run = cli.run("--index", index.url, requirements=requirements)
    assert run.code == 0, run.out + run.err
    versions = run.versions()
    # uv's answer on the same index: the only web whose cli range reaches a cli
    # without cloud, that cli, and the newest tracker below the user's bound
    assert versions["web"] == "1.0"
    assert versions["cli"] == "0.1"
    assert versions["tracker"] == "1.15"
    assert "cloud" not in versions


def test_the_same_shape_without_an_answer_names_the_conflicting_requirements(
    cli, dev_index
) -> None:
    packages, requirements = fastapi_sentry_shape(solvable=False)
    index = dev_index(packages)
    run = cli.run("--index", index.url, requirements=requirements)
    assert run.code == 1, run.out + run.err
    (error,) = run.errors("no-solution")
    message = error["message"]
    assert "too many rounds" not in message
    assert error["package"] == "web"
    assert error["line"] == 1
    # the chain from web down to the user's own bound, as uv explains it
    for part in ("cli[standard]>=", "cloud>=0.1", "tracker>=2.1", "tracker[web]<2"):
        assert part in message, message


def test_giving_up_names_the_packages_that_kept_conflicting(cli, dev_index, monkeypatch) -> None:
    # Two dependencies that disagree on a third: no user bound is involved, so nothing
    # is pruned and resolvelib tries the pairs one by one; a tiny budget runs out.
    packages = [wheel("app", "1.0", "left>=1", "right>=1")]
    packages += [wheel("left", f"1.{i}", "shared>=2") for i in range(12)]
    packages += [wheel("right", f"1.{i}", "shared<2") for i in range(12)]
    packages += ["shared==1.0", "shared==2.0"]
    index = dev_index(packages)
    monkeypatch.setattr(resolve, "MAX_ROUNDS", 20)
    run = cli.run("--index", index.url, requirements="app\n")
    assert run.code == 1, run.out + run.err
    (error,) = run.errors("no-solution")
    message = error["message"]
    assert "too many rounds" in message
    assert "shared" in message and "shared>=2" in message and "shared<2" in message, message
    assert "left 1." in message or "right 1." in message, message
