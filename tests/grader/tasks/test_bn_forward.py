"""bn-forward: running statistics, train and test modes; correct styles pass, each mistake is named."""

from __future__ import annotations

import inspect

import pytest

from grader.reference import batchnorm
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-forward"

CS231N_STYLE = """
import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        xhat = (x - mu) / np.sqrt(var + eps)
        out = gamma * xhat + beta
        cache = (xhat, gamma, var, eps)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
        cache = None
    else:
        raise ValueError(mode)
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache
"""

SETDEFAULT_STYLE = """
import numpy as np

def _normalize(x, mean, var, eps):
    return (x - mean) * (1.0 / np.sqrt(var + eps))

def batchnorm_forward(x, gamma, beta, bn_param):
    d = x.shape[1]
    rm = bn_param.setdefault("running_mean", np.zeros(d))
    rv = bn_param.setdefault("running_var", np.zeros(d))
    eps, m = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    if bn_param["mode"] == "test":
        return gamma * _normalize(x, rm, rv, eps) + beta, None
    mean = np.mean(x, axis=0)
    var = np.mean(np.square(x - mean), axis=0)
    bn_param["running_mean"] = m * rm + (1.0 - m) * mean
    bn_param["running_var"] = m * rv + (1.0 - m) * var
    return gamma * _normalize(x, mean, var, eps) + beta, {"mean": mean}
"""


def mutate(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new)


WRONG = {
    "unbiased_running_var": mutate(
        CS231N_STYLE,
        "running_var = momentum * running_var + (1 - momentum) * var",
        "running_var = momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)",
    ),
    "momentum_reversed": mutate(
        mutate(
            CS231N_STYLE,
            "running_mean = momentum * running_mean + (1 - momentum) * mu",
            "running_mean = (1 - momentum) * running_mean + momentum * mu",
        ),
        "running_var = momentum * running_var + (1 - momentum) * var",
        "running_var = (1 - momentum) * running_var + momentum * var",
    ),
    "no_running_update": mutate(
        CS231N_STYLE,
        "        running_mean = momentum * running_mean + (1 - momentum) * mu\n"
        "        running_var = momentum * running_var + (1 - momentum) * var\n",
        "",
    ),
    "running_var_includes_eps": mutate(
        CS231N_STYLE, "(1 - momentum) * var\n", "(1 - momentum) * (var + eps)\n"
    ),
    "test_uses_batch_stats": mutate(
        CS231N_STYLE,
        "xhat = (x - running_mean) / np.sqrt(running_var + eps)",
        "xhat = (x - x.mean(0)) / np.sqrt(x.var(0) + eps)",
    ),
    "test_mode_no_affine": mutate(
        CS231N_STYLE,
        "xhat = (x - running_mean) / np.sqrt(running_var + eps)\n        out = gamma * xhat + beta",
        "xhat = (x - running_mean) / np.sqrt(running_var + eps)\n        out = xhat",
    ),
    "eps_outside_sqrt": mutate(
        CS231N_STYLE, "xhat = (x - mu) / np.sqrt(var + eps)", "xhat = (x - mu) / (np.sqrt(var) + eps)"
    ),
    "wrong_axis": mutate(
        CS231N_STYLE,
        "mu = x.mean(axis=0)\n        var = x.var(axis=0)",
        "mu = x.mean(axis=1, keepdims=True)\n        var = x.var(axis=1, keepdims=True)",
    ),
    "input_mutated": mutate(
        CS231N_STYLE, "xhat = (x - mu) / np.sqrt(var + eps)", "x -= mu\n        xhat = x / np.sqrt(var + eps)"
    ),
}


@pytest.mark.parametrize("source", [CS231N_STYLE, SETDEFAULT_STYLE], ids=["cs231n", "setdefault"])
def test_correct_solutions_are_accepted_without_diagnosis(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


def test_the_reference_passes_its_own_cases(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(
        TASK, inspect.getsource(batchnorm).replace("from __future__ import annotations", "")
    )
    assert result.verdict == "accepted", [(c.name, c.message) for c in result.cases if c.status != "passed"]


@pytest.mark.parametrize("code", WRONG)
def test_each_mistake_is_rejected_and_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)
