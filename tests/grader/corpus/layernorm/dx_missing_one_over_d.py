# Layer norm whose dx leaves out the 1/D of the closed form: D times too large.
# verdict: partially_accepted
# diagnoses: gradient_scaled_by_count, backward_inconsistent_with_forward
import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    return gamma * x_hat + beta, (x_hat, gamma, inv_std)


def layernorm_backward(dout, cache):
    x_hat, gamma, inv_std = cache
    d = x_hat.shape[1]
    dxhat = dout * gamma
    dx = inv_std * (d * dxhat - dxhat.sum(axis=1, keepdims=True) - x_hat * (dxhat * x_hat).sum(axis=1, keepdims=True))
    return dx, (dout * x_hat).sum(axis=0), dout.sum(axis=0)
