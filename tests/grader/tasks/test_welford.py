"""welford: exact under chunking and merging, stable at 1e8; the unstable formula is caught."""

from __future__ import annotations

import pytest

from grader.grading import get_task
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "welford"

CHAN = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

ROW_BY_ROW = """
import numpy as np

def welford_update(state, x):
    count, mean, m2 = state
    mean, m2 = mean.copy(), m2.copy()
    for row in x:
        count += 1
        delta = row - mean
        mean += delta / count
        m2 += delta * (row - mean)
    return count, mean, m2

def welford_merge(a, b):
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    n = a[0] + b[0]
    delta = b[1] - a[1]
    return n, (a[0] * a[1] + b[0] * b[1]) / n, a[2] + b[2] + delta * delta * a[0] * b[0] / n

def welford_finalize(state):
    count, mean, m2 = state
    return mean, m2 / count, m2 / (count - 1)
"""

WRONG = {
    "unstable_variance": CHAN.replace(
        "    m = x.mean(axis=0)\n    return welford_merge(state, (len(x), m, ((x - m) ** 2).sum(axis=0)))",
        "    n0, m0, s0 = state\n    n = n0 + len(x)\n    total = n0 * m0 + x.sum(0)\n"
        "    squares = s0 + n0 * m0 ** 2 + (x ** 2).sum(0)\n    mean = total / n\n"
        "    return n, mean, squares - n * mean ** 2",
    ),
    "merge_missing_delta": CHAN.replace("m2a + m2b + delta**2 * na * nb / n", "m2a + m2b"),
    "unbiased_variance": CHAN.replace(
        "return mean, m2 / n, m2 / (n - 1)", "return mean, m2 / (n - 1), m2 / n"
    ),
}


@pytest.mark.parametrize("source", [CHAN, ROW_BY_ROW], ids=["chunks_and_chan_merge", "row_by_row"])
def test_correct_solutions_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


@pytest.mark.parametrize("code", WRONG)
def test_each_mistake_is_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert WRONG[code] != CHAN
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)


def test_the_unstable_formula_fails_exactly_where_values_sit_far_from_zero(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, WRONG["unstable_variance"])
    failed = {c.name for c in result.cases if c.status != "passed"}
    assert failed == {"offset_1e8"}
