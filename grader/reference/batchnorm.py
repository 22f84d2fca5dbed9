"""Batch normalization for (N, D) inputs, CS231n conventions. Graded in float64; the kernels compute in
their input's dtype, so running them on float32 copies measures how much precision the answer can lose.

Train mode normalizes with the batch mean and the biased batch variance (divide by N), epsilon inside the
square root, and updates `running = momentum * running + (1 - momentum) * batch` for both the mean and the
(biased) variance, written back into `bn_param`. Test mode uses the running statistics and leaves them alone.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

Array = np.ndarray


class BatchNormCache(NamedTuple):
    xhat: Array
    gamma: Array
    inv_std: Array


def batchnorm_forward_train(x: Array, gamma: Array, beta: Array, eps: float = 1e-5) -> Array:
    x = np.asarray(x)
    mean = x.mean(axis=0)
    var = x.var(axis=0)
    out: Array = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out


def _running(bn_param: dict[str, Any], key: str, size: int) -> Array:
    value = bn_param.get(key)
    return np.zeros(size) if value is None else np.asarray(value)


def batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, BatchNormCache]:
    """Returns (out, cache); updates bn_param["running_mean"] and ["running_var"] in train mode."""
    x = np.asarray(x)
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = _running(bn_param, "running_mean", x.shape[1])
    running_var = _running(bn_param, "running_var", x.shape[1])
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mean, var = running_mean, running_var
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}")
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, BatchNormCache(xhat, np.asarray(gamma), inv_std)


def batchnorm_backward(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
    """Gradients of train-mode batchnorm_forward: (dx, dgamma, dbeta)."""
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # The two subtracted terms come from the batch mean and the batch variance depending on every x.
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout: Array, cache: BatchNormCache) -> tuple[Array, Array, Array]:
    """The same gradients with dx as one expression, in as few passes over the data as it takes: the
    yardstick for the speed check, so it is written to be fast (dgamma and dbeta double as the two sums)."""
    xhat, gamma, inv_std = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = (gamma * inv_std / n) * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
