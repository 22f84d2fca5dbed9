# Correct: layer norm as batch norm on the transposed input (the CS231n trick), backward likewise.
# verdict: accepted
# diagnoses: none
import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xt = x.T
    mean = xt.mean(axis=0)
    var = xt.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = ((xt - mean) * inv_std).T
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    d = dout.shape[1]
    dgamma = (dout * x_hat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dxhat = (dout * gamma).T
    xt = x_hat.T
    dx = inv_std / d * (d * dxhat - dxhat.sum(axis=0) - xt * (dxhat * xt).sum(axis=0))
    return dx.T, dgamma, dbeta
