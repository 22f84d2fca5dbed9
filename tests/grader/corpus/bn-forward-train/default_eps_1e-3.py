# A wrong default epsilon: right whenever eps is passed.
# verdict: partially_accepted
# diagnoses: wrong_default_eps
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-3):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / np.sqrt(x.var(axis=0) + eps) + beta
