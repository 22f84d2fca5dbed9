# Correct, written with Python loops over features and examples.
# verdict: accepted
# diagnoses: none
import math

import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    n, d = x.shape
    out = np.empty((n, d))
    for j in range(d):
        total = 0.0
        for i in range(n):
            total += x[i, j]
        mean = total / n
        squares = 0.0
        for i in range(n):
            squares += (x[i, j] - mean) ** 2
        std = math.sqrt(squares / n + eps)
        for i in range(n):
            out[i, j] = gamma[j] * (x[i, j] - mean) / std + beta[j]
    return out
