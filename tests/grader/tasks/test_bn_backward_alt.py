"""bn-backward-alt: a closed form is accepted, including its speed; a slow one loses only the speed case;
mistakes in either backward function are named."""

from __future__ import annotations

import pytest

from grader.tasks.bn_backward_alt import ALLOWED_SLOWDOWN
from tests.grader.tasks.conftest import assert_accepted, assert_named_first
from tests.grader.tasks.test_bn_backward import CLOSED_FORM, STAGED, WRONG

TASK = "bn-backward-alt"

ALT_FROM_CACHE = """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = (gamma * ivar / n) * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
"""

ALT_WITH_EINSUM = """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = gamma * ivar * (dout - (dbeta + xhat * dgamma) / n)
    return dx, dgamma, dbeta
"""

# Right answers, slowly: the same vectorized work done twenty times over, unmistakably past the limit on
# any machine. Replacing the clocks from the solution must not hide it (the supervisor measures the time,
# from outside the sandbox).
SLOW_ALT = """
import time

def batchnorm_backward_alt(dout, cache):
    for _ in range(20):
        result = batchnorm_backward(dout, cache)
    return result

time.perf_counter = time.process_time = time.monotonic = lambda: 0.0
"""


# Right, and slow: the closed form computed twenty times over, needing nothing else from the file.
SLOW_ALT_OF_ITS_OWN = """
def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    for _ in range(20):
        dbeta = dout.sum(axis=0)
        dgamma = (dout * xhat).sum(axis=0)
        dx = (gamma * ivar / n) * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
"""


@pytest.mark.parametrize(
    "source",
    [CLOSED_FORM + ALT_FROM_CACHE, STAGED + ALT_WITH_EINSUM],
    ids=["closed_form", "staged_and_einsum"],
)
def test_closed_forms_are_accepted_speed_included(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)
    assert any(c.name == "speed_large_input" for c in result.cases)


def test_a_slow_closed_form_loses_only_the_speed_case(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, CLOSED_FORM + SLOW_ALT)
    assert result.verdict == "partially_accepted"
    failed = [c for c in result.cases if c.status != "passed"]
    assert [c.name for c in failed] == ["speed_large_input"]
    assert failed[0].status == "time_limit_exceeded"
    assert failed[0].message.startswith("correct, but too slow")
    assert f"at most {ALLOWED_SLOWDOWN:g}x" in failed[0].message
    assert 0 < result.score < 1
    assert [d.code for d in result.diagnoses] == ["too_slow"]
    assert result.diagnoses[0].message.startswith("Every other case is right; only the speed check fails")
    assert (
        "x the CPU time of the reference" in result.diagnoses[0].message and "loop" not in failed[0].message
    )


def test_slowness_beside_wrong_answers_claims_nothing_it_does_not_know(grade_source) -> None:  # type: ignore[no-untyped-def]
    """A slow submission that is also wrong is not told its answer is right, nor guessed at (loops…)."""
    wrong_backward = CLOSED_FORM.replace("(dout * xhat).sum(0), dout.sum(0)", "dout.sum(0), dout.sum(0)")
    assert wrong_backward != CLOSED_FORM
    wrong_and_slow = wrong_backward + SLOW_ALT_OF_ITS_OWN
    result = grade_source(TASK, wrong_and_slow)
    slow = next(d for d in result.diagnoses if d.code == "too_slow")
    assert slow.message.startswith("Besides the cases it gets wrong, the speed check fails")
    assert "right" not in slow.message and "loop" not in slow.message


@pytest.mark.parametrize("code", WRONG)
def test_a_missing_term_in_the_closed_form_alone_is_named(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    wrong_alt = WRONG[code].split("def batchnorm_backward(", 1)[1]
    source = CLOSED_FORM + "\ndef batchnorm_backward_alt(" + wrong_alt
    result = grade_source(TASK, source)
    assert_named_first(result, code)
    assert [d.code for d in result.diagnoses].count(code) == 1
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.message.startswith("dx from batchnorm_backward_alt disagrees"), check.message
    assert "from batchnorm_backward " not in check.message


@pytest.mark.parametrize("code", WRONG)
def test_the_same_mistake_in_both_backward_functions_is_named_once(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    source = WRONG[code] + "\nbatchnorm_backward_alt = batchnorm_backward\n"
    result = grade_source(TASK, source)
    assert_named_first(result, code)
    assert [d.code for d in result.diagnoses].count(code) == 1
