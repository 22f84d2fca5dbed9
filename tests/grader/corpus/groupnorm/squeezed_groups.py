# Squeezes the grouped array, which drops the group axis when G = 1 and the batch axis when N = 1:
# right elsewhere, a crash there (no misconception to name).
# verdict: partially_accepted
# diagnoses: none
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    grouped = np.squeeze(x.reshape(N, G, -1))
    mean = grouped.mean(axis=2, keepdims=True)
    inv_std = 1.0 / np.sqrt(grouped.var(axis=2, keepdims=True) + eps)
    x_hat = ((grouped - mean) * inv_std).reshape(N, C, H, W)
    return gamma * x_hat + beta, (x_hat, gamma, inv_std.reshape(N, G, 1), G)


def spatial_groupnorm_backward(dout, cache):
    x_hat, gamma, inv_std, G = cache
    N, C, H, W = dout.shape
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(N, G, -1)
    xh = x_hat.reshape(N, G, -1)
    m = xh.shape[2]
    dx = (
        inv_std
        / m
        * (m * dxhat - dxhat.sum(axis=2, keepdims=True) - xh * (dxhat * xh).sum(axis=2, keepdims=True))
    )
    return dx.reshape(N, C, H, W), dgamma, dbeta
