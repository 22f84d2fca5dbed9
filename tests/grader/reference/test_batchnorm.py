"""Batch norm for (N, D): against PyTorch and against finite differences."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from grader.reference import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    batchnorm_forward_train,
)
from tests.grader.reference.conftest import assert_close, numeric_gradient, tensor

SHAPES = [(2, 3), (7, 5), (64, 11)]
BACKWARDS = pytest.mark.parametrize("backward", [batchnorm_backward, batchnorm_backward_alt])


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.mark.parametrize("shape", SHAPES)
def test_train_forward_matches_torch(rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x = rng.normal(3.0, 2.0, size=shape) * rng.uniform(0.1, 10, size=shape[1])
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    expected = F.batch_norm(tensor(x), None, None, tensor(gamma), tensor(beta), training=True, eps=1e-5)
    assert_close(batchnorm_forward_train(x, gamma, beta), expected.numpy())
    out, _ = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    assert_close(out, expected.numpy())


@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9, 1.0])
def test_running_statistics_follow_the_cs231n_convention(rng: np.random.Generator, momentum: float) -> None:
    x = rng.normal(size=(16, 4)) * 3 + 1
    rm, rv = rng.normal(size=4), rng.uniform(0.5, 2, size=4)
    param = {"mode": "train", "momentum": momentum, "running_mean": rm.copy(), "running_var": rv.copy()}
    batchnorm_forward(x, np.ones(4), np.zeros(4), param)
    batch_var = torch.var(tensor(x), dim=0, unbiased=False).numpy()
    assert_close(param["running_mean"], momentum * rm + (1 - momentum) * x.mean(0))
    assert_close(param["running_var"], momentum * rv + (1 - momentum) * batch_var)
    # Defaults: zeros of shape (D,), written back.
    fresh: dict[str, object] = {"mode": "train"}
    batchnorm_forward(x, np.ones(4), np.zeros(4), fresh)
    assert_close(fresh["running_mean"], 0.1 * x.mean(0))  # type: ignore[arg-type]


def test_test_mode_uses_running_statistics_and_leaves_them(rng: np.random.Generator) -> None:
    x = rng.normal(size=(5, 3))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    rm, rv = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    param = {"mode": "test", "running_mean": rm.copy(), "running_var": rv.copy(), "eps": 1e-3}
    out, _ = batchnorm_forward(x, gamma, beta, param)
    expected = F.batch_norm(
        tensor(x), tensor(rm), tensor(rv), tensor(gamma), tensor(beta), training=False, eps=1e-3
    )
    assert_close(out, expected.numpy())
    np.testing.assert_array_equal(param["running_mean"], rm)
    np.testing.assert_array_equal(param["running_var"], rv)


@BACKWARDS
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_torch_autograd(
    rng: np.random.Generator, shape: tuple[int, int], backward: Callable[..., tuple[np.ndarray, ...]]
) -> None:
    x, dout = rng.normal(size=shape) * 2 + 5, rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)
    tx, tg, tb = tensor(x, True), tensor(gamma, True), tensor(beta, True)
    F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5).backward(tensor(dout))
    assert_close(dx, tx.grad.numpy())
    assert_close(dgamma, tg.grad.numpy())
    assert_close(dbeta, tb.grad.numpy())


@BACKWARDS
def test_backward_matches_finite_differences(
    rng: np.random.Generator, backward: Callable[..., tuple[np.ndarray, ...]]
) -> None:
    x, dout = rng.normal(size=(6, 4)), rng.normal(size=(6, 4))
    gamma, beta = rng.normal(size=4), rng.normal(size=4)
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)

    def forward() -> np.ndarray:
        return batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    assert_close(dx, numeric_gradient(forward, x, dout))
    assert_close(dgamma, numeric_gradient(forward, gamma, dout))
    assert_close(dbeta, numeric_gradient(forward, beta, dout))


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid batchnorm mode"):
        batchnorm_forward(np.zeros((2, 2)), np.ones(2), np.zeros(2), {"mode": "eval"})
