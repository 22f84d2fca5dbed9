"""Every task's reference solution (grader/solutions/, shown to the hiring team in the question preview) is
accepted by the grader on several seeds, with nothing diagnosed."""

from __future__ import annotations

import pytest

from grader.tasks import TASKS
from grader.tasks.base import SOLUTIONS
from tests.grader.tasks.conftest import assert_accepted


@pytest.mark.parametrize("task_id", sorted(TASKS))
def test_the_reference_solution_is_accepted(grade_source, task_id: str) -> None:  # type: ignore[no-untyped-def]
    solution = TASKS[task_id].solution
    for function in TASKS[task_id].functions:
        assert f"def {function}(" in solution or f"class {function}" in solution, function
    for seed in (0, 7):
        assert_accepted(grade_source(task_id, solution, seed=seed))


def test_there_is_no_solution_without_a_task() -> None:
    assert {p.stem for p in SOLUTIONS.glob("*.py")} == {t.replace("-", "_") for t in TASKS}
