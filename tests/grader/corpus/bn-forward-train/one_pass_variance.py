# Variance as E[x^2] - E[x]^2 with its own summation order: cancels far from zero (NaN at 1e8).
# verdict: partially_accepted
# diagnoses: unstable_variance
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    n = x.shape[0]
    sums = x.sum(axis=0)
    squares = (x * x).sum(axis=0)
    var = squares / n - (sums / n) ** 2
    return gamma * (x - sums / n) / np.sqrt(var + eps) + beta
