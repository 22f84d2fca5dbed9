# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N = x.shape[0]
    g = x.reshape(N, G, -1)
    mu = g.mean(axis=2, keepdims=True)
    inv = 1.0 / np.sqrt(g.var(axis=2, keepdims=True) + eps)
    xhat = ((g - mu) * inv).reshape(x.shape)
    return gamma * xhat + beta, (xhat, gamma, inv, G)


def spatial_groupnorm_backward(dout, cache):
    xhat, gamma, inv, G = cache
    N = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dxhat = (dout * gamma).reshape(N, G, -1)
    xh = xhat.reshape(N, G, -1)
    m = dxhat.shape[2]
    dx = inv / m * (m * dxhat - dxhat.sum(2, keepdims=True) - xh * (dxhat * xh).sum(2, keepdims=True))
    return dx.reshape(dout.shape), dgamma, dbeta
