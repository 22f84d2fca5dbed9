# Computes in float32 and casts back: right to float32 accuracy on ordinary inputs, lost far from zero.
# verdict: partially_accepted
# diagnoses: float32_precision
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    x32 = x.astype(np.float32)
    mean = x32.mean(axis=0)
    var = x32.var(axis=0)
    out = gamma.astype(np.float32) * (x32 - mean) / np.sqrt(var + np.float32(eps)) + beta.astype(np.float32)
    return out.astype(np.float64)
