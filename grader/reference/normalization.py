"""The batch-norm family beyond (N, D): spatial batch norm, layer norm and group norm, float64."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from grader.reference.batchnorm import BatchNormCache, batchnorm_backward, batchnorm_forward

Array = np.ndarray


def _to_rows(x: Array) -> Array:
    """(N, C, H, W) -> (N*H*W, C): channels become the features batch norm normalizes."""
    return x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])


def _from_rows(rows: Array, shape: tuple[int, ...]) -> Array:
    n, c, h, w = shape
    return rows.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def spatial_batchnorm_forward(
    x: Array, gamma: Array, beta: Array, bn_param: dict[str, Any]
) -> tuple[Array, tuple[BatchNormCache, tuple[int, ...]]]:
    out, cache = batchnorm_forward(_to_rows(np.asarray(x)), gamma, beta, bn_param)
    return _from_rows(out, x.shape), (cache, x.shape)


def spatial_batchnorm_backward(
    dout: Array, cache: tuple[BatchNormCache, tuple[int, ...]]
) -> tuple[Array, Array, Array]:
    inner, shape = cache
    dx, dgamma, dbeta = batchnorm_backward(_to_rows(dout), inner)
    return _from_rows(dx, shape), dgamma, dbeta


class NormCache(NamedTuple):
    xhat: Array
    gamma: Array
    inv_std: Array


def _normalize_rows(x: Array, eps: float) -> tuple[Array, Array]:
    """Standardize each row over its last axis (biased variance); returns (xhat, inv_std per row)."""
    mean = x.mean(axis=-1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    return (x - mean) * inv_std, inv_std


def _normalize_rows_backward(dxhat: Array, xhat: Array, inv_std: Array) -> Array:
    d = xhat.shape[-1]
    centered = (
        d * dxhat - dxhat.sum(axis=-1, keepdims=True) - xhat * (dxhat * xhat).sum(axis=-1, keepdims=True)
    )
    dx: Array = inv_std / d * centered
    return dx


def layernorm_forward(
    x: Array, gamma: Array, beta: Array, ln_param: dict[str, Any]
) -> tuple[Array, NormCache]:
    """x (N, D): each example normalized over its own D features; gamma, beta (D,)."""
    xhat, inv_std = _normalize_rows(np.asarray(x), ln_param.get("eps", 1e-5))
    return gamma * xhat + beta, NormCache(xhat, np.asarray(gamma), inv_std)


def layernorm_backward(dout: Array, cache: NormCache) -> tuple[Array, Array, Array]:
    xhat, gamma, inv_std = cache
    dx = _normalize_rows_backward(dout * gamma, xhat, inv_std)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def spatial_groupnorm_forward(
    x: Array,
    gamma: Array,
    beta: Array,
    G: int,
    gn_param: dict[str, Any],
) -> tuple[Array, tuple[NormCache, int]]:
    """x (N, C, H, W), G groups of C/G contiguous channels, statistics per example and group over
    (C/G, H, W); gamma and beta (1, C, 1, 1)."""
    x = np.asarray(x)
    n, c, h, w = x.shape
    if c % G:
        raise ValueError(f"C={c} is not divisible by G={G}")
    grouped = x.reshape(n, G, (c // G) * h * w)
    xhat, inv_std = _normalize_rows(grouped, gn_param.get("eps", 1e-5))
    xhat = xhat.reshape(x.shape)
    return gamma * xhat + beta, (NormCache(xhat, np.asarray(gamma), inv_std), G)


def spatial_groupnorm_backward(dout: Array, cache: tuple[NormCache, int]) -> tuple[Array, Array, Array]:
    (xhat, gamma, inv_std), groups = cache
    n = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(n, groups, -1)
    dx = _normalize_rows_backward(dxhat, xhat.reshape(n, groups, -1), inv_std)
    return dx.reshape(dout.shape), dgamma, dbeta
