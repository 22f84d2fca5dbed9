# Correct, statistics kept as (1, D) rows.
# verdict: accepted
# diagnoses: none
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mu = np.mean(x, axis=0, keepdims=True)
    var = np.mean((x - mu) ** 2, axis=0, keepdims=True)
    x_hat = (x - mu) / np.sqrt(var + eps)
    return gamma.reshape(1, -1) * x_hat + beta.reshape(1, -1)
