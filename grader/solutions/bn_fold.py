# A reference solution, for the hiring team: what a strong answer can look like (one of many).
# The grader never compares against it; tests/grader/test_solutions.py checks that it is accepted.
import numpy as np


def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return W * scale, (b - running_mean) * scale + beta


def fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    scale = gamma / np.sqrt(running_var + eps)
    return W * scale[:, None, None, None], (b - running_mean) * scale + beta
