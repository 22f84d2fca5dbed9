"""bn-fold: folds written several ways are accepted; each folding mistake is named."""

from __future__ import annotations

import pytest

from grader.grading import get_task
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-fold"

DIRECT = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

WITH_MATRICES = """
import numpy as np

def _scale(gamma, running_var, eps):
    return gamma * (1.0 / np.sqrt(running_var + eps))

def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    s = _scale(gamma, running_var, eps)
    return W @ np.diag(s), b @ np.diag(s) + (beta - running_mean * s)

def fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    s = _scale(gamma, running_var, eps)
    return np.einsum("fchw,f->fchw", W, s), s * b + beta - s * running_mean
"""

RESHAPED = """
import numpy as np

def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    std = np.sqrt(running_var + eps)
    W2 = (W.T * (gamma / std)[:, None]).T.copy()
    b2 = gamma * (b - running_mean) / std + beta
    return W2, b2

def fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    F = W.shape[0]
    W2, b2 = fold_batchnorm(W.reshape(F, -1).T, b, gamma, beta, running_mean, running_var, eps)
    return W2.T.reshape(W.shape), b2
"""


def _wrong(
    scale: str = "gamma / np.sqrt(running_var + eps)",
    bias: str = "(b - running_mean) * s + beta",
    linear_w: str = "W * s",
    conv_w: str = "W * s[:, None, None, None]",
) -> str:
    return f"""
import numpy as np

def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    s = {scale}
    return {linear_w}, {bias}

def fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    s = {scale}
    return {conv_w}, {bias}
"""


WRONG = {
    "eps_outside_sqrt": _wrong(scale="gamma / (np.sqrt(running_var) + eps)"),
    "fold_missing_sqrt": _wrong(scale="gamma / (running_var + eps)"),
    "fold_bias_missing_mean": _wrong(bias="b * s + beta"),
    "fold_bias_dropped": _wrong(bias="beta - running_mean * s"),
    "wrong_axis": _wrong(linear_w="W * s[:, None]", conv_w="W * s[None, :, None, None]"),
}


@pytest.mark.parametrize("source", [DIRECT, WITH_MATRICES, RESHAPED], ids=["direct", "matrices", "reshaped"])
def test_correct_folds_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    assert_accepted(grade_source(TASK, source))


@pytest.mark.parametrize("code", WRONG)
def test_each_folding_mistake_is_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert_named_first(grade_source(TASK, WRONG[code]), code)


def test_modifying_the_weights_in_place_is_caught(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = DIRECT.replace("return W * scale, ", "W *= scale\n    return W, ")
    assert source != DIRECT
    result = grade_source(TASK, source)
    assert "input_mutated" in [d.code for d in result.diagnoses]
    assert any("the input W was modified in place" in c.message for c in result.cases if c.visible)
