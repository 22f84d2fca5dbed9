# Ignores the eps argument and always uses 1e-5: wrong only where another eps is passed.
# verdict: partially_accepted
# diagnoses: eps_ignored
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + 1e-5) + beta
