# Statistics of each channel on its own (instance norm) inside group norm.
# verdict: rejected
# diagnoses: groupnorm_per_channel_statistics
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = x.shape
    mean = x.mean(axis=(2, 3), keepdims=True)
    var = x.var(axis=(2, 3), keepdims=True)
    x_hat = (x - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (x_hat, gamma, 1.0 / np.sqrt(var + eps), G)


def spatial_groupnorm_backward(dout, cache):
    x_hat, gamma, inv_std, G = cache
    dx = dout * gamma * inv_std  # the statistics' own dependence on x left out
    return dx, (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True), dout.sum(axis=(0, 2, 3), keepdims=True)
