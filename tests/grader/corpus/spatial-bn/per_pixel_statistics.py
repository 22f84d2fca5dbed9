# Statistics per channel and pixel, over the batch only.
# verdict: rejected
# diagnoses: per_pixel_statistics
import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(C))
    running_var = bn_param.get("running_var", np.zeros(C))
    mean = x.mean(axis=0, keepdims=True)
    var = x.var(axis=0, keepdims=True)
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean.mean(axis=(0, 2, 3))
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * var.mean(axis=(0, 2, 3))
    x_hat = (x - mean) / np.sqrt(var + eps)
    g, b = gamma.reshape(1, C, 1, 1), beta.reshape(1, C, 1, 1)
    return g * x_hat + b, (x_hat, g, 1.0 / np.sqrt(var + eps))


def spatial_batchnorm_backward(dout, cache):
    x_hat, g, inv_std = cache
    n = dout.shape[0]
    dxhat = dout * g
    dx = inv_std / n * (n * dxhat - dxhat.sum(axis=0) - x_hat * (dxhat * x_hat).sum(axis=0))
    return dx, (dout * x_hat).sum(axis=(0, 2, 3)), dout.sum(axis=(0, 2, 3))
