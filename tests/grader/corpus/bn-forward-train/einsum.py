# Correct, with einsum for the reductions.
# verdict: accepted
# diagnoses: none
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    mean = np.einsum("nd->d", x) / n
    centered = x - mean
    var = np.einsum("nd,nd->d", centered, centered) / n
    return np.einsum("nd,d->nd", centered, gamma / np.sqrt(var + eps)) + beta
