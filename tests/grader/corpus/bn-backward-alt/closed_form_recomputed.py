# Correct: the staged backward and a closed form that recomputes the statistics from x.
# verdict: accepted
# diagnoses: none
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.zeros(d))
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    out = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return out, (x, gamma, eps)


def batchnorm_backward(dout, cache):
    x, gamma, eps = cache
    n = x.shape[0]
    mean = x.mean(axis=0)
    xmu = x - mean
    var = (xmu**2).mean(axis=0)
    ivar = 1.0 / np.sqrt(var + eps)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xmu, axis=0) * -0.5 * ivar**3
    dmean = -np.sum(dxhat * ivar, axis=0) + dvar * -2.0 * xmu.mean(axis=0)
    dx = dxhat * ivar + dvar * 2.0 * xmu / n + dmean / n
    return dx, np.sum(dout * xmu * ivar, axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    x, gamma, eps = cache
    n = x.shape[0]
    mean = x.mean(axis=0)
    ivar = 1.0 / np.sqrt(x.var(axis=0) + eps)
    x_hat = (x - mean) * ivar
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (gamma * ivar / n) * (n * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
