# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.
import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    C = x.shape[1]
    rm = bn_param.get("running_mean", np.zeros(C))
    rv = bn_param.get("running_var", np.zeros(C))
    mu = x.mean(axis=(0, 2, 3))
    var = x.var(axis=(0, 2, 3))
    bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
    bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    inv = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu[None, :, None, None]) * inv[None, :, None, None]
    return gamma[None, :, None, None] * xhat + beta[None, :, None, None], (xhat, gamma, inv)


def spatial_batchnorm_backward(dout, cache):
    xhat, gamma, inv = cache
    m = dout.shape[0] * dout.shape[2] * dout.shape[3]
    dxhat = dout * gamma[None, :, None, None]
    s1 = dxhat.sum(axis=(0, 2, 3), keepdims=True)
    s2 = (dxhat * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dx = inv[None, :, None, None] / m * (m * dxhat - s1 - xhat * s2)
    return dx, (dout * xhat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
