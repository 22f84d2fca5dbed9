# Layer norm with the unbiased variance of each example (ddof=1); the backward matches that forward.
# verdict: rejected
# diagnoses: unbiased_variance
import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, ddof=1, keepdims=True) + eps)
    x_hat = (x - mean) / std
    return gamma * x_hat + beta, (x, mean, std, gamma)


def layernorm_backward(dout, cache):
    x, mean, std, gamma = cache
    d = x.shape[1]
    dxhat = dout * gamma
    xmu = x - mean
    dvar = np.sum(dxhat * xmu, axis=1, keepdims=True) * -0.5 / std**3
    dmean = -np.sum(dxhat / std, axis=1, keepdims=True)
    dx = dxhat / std + dvar * 2.0 * xmu / (d - 1) + dmean / d
    return dx, np.sum(dout * xmu / std, axis=0), dout.sum(axis=0)
