"""Spatial batch norm, layer norm and group norm: against PyTorch and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch.nn.functional as F

from grader.reference import (
    layernorm_backward,
    layernorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from tests.grader.reference.conftest import assert_close, numeric_gradient, tensor


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(99)


def per_channel(rng: np.random.Generator, shape: tuple[int, int, int, int]) -> np.ndarray:
    """Channels with different means and scales, so per-channel statistics matter."""
    c = shape[1]
    return rng.normal(size=shape) * rng.uniform(0.1, 5, size=(1, c, 1, 1)) + rng.normal(
        0, 10, size=(1, c, 1, 1)
    )


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (4, 2, 3, 3)])
def test_spatial_batchnorm_forward_and_backward_match_torch(rng: np.random.Generator, shape: tuple) -> None:  # type: ignore[type-arg]
    x, dout = per_channel(rng, shape), rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    param: dict[str, object] = {"mode": "train", "momentum": 0.8}
    out, cache = spatial_batchnorm_forward(x, gamma, beta, param)
    tx, tg, tb = tensor(x, True), tensor(gamma, True), tensor(beta, True)
    expected = F.batch_norm(tx, None, None, tg, tb, training=True, eps=1e-5)
    assert_close(out, expected.detach().numpy())
    assert_close(param["running_mean"], 0.2 * x.mean(axis=(0, 2, 3)))  # type: ignore[arg-type]
    expected.backward(tensor(dout))
    dx, dgamma, dbeta = spatial_batchnorm_backward(dout, cache)
    assert_close(dx, tx.grad.numpy())
    assert_close(dgamma, tg.grad.numpy())
    assert_close(dbeta, tb.grad.numpy())


def test_spatial_batchnorm_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    x, dout = per_channel(rng, (2, 3, 2, 3)), rng.normal(size=(2, 3, 2, 3))
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    dx, dgamma, _ = spatial_batchnorm_backward(
        dout, spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[1]
    )

    def forward() -> np.ndarray:
        return spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})[0]

    assert_close(dx, numeric_gradient(forward, x, dout))
    assert_close(dgamma, numeric_gradient(forward, gamma, dout))


@pytest.mark.parametrize("shape", [(1, 7), (5, 4), (3, 32)])
def test_layernorm_matches_torch(rng: np.random.Generator, shape: tuple[int, int]) -> None:
    x = rng.normal(size=shape) * rng.uniform(0.1, 5, size=(shape[0], 1)) + 7
    dout = rng.normal(size=shape)
    gamma, beta = rng.normal(size=shape[1]), rng.normal(size=shape[1])
    out, cache = layernorm_forward(x, gamma, beta, {"eps": 1e-5})
    tx, tg, tb = tensor(x, True), tensor(gamma, True), tensor(beta, True)
    expected = F.layer_norm(tx, (shape[1],), tg, tb, eps=1e-5)
    assert_close(out, expected.detach().numpy())
    expected.backward(tensor(dout))
    dx, dgamma, dbeta = layernorm_backward(dout, cache)
    assert_close(dx, tx.grad.numpy())
    assert_close(dgamma, tg.grad.numpy())
    assert_close(dbeta, tb.grad.numpy())


def test_layernorm_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    x, dout = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    dx, dgamma, _ = layernorm_backward(dout, layernorm_forward(x, gamma, beta, {})[1])

    def forward() -> np.ndarray:
        return layernorm_forward(x, gamma, beta, {})[0]

    assert_close(dx, numeric_gradient(forward, x, dout))
    assert_close(dgamma, numeric_gradient(forward, gamma, dout))


@pytest.mark.parametrize(
    ("shape", "groups"), [((2, 6, 3, 3), 2), ((3, 6, 2, 4), 3), ((2, 4, 3, 3), 1), ((2, 4, 2, 2), 4)]
)
def test_groupnorm_matches_torch(rng: np.random.Generator, shape: tuple, groups: int) -> None:  # type: ignore[type-arg]
    x, dout = per_channel(rng, shape), rng.normal(size=shape)
    c = shape[1]
    gamma, beta = rng.normal(size=(1, c, 1, 1)), rng.normal(size=(1, c, 1, 1))
    out, cache = spatial_groupnorm_forward(x, gamma, beta, groups, {"eps": 1e-5})
    tx, tg, tb = tensor(x, True), tensor(gamma.reshape(c), True), tensor(beta.reshape(c), True)
    expected = F.group_norm(tx, groups, tg, tb, eps=1e-5)
    assert_close(out, expected.detach().numpy())
    expected.backward(tensor(dout))
    dx, dgamma, dbeta = spatial_groupnorm_backward(dout, cache)
    assert dgamma.shape == (1, c, 1, 1) and dbeta.shape == (1, c, 1, 1)
    assert_close(dx, tx.grad.numpy())
    assert_close(dgamma.reshape(c), tg.grad.numpy())
    assert_close(dbeta.reshape(c), tb.grad.numpy())


def test_groupnorm_backward_matches_finite_differences(rng: np.random.Generator) -> None:
    x, dout = per_channel(rng, (2, 4, 2, 2)), rng.normal(size=(2, 4, 2, 2))
    gamma, beta = rng.normal(size=(1, 4, 1, 1)), rng.normal(size=(1, 4, 1, 1))
    dx, dgamma, _ = spatial_groupnorm_backward(dout, spatial_groupnorm_forward(x, gamma, beta, 2, {})[1])

    def forward() -> np.ndarray:
        return spatial_groupnorm_forward(x, gamma, beta, 2, {})[0]

    assert_close(dx, numeric_gradient(forward, x, dout))
    assert_close(dgamma, numeric_gradient(forward, gamma, dout))


def test_groupnorm_refuses_groups_that_do_not_divide_channels() -> None:
    with pytest.raises(ValueError, match="not divisible"):
        spatial_groupnorm_forward(
            np.zeros((1, 6, 2, 2)), np.ones((1, 6, 1, 1)), np.zeros((1, 6, 1, 1)), 4, {}
        )
