"""A warm sandbox pool shared by the grader's tests, and a helper that grades source text."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from grader import grade
from grader.result import GradeResult
from grader.sandbox import BubblewrapRunner

collect_ignore_glob = ["corpus/*"]  # candidates' submissions, graded by test_corpus.py, not test modules


@pytest.fixture(scope="session")
def runner() -> Iterator[BubblewrapRunner]:
    with BubblewrapRunner(warm=2) as r:
        yield r


@pytest.fixture
def grade_source(runner: BubblewrapRunner):  # type: ignore[no-untyped-def]
    def run(task_id: str, source: str, seed: int = 0) -> GradeResult:
        return grade(task_id, source, seed=seed, runner=runner)

    return run
