# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(x.shape[1]))
    running_var = bn_param.get("running_var", np.zeros(x.shape[1]))
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mu
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mu, var = running_mean, running_var
    xmu = x - mu
    ivar = 1.0 / np.sqrt(var + eps)
    xhat = xmu * ivar
    return gamma * xhat + beta, (xhat, ivar, gamma)


def batchnorm_backward(dout, cache):
    xhat, ivar, gamma = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dx = ivar / n * (n * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0))
    return dx, (dout * xhat).sum(0), dout.sum(0)


def batchnorm_backward_alt(dout, cache):
    xhat, ivar, gamma = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = (gamma * ivar / n) * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
