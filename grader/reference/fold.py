"""Folding inference-mode batch norm into the layer before it. Graded in float64; the kernels compute in
their inputs' dtype so that running them on float32 copies measures the precision an answer may lose."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def _scale(gamma: Array, running_var: Array, eps: float) -> Array:
    scale: Array = np.asarray(gamma) / np.sqrt(np.asarray(running_var) + eps)
    return scale


def _folded_bias(b: Array, beta: Array, running_mean: Array, scale: Array) -> Array:
    folded: Array = (np.asarray(b) - running_mean) * scale + beta
    return folded


def fold_batchnorm(
    W: Array,
    b: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    eps: float = 1e-5,
) -> tuple[Array, Array]:
    """For `x @ W + b` (W: (D_in, D_out)) followed by inference BN over D_out: returns (W2, b2) with
    `x @ W2 + b2` equal to the pair."""
    scale = _scale(gamma, running_var, eps)
    return np.asarray(W) * scale, _folded_bias(b, beta, running_mean, scale)


def fold_batchnorm_conv(
    W: Array,
    b: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    eps: float = 1e-5,
) -> tuple[Array, Array]:
    """For a convolution with weights (F, C, kh, kw) and bias (F,) followed by inference BN over F."""
    scale = _scale(gamma, running_var, eps)
    return np.asarray(W) * scale[:, None, None, None], _folded_bias(b, beta, running_mean, scale)
