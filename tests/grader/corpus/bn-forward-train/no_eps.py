# No epsilon at all (and a NaN on the constant feature). Where every feature's variance dwarfs 1e-5 (wide
# batch, values far from zero, whose tolerance is float32's there) leaving it out is within tolerance.
# verdict: partially_accepted
# diagnoses: eps_missing
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=0)
    return gamma * (x - mean) / x.std(axis=0) + beta
