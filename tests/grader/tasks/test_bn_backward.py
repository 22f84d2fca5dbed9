"""bn-backward: correct gradients in several styles pass; missing terms are named."""

from __future__ import annotations

import pytest

from grader.grading import WRONG_FORWARD
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-backward"

FORWARD = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1]))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
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


def test_a_wrong_forward_differentiated_correctly_is_not_blamed_on_the_backward_but_earns_nothing(
    grade_source,  # type: ignore[no-untyped-def]
) -> None:
    """The recruiter learns the backward pass is sound and the fault is the forward pass's variance; the
    gradient check earns no points, since agreeing with a wrong forward pass is not a right answer."""
    result = grade_source(TASK, UNBIASED_FORWARD_WITH_ITS_OWN_GRADIENT)
    assert result.verdict == "rejected" and result.score == 0
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert (check.status, check.message) == ("wrong_answer", WRONG_FORWARD)
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


# Exact gradients, broken inference: each seen in real code and once accepted, because bn-backward compared
# only the gradients although its statement asks for the whole forward pass. Each is (old, new) in FORWARD,
# and the misconception the forward cases name (None: wrong, but no named misconception yet).
BROKEN_INFERENCE = {
    "test_mode_without_gamma_beta": (
        "    return gamma * xhat + beta, (xhat, xmu, ivar, gamma, var, eps)",
        "    out = gamma * xhat + beta if mode == 'train' else xhat\n"
        "    return out, (xhat, xmu, ivar, gamma, var, eps)",
        "test_mode_no_affine",
    ),
    "eps_outside_sqrt_in_test_mode": (
        "    ivar = 1.0 / np.sqrt(var + eps)",
        "    ivar = 1.0 / np.sqrt(var + eps) if mode == 'train' else 1.0 / (np.sqrt(var) + eps)",
        "eps_outside_sqrt",
    ),
    "test_mode_without_eps": (
        "    ivar = 1.0 / np.sqrt(var + eps)",
        "    ivar = 1.0 / np.sqrt(var + eps) if mode == 'train' else 1.0 / np.sqrt(var)",
        "test_mode_no_eps",
    ),
    "var_plus_eps_stored": (
        "(1 - momentum) * var\n",
        "(1 - momentum) * (var + eps)\n",
        "running_var_includes_eps",
    ),
    "running_statistics_of_shape_1_d": (
        "(1 - momentum) * mu\n",
        "(1 - momentum) * x.mean(axis=0, keepdims=True)\n",
        None,
    ),
    "momentum_reversed": (
        '        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu\n'
        '        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var\n',
        '        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mu\n'
        '        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var\n',
        "momentum_reversed",
    ),
}


@pytest.mark.parametrize("bug", BROKEN_INFERENCE)
def test_exact_gradients_with_a_broken_inference_path_are_not_accepted(grade_source, bug: str) -> None:  # type: ignore[no-untyped-def]
    old, new, code = BROKEN_INFERENCE[bug]
    source = CLOSED_FORM.replace(old, new)
    assert source != CLOSED_FORM, bug
    result = grade_source(TASK, source)
    failed = {c.name for c in result.cases if c.status != "passed"}
    assert result.verdict == "partially_accepted", (bug, failed)
    assert failed - {"gradient_check"} and all(n.startswith("forward_") for n in failed - {"gradient_check"})
    check = next(c for c in result.cases if c.name == "gradient_check")  # exact, but of a wrong forward
    assert (check.status, check.message) == ("wrong_answer", WRONG_FORWARD), bug
    assert "backward_inconsistent_with_forward" not in [d.code for d in result.diagnoses]
    if code is not None:
        assert result.diagnoses and result.diagnoses[0].code == code, (
            bug,
            [d.code for d in result.diagnoses],
        )
    if bug.endswith("in_test_mode"):  # said of test mode only, which is what is wrong
        assert result.diagnoses[0].message.startswith("In test mode"), result.diagnoses[0].message


@pytest.mark.parametrize(
    ("returned", "expected"),
    [
        ("dx, None, dout.sum(0)", "dgamma from batchnorm_backward is missing"),
        (
            "dx, (dout * xhat).sum(0, keepdims=True), dout.sum(0)",
            "dgamma from batchnorm_backward has shape (1, ",
        ),
    ],
)
def test_a_missing_or_misshapen_gradient_is_named_as_such_not_as_inconsistent(
    grade_source,  # type: ignore[no-untyped-def]
    returned: str,
    expected: str,
) -> None:
    """Exact values in the wrong shape, or a gradient left out, are not "not the derivative of the forward
    pass": the report says what is actually wrong."""
    source = CLOSED_FORM.replace("return dx, (dout * xhat).sum(0), dout.sum(0)", f"return {returned}")
    assert source != CLOSED_FORM
    result = grade_source(TASK, source)
    check = next(c for c in result.cases if c.name == "gradient_check")
    assert check.status == "wrong_answer" and check.message.startswith(expected), check.message
    assert "backward_inconsistent_with_forward" not in [d.code for d in result.diagnoses]
