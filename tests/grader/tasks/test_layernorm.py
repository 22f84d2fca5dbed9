"""layernorm: correct implementations pass; each known mistake is named first."""

from __future__ import annotations

import pytest

from grader.grading import get_task
from tests.grader.tasks.conftest import (
    assert_accepted,
    assert_named_first,
    assert_only_gradient_inconsistent,
)

TASK = "layernorm"

CORRECT = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

# Layer norm as batch norm on the transpose, the trick CS231n suggests.
VIA_TRANSPOSE = """
import numpy as np

def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xt = x.T
    mu = xt.mean(axis=0)
    var = xt.var(axis=0)
    xhat_t = (xt - mu) / np.sqrt(var + eps)
    xhat = xhat_t.T
    return xhat * gamma + beta, (xhat_t, np.sqrt(var + eps), gamma)

def layernorm_backward(dout, cache):
    xhat_t, std, gamma = cache
    dgamma = (dout * xhat_t.T).sum(0)
    dbeta = dout.sum(0)
    dxhat_t = (dout * gamma).T
    n = dxhat_t.shape[0]
    dx_t = (n * dxhat_t - dxhat_t.sum(0) - xhat_t * (dxhat_t * xhat_t).sum(0)) / (n * std)
    return dx_t.T, dgamma, dbeta
"""

WRONG = {
    "wrong_axis": CORRECT.replace("x.mean(axis=1, keepdims=True)", "x.mean(axis=0, keepdims=True)").replace(
        "x.var(axis=1, keepdims=True)", "x.var(axis=0, keepdims=True)"
    ),
    "unbiased_variance": CORRECT.replace(
        "x.var(axis=1, keepdims=True)", "x.var(axis=1, ddof=1, keepdims=True)"
    ),
    "eps_outside_sqrt": CORRECT.replace(
        "xhat = (x - mu) / np.sqrt(var + eps)", "xhat = (x - mu) / (np.sqrt(var) + eps)"
    ),
    "backward_missing_mean_term": CORRECT.replace(" - dxhat.sum(1, keepdims=True)", ""),
    "backward_missing_var_term": CORRECT.replace(" - xhat * (dxhat * xhat).sum(1, keepdims=True)", ""),
}


@pytest.mark.parametrize("source", [CORRECT, VIA_TRANSPOSE], ids=["direct", "via_transpose"])
def test_correct_solutions_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


@pytest.mark.parametrize("code", WRONG)
def test_each_mistake_is_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert WRONG[code] != CORRECT
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)


def test_the_gradient_check_blames_the_wrong_gradient(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = CORRECT.replace(
        "return dx, (dout * xhat).sum(0), dout.sum(0)", "return dx, (dout * xhat).sum(0), 2 * dout.sum(0)"
    )
    assert source != CORRECT
    assert_only_gradient_inconsistent(grade_source(TASK, source), "layernorm_backward", "dbeta")
