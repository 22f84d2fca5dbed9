"""bn-backward: correct gradients in several styles pass; missing terms are named."""

from __future__ import annotations

import pytest

from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-backward"

FORWARD = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, (xhat, xmu, ivar, gamma, var, eps)
"""

CLOSED_FORM = (
    FORWARD
    + """
def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = ivar / n * (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)
"""
)

STAGED = (
    FORWARD
    + """
def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (np.sqrt(var + eps) ** 2) * divar
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar
    dsq = 1.0 / N * np.ones_like(dout) * dvar
    dxmu2 = 2 * xmu * dsq
    dx1 = dxmu1 + dxmu2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / N * np.ones_like(dout) * dmu
    return dx1 + dx2, dgamma, dbeta
"""
)

WRONG = {
    "backward_missing_mean_term": FORWARD
    + """
def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = ivar / n * (n * dxhat - xhat * (dxhat * xhat).sum(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)
""",
    "backward_missing_var_term": FORWARD
    + """
def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, gamma, var, eps = cache
    dxhat = dout * gamma
    dx = ivar * (dxhat - dxhat.mean(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)
""",
}


@pytest.mark.parametrize("source", [CLOSED_FORM, STAGED], ids=["closed_form", "staged_graph"])
def test_correct_gradients_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


@pytest.mark.parametrize("code", WRONG)
def test_missing_terms_are_named(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)
    wrong = [c for c in result.cases if c.status == "wrong_answer" and c.name != "gradient_check"]
    assert wrong and all(c.message.startswith("dx is wrong") for c in wrong)  # names the gradient at fault
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.status == "wrong_answer"
    assert check.message.startswith("dx from batchnorm_backward disagrees with finite differences")
    assert "dgamma" not in check.message and "dbeta" not in check.message
    assert "backward_inconsistent_with_forward" in [d.code for d in result.diagnoses]


def test_a_wrong_dgamma_is_reported_as_such(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(
        TASK, CLOSED_FORM.replace("(dout * xhat).sum(0), dout.sum(0)", "dout.sum(0), dout.sum(0)")
    )
    messages = {c.message for c in result.cases if c.status == "wrong_answer" and c.name != "gradient_check"}
    assert messages and all("dgamma is wrong" in m and "dx" not in m and "dbeta" not in m for m in messages)
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.message.startswith("dgamma from batchnorm_backward disagrees") and "dx" not in check.message


UNBIASED_FORWARD_WITH_ITS_OWN_GRADIENT = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    ivar = 1.0 / np.sqrt(x.var(axis=0, ddof=1) + bn_param.get("eps", 1e-5))
    xhat = (x - x.mean(axis=0)) * ivar
    return gamma * xhat + beta, (xhat, ivar, gamma)

def batchnorm_backward(dout, cache):
    xhat, ivar, gamma = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = ivar * (dxhat - dxhat.mean(0) - xhat * (dxhat * xhat).sum(0) / (n - 1))
    return dx, (dout * xhat).sum(0), dout.sum(0)
"""


def test_a_wrong_forward_differentiated_correctly_passes_the_gradient_check(grade_source) -> None:  # type: ignore[no-untyped-def]
    """The recruiter learns the backward pass is sound and the fault is the forward pass's variance."""
    result = grade_source(TASK, UNBIASED_FORWARD_WITH_ITS_OWN_GRADIENT)
    assert result.verdict == "partially_accepted"
    statuses = {c.name: c.status for c in result.cases}
    assert statuses.pop("gradient_check") == "passed"
    assert set(statuses.values()) == {"wrong_answer"}
    assert "backward_inconsistent_with_forward" not in [d.code for d in result.diagnoses]


def test_an_integer_forward_output_is_graded_not_a_crash(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = CLOSED_FORM.replace(
        "return gamma * xhat + beta, (xhat, xmu, ivar, gamma, var, eps)",
        "return np.round(gamma * xhat + beta).astype(np.int64), (xhat, xmu, ivar, gamma, var, eps)",
    )
    assert source != CLOSED_FORM
    result = grade_source(TASK, source)
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.status == "wrong_answer"  # rounded outputs are not differentiable like the gradients claim
