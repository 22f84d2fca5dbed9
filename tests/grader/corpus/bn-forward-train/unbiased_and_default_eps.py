# Two mistakes at once: unbiased variance and a default epsilon of 1e-3. No single wrong kernel
# reproduces it; the statistics read from the output show both. With eps = 1e-3 passed and variances
# below 1e-6 neither shows (custom_eps passes).
# verdict: partially_accepted
# diagnoses: unbiased_variance, wrong_default_eps
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-3):
    mean = x.mean(axis=0)
    var = x.var(axis=0, ddof=1)
    return gamma * (x - mean) / np.sqrt(var + eps) + beta
