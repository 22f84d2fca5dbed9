# Correct: Python loops over examples and groups, the backward through each group's statistics.
# verdict: accepted
# diagnoses: none
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    size = C // G
    x_hat = np.empty_like(x)
    stds = np.empty((N, G))
    for n in range(N):
        for g in range(G):
            block = x[n, g * size : (g + 1) * size]
            std = np.sqrt(block.var() + eps)
            x_hat[n, g * size : (g + 1) * size] = (block - block.mean()) / std
            stds[n, g] = std
    return gamma * x_hat + beta, (x_hat, gamma, stds, G)


def spatial_groupnorm_backward(dout, cache):
    x_hat, gamma, stds, G = cache
    N, C, H, W = dout.shape
    size = C // G
    dx = np.empty_like(dout)
    dxhat = dout * gamma
    for n in range(N):
        for g in range(G):
            channels = slice(g * size, (g + 1) * size)
            d, xh = dxhat[n, channels], x_hat[n, channels]
            dx[n, channels] = (d - d.mean() - xh * (d * xh).mean()) / stds[n, g]
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3)).reshape(1, C, 1, 1)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(1, C, 1, 1)
    return dx, dgamma, dbeta
