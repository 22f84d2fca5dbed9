"""groupnorm: contiguous channel groups per example; strided groups and batch pooling are named."""

from __future__ import annotations

import pytest

from grader.grading import get_task
from tests.grader.tasks.conftest import (
    assert_accepted,
    assert_named_first,
    assert_only_gradient_inconsistent,
)

TASK = "groupnorm"

CORRECT = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

# Looping over groups with explicit channel slices, as many candidates write it first.
LOOPS = """
import numpy as np

def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    size = C // G
    xhat = np.empty_like(x)
    stds = np.empty((N, G))
    for n in range(N):
        for k in range(G):
            block = x[n, k * size:(k + 1) * size]
            stds[n, k] = np.sqrt(block.var() + eps)
            xhat[n, k * size:(k + 1) * size] = (block - block.mean()) / stds[n, k]
    return gamma * xhat + beta, (xhat, gamma, stds, size)

def spatial_groupnorm_backward(dout, cache):
    xhat, gamma, stds, size = cache
    N, C, H, W = dout.shape
    dx = np.empty_like(dout)
    dxhat = dout * gamma
    for n in range(N):
        for k in range(C // size):
            s = slice(k * size, (k + 1) * size)
            d, xh = dxhat[n, s], xhat[n, s]
            m = d.size
            dx[n, s] = (m * d - d.sum() - xh * (d * xh).sum()) / (m * stds[n, k])
    return dx, (dout * xhat).sum(axis=(0, 2, 3), keepdims=True), dout.sum(axis=(0, 2, 3), keepdims=True)
"""

WRONG = {
    "groupnorm_strided_groups": LOOPS.replace(
        "block = x[n, k * size:(k + 1) * size]", "block = x[n, k::C // size]"
    ).replace("xhat[n, k * size:(k + 1) * size] = ", "xhat[n, k::C // size] = "),
    "wrong_axis": CORRECT.replace(
        "g = x.reshape(N, G, -1)\n    mu = g.mean(axis=2, keepdims=True)\n"
        "    inv = 1.0 / np.sqrt(g.var(axis=2, keepdims=True) + eps)",
        "g = x.reshape(N, G, -1)\n    mu = g.mean(axis=(0, 2), keepdims=True)\n"
        "    inv = 1.0 / np.sqrt(g.var(axis=(0, 2), keepdims=True) + eps)",
    ),
}


@pytest.mark.parametrize("source", [CORRECT, LOOPS], ids=["vectorized", "loops"])
def test_correct_solutions_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, source)
    assert_accepted(result)


@pytest.mark.parametrize("code", WRONG)
def test_group_mistakes_are_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert WRONG[code] not in (CORRECT, LOOPS)
    result = grade_source(TASK, WRONG[code])
    assert_named_first(result, code)


def test_the_gradient_check_blames_the_wrong_gradient(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = CORRECT.replace(
        "return dx.reshape(dout.shape), dgamma, dbeta", "return 1.01 * dx.reshape(dout.shape), dgamma, dbeta"
    )
    assert source != CORRECT
    assert_only_gradient_inconsistent(grade_source(TASK, source), "spatial_groupnorm_backward", "dx")


# Right for any number of groups but one: squeezing the statistics drops the group axis when G = 1, and
# broadcasting them against the batch then mixes examples (or fails) only there.
SQUEEZED_STATISTICS = CORRECT.replace(
    "    mu = g.mean(axis=2, keepdims=True)\n    inv = 1.0 / np.sqrt(g.var(axis=2, keepdims=True) + eps)\n",
    "    mu = g.mean(axis=2).squeeze()[..., None]\n"
    "    inv = (1.0 / np.sqrt(g.var(axis=2) + eps)).squeeze()[..., None]\n",
)


def test_a_bug_that_shows_only_with_one_group_is_caught(grade_source) -> None:  # type: ignore[no-untyped-def]
    assert SQUEEZED_STATISTICS != CORRECT
    result = grade_source(TASK, SQUEEZED_STATISTICS)
    failed = {c.name for c in result.cases if c.status != "passed"}
    assert "one_group" in failed and result.verdict != "accepted", failed
