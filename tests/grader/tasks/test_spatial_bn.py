"""spatial-bn: per-channel statistics over N, H and W; the classic layout mistakes are named."""

from __future__ import annotations

import pytest

from grader.grading import get_task
from tests.grader.tasks.conftest import (
    assert_accepted,
    assert_named_first,
    assert_only_gradient_inconsistent,
)

TASK = "spatial-bn"

CORRECT = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

# Reusing a vanilla (N, D) batch norm after moving channels last, as CS231n suggests.
VIA_VANILLA = """
import numpy as np

def _bn(x, gamma, beta, p):
    eps, m = p.get("eps", 1e-5), p.get("momentum", 0.9)
    d = x.shape[1]
    mu, var = x.mean(0), x.var(0)
    p["running_mean"] = m * p.get("running_mean", np.zeros(d)) + (1 - m) * mu
    p["running_var"] = m * p.get("running_var", np.zeros(d)) + (1 - m) * var
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, np.sqrt(var + eps))

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    out, cache = _bn(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), (cache, x.shape)

def spatial_batchnorm_backward(dout, cache):
    (xhat, gamma, std), (N, C, H, W) = cache
    d = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    n = d.shape[0]
    dxhat = d * gamma
    dx = (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (n * std)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), (d * xhat).sum(0), d.sum(0)
"""

# A wrong solution that is otherwise complete: statistics over AXES, a backward consistent with it.
OVER_AXES = """
import numpy as np

AXES = {axes}

def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps = bn_param.get("eps", 1e-5)
    mu = x.mean(axis=AXES, keepdims=True)
    inv = 1.0 / np.sqrt(x.var(axis=AXES, keepdims=True) + eps)
    xhat = (x - mu) * inv
    bn_param["running_mean"] = mu.reshape(-1)
    return gamma[None, :, None, None] * xhat + beta[None, :, None, None], (xhat, gamma, inv)

def spatial_batchnorm_backward(dout, cache):
    xhat, gamma, inv = cache
    m = np.prod([dout.shape[a] for a in AXES])
    dxhat = dout * gamma[None, :, None, None]
    s1 = dxhat.sum(axis=AXES, keepdims=True)
    s2 = (dxhat * xhat).sum(axis=AXES, keepdims=True)
    return inv / m * (m * dxhat - s1 - xhat * s2), (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
"""

WRONG = {
    "per_sample_statistics": OVER_AXES.replace("{axes}", "(2, 3)"),
    "per_pixel_statistics": OVER_AXES.replace("{axes}", "(0,)"),
    "reshape_without_transpose": VIA_VANILLA.replace(
        "out, cache = _bn(x.transpose(0, 2, 3, 1).reshape(-1, C), gamma, beta, bn_param)\n"
        "    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), (cache, x.shape)",
        "out, cache = _bn(x.reshape(-1, C), gamma, beta, bn_param)\n"
        "    return out.reshape(x.shape), (cache, x.shape)",
    ),
}


@pytest.mark.parametrize("source", [CORRECT, VIA_VANILLA], ids=["direct", "via_vanilla"])
def test_correct_solutions_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


@pytest.mark.parametrize("code", WRONG)
def test_each_layout_mistake_is_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert WRONG[code] != VIA_VANILLA
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)


def test_the_gradient_check_blames_the_wrong_gradient(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = CORRECT.replace(
        "(dout * xhat).sum(axis=(0, 2, 3)), dout", "(dout * xhat).sum(axis=(0, 2, 3)) + 1, dout"
    )
    assert source != CORRECT
    assert_only_gradient_inconsistent(grade_source(TASK, source), "spatial_batchnorm_backward", "dgamma")


# Right output and gradients, running statistics stored wrongly: each named as in bn-forward.
RUNNING_STATISTICS_BUGS = {
    "momentum_reversed": (
        '    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu\n'
        '    bn_param["running_var"] = momentum * rv + (1 - momentum) * var\n',
        '    bn_param["running_mean"] = (1 - momentum) * rm + momentum * mu\n'
        '    bn_param["running_var"] = (1 - momentum) * rv + momentum * var\n',
    ),
    "unbiased_running_var": (
        "(1 - momentum) * var\n",
        "(1 - momentum) * x.var(axis=(0, 2, 3), ddof=1)\n",
    ),
    "no_running_update": (
        '    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu\n'
        '    bn_param["running_var"] = momentum * rv + (1 - momentum) * var\n',
        "",
    ),
    "running_var_includes_eps": (
        "(1 - momentum) * var\n",
        "(1 - momentum) * (var + eps)\n",
    ),
}


@pytest.mark.parametrize("code", RUNNING_STATISTICS_BUGS)
def test_running_statistics_mistakes_are_named(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    old, new = RUNNING_STATISTICS_BUGS[code]
    source = CORRECT.replace(old, new)
    assert source != CORRECT
    result = grade_source(TASK, source)
    assert_named_first(result, code)
