# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.
import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    xhat = (x - mu) / np.sqrt(var + eps)
    return gamma * xhat + beta, (xhat, gamma, 1.0 / np.sqrt(var + eps))


def layernorm_backward(dout, cache):
    xhat, gamma, inv = cache
    d = dout.shape[1]
    dxhat = dout * gamma
    dx = inv / d * (d * dxhat - dxhat.sum(1, keepdims=True) - xhat * (dxhat * xhat).sum(1, keepdims=True))
    return dx, (dout * xhat).sum(0), dout.sum(0)
