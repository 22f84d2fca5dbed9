"""Folding inference batch norm into a linear or convolution layer."""

from __future__ import annotations

import numpy as np
import torch.nn.functional as F

from grader.reference import fold_batchnorm, fold_batchnorm_conv
from tests.grader.reference.conftest import assert_close, tensor


def test_folded_linear_layer_equals_linear_then_batchnorm() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(9, 4))
    w, b = rng.normal(size=(4, 6)), rng.normal(size=6)
    gamma, beta = rng.normal(size=6), rng.normal(size=6)
    mean, var = rng.normal(size=6), rng.uniform(1e-3, 3, size=6)
    w2, b2 = fold_batchnorm(w, b, gamma, beta, mean, var, eps=1e-3)
    expected = F.batch_norm(
        tensor(x @ w + b), tensor(mean), tensor(var), tensor(gamma), tensor(beta), False, eps=1e-3
    )
    assert_close(x @ w2 + b2, expected.numpy())


def test_folded_convolution_equals_convolution_then_batchnorm() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 7, 7))
    w, b = rng.normal(size=(5, 3, 3, 3)), rng.normal(size=5)
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    mean, var = rng.normal(size=5), rng.uniform(1e-3, 3, size=5)
    w2, b2 = fold_batchnorm_conv(w, b, gamma, beta, mean, var)
    conv = F.conv2d(tensor(x), tensor(w), tensor(b), padding=1)
    expected = F.batch_norm(
        conv, tensor(mean), tensor(var), tensor(gamma), tensor(beta), training=False, eps=1e-5
    )
    folded = F.conv2d(tensor(x), tensor(w2), tensor(b2), padding=1)
    assert_close(folded.numpy(), expected.numpy())
