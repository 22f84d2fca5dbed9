# Correct: channels moved last, reshaped to (N*H*W, C), vanilla batch norm, and back.
# verdict: accepted
# diagnoses: none
import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    N, C, H, W = x.shape
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(C))
    running_var = bn_param.get("running_var", np.zeros(C))
    flat = x.transpose(0, 2, 3, 1).reshape(-1, C)
    mean, var = flat.mean(axis=0), flat.var(axis=0)
    if bn_param.get("mode", "train") == "train":
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (flat - mean) * inv_std
    out = (gamma * x_hat + beta).reshape(N, H, W, C).transpose(0, 3, 1, 2)
    return out, (x_hat, gamma, inv_std)


def spatial_batchnorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    N, C, H, W = dout.shape
    d = dout.transpose(0, 2, 3, 1).reshape(-1, C)
    m = d.shape[0]
    dbeta = d.sum(axis=0)
    dgamma = (d * x_hat).sum(axis=0)
    dx = gamma * inv_std / m * (m * d - dbeta - x_hat * dgamma)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta
