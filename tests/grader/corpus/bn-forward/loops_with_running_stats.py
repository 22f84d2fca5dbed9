# Correct, per-feature loops, running statistics updated and stored back.
# verdict: accepted
# diagnoses: none
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    n, d = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(d))
    running_var = bn_param.get("running_var", np.zeros(d))
    out = np.empty((n, d))
    new_mean, new_var = np.empty(d), np.empty(d)
    for j in range(d):
        column = x[:, j]
        if mode == "train":
            mean = column.sum() / n
            var = ((column - mean) ** 2).sum() / n
            new_mean[j] = momentum * running_mean[j] + (1 - momentum) * mean
            new_var[j] = momentum * running_var[j] + (1 - momentum) * var
        else:
            mean, var = running_mean[j], running_var[j]
        out[:, j] = gamma[j] * (column - mean) / np.sqrt(var + eps) + beta[j]
    if mode == "train":
        bn_param["running_mean"], bn_param["running_var"] = new_mean, new_var
    return out, None
