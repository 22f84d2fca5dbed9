"""Per-candidate parameters for numeric questions, with answers computed by the grader's reference kernels.

A generator draws its parameters from a NumPy generator seeded per attempt and item, so two candidates get
different numbers and a reload shows the same ones. Its parameters fill the placeholders of the
question's prompt; its answer is what the candidate's number is scored against, within the question's
tolerance. Parameters are kept short and round so the arithmetic is doable by hand.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from grader.reference import (
    BatchNorm1d,
    batchnorm_backward,
    batchnorm_forward,
    fold_batchnorm,
    layernorm_forward,
    spatial_groupnorm_forward,
    welford_finalize,
    welford_merge,
)

Params = dict[str, str]


@dataclass(frozen=True)
class Generated:
    params: Params  # what the prompt's placeholders are filled with, already formatted
    answer: float


def _fmt(value: float) -> str:
    """A number as a person would write it: no trailing zeros, no float noise."""
    text = f"{value:.6g}"
    return "0" if text == "-0" else text


def _vector(values: np.ndarray) -> str:
    return "[" + ", ".join(_fmt(float(v)) for v in values) + "]"


def _small_ints(rng: np.random.Generator, n: int, low: int = -6, high: int = 10) -> np.ndarray:
    """n distinct-enough integers (never all equal) so variances are non-zero."""
    while True:
        values = rng.integers(low, high, size=n).astype(float)
        if np.ptp(values) > 0:
            return values


def batch_mean(rng: np.random.Generator) -> Generated:
    x = _small_ints(rng, 4)
    return Generated({"x": _vector(x)}, float(x.mean()))


def batch_biased_variance(rng: np.random.Generator) -> Generated:
    x = _small_ints(rng, 4)
    return Generated({"x": _vector(x)}, float(x.var()))


def batch_unbiased_variance(rng: np.random.Generator) -> Generated:
    x = _small_ints(rng, 5)
    return Generated({"x": _vector(x)}, float(x.var(ddof=1)))


def normalized_value(rng: np.random.Generator) -> Generated:
    """x_hat of the first example of a one-feature batch (eps as stated)."""
    x = _small_ints(rng, 4)
    out, _ = batchnorm_forward(x[:, None], np.ones(1), np.zeros(1), {"mode": "train", "eps": 1e-5})
    return Generated({"x": _vector(x), "first": _fmt(x[0])}, float(out[0, 0]))


def bn_output_with_affine(rng: np.random.Generator) -> Generated:
    x = _small_ints(rng, 4)
    gamma, beta = float(rng.integers(2, 6)), float(rng.integers(-3, 4))
    out, _ = batchnorm_forward(x[:, None], np.array([gamma]), np.array([beta]), {"mode": "train"})
    return Generated(
        {"x": _vector(x), "last": _fmt(x[-1]), "gamma": _fmt(gamma), "beta": _fmt(beta)}, float(out[-1, 0])
    )


def running_mean_cs231n(rng: np.random.Generator) -> Generated:
    """running = momentum * running + (1 - momentum) * batch."""
    running, momentum = float(rng.integers(-5, 6)), float(rng.choice([0.8, 0.9, 0.95, 0.99]))
    x = _small_ints(rng, 4)
    param: dict[str, Any] = {"mode": "train", "momentum": momentum, "running_mean": np.array([running])}
    batchnorm_forward(x[:, None], np.ones(1), np.zeros(1), param)
    return Generated(
        {"running": _fmt(running), "momentum": _fmt(momentum), "x": _vector(x)},
        float(param["running_mean"][0]),
    )


def running_var_pytorch(rng: np.random.Generator) -> Generated:
    """PyTorch: momentum weighs the new batch and the running variance takes the unbiased variance."""
    momentum = float(rng.choice([0.1, 0.2, 0.5]))
    x = _small_ints(rng, 4)
    module = BatchNorm1d(1, momentum=momentum)
    running = float(rng.integers(1, 5))
    module.running_var = np.array([running])
    module.forward(x[:, None])
    assert module.running_var is not None
    return Generated(
        {"running": _fmt(running), "momentum": _fmt(momentum), "x": _vector(x)}, float(module.running_var[0])
    )


def cumulative_average(rng: np.random.Generator) -> Generated:
    """momentum=None: the running mean after k batches is the plain average of the batch means."""
    means = rng.integers(-4, 9, size=3).astype(float)
    module = BatchNorm1d(1, momentum=None)
    for mean in means:
        module.forward(np.array([[mean - 1.0], [mean + 1.0]]))
    assert module.running_mean is not None
    return Generated({"means": _vector(means)}, float(module.running_mean[0]))


def inference_output(rng: np.random.Generator) -> Generated:
    running_mean, running_var = float(rng.integers(-3, 4)), float(rng.choice([0.25, 1.0, 4.0, 9.0]))
    gamma, beta, x = float(rng.integers(1, 4)), float(rng.integers(-2, 3)), float(rng.integers(-5, 8))
    param = {"mode": "test", "running_mean": np.array([running_mean]), "running_var": np.array([running_var])}
    out, _ = batchnorm_forward(np.array([[x]]), np.array([gamma]), np.array([beta]), param)
    return Generated(
        {
            "x": _fmt(x),
            "mean": _fmt(running_mean),
            "var": _fmt(running_var),
            "gamma": _fmt(gamma),
            "beta": _fmt(beta),
        },
        float(out[0, 0]),
    )


def bn_parameter_count(rng: np.random.Generator) -> Generated:
    """Learned parameters of the BN layers after each conv layer: gamma and beta per channel."""
    channels = rng.choice([16, 32, 48, 64, 96, 128, 256], size=3, replace=False)
    return Generated({"channels": ", ".join(str(int(c)) for c in channels)}, float(2 * channels.sum()))


def bn_buffer_count(rng: np.random.Generator) -> Generated:
    """Numbers a BN layer stores but does not learn: running mean and variance per channel."""
    channels = int(rng.choice([32, 64, 128, 256, 512]))
    return Generated({"channels": str(channels)}, float(2 * channels))


def conv_bias_redundant(rng: np.random.Generator) -> Generated:
    """Parameters saved by dropping the conv bias in front of batch norm: one per output channel per layer."""
    channels = rng.choice([32, 64, 128, 256], size=2, replace=False)
    return Generated({"channels": ", ".join(str(int(c)) for c in channels)}, float(channels.sum()))


def values_per_channel(rng: np.random.Generator) -> Generated:
    """How many numbers each channel's statistics are computed over in spatial batch norm."""
    n, h = int(rng.choice([8, 16, 32])), int(rng.choice([7, 14, 28]))
    w = h
    return Generated(
        {"n": str(n), "h": str(h), "w": str(w), "c": str(int(rng.choice([64, 128])))}, float(n * h * w)
    )


def groupnorm_group_size(rng: np.random.Generator) -> Generated:
    """Values one group-norm statistic is taken over: (C / G) * H * W of one example."""
    c, g = int(rng.choice([32, 64, 128])), int(rng.choice([4, 8, 16]))
    h = int(rng.choice([4, 7, 8]))
    return Generated({"c": str(c), "g": str(g), "h": str(h), "w": str(h)}, float(c // g * h * h))


def _folded_layer(rng: np.random.Generator) -> tuple[Params, float, float]:
    """A one-input, one-output linear layer and its inference batch norm (eps = 0), folded: (w', b')."""
    w, b = float(rng.integers(1, 6)), float(rng.integers(-3, 4))
    gamma, beta = float(rng.integers(1, 4)), float(rng.integers(-2, 3))
    mean, var = float(rng.integers(-2, 3)), float(rng.choice([0.25, 1.0, 4.0]))
    b_, gamma_, beta_, mean_, var_ = (np.array([v]) for v in (b, gamma, beta, mean, var))
    w2, b2 = fold_batchnorm(np.array([[w]]), b_, gamma_, beta_, mean_, var_, eps=0.0)
    values = {"w": w, "b": b, "gamma": gamma, "beta": beta, "mean": mean, "var": var}
    return {name: _fmt(value) for name, value in values.items()}, float(w2[0, 0]), float(b2[0])


def fold_weight(rng: np.random.Generator) -> Generated:
    params, w2, _ = _folded_layer(rng)
    return Generated(params, w2)


def fold_bias(rng: np.random.Generator) -> Generated:
    params, _, b2 = _folded_layer(rng)
    return Generated(params, b2)


def layernorm_value(rng: np.random.Generator) -> Generated:
    """Layer norm of one example's features: the first normalized feature."""
    x = _small_ints(rng, 4)
    out, _ = layernorm_forward(x[None, :], np.ones(4), np.zeros(4), {"eps": 1e-5})
    return Generated({"x": _vector(x), "first": _fmt(x[0])}, float(out[0, 0]))


def groupnorm_value(rng: np.random.Generator) -> Generated:
    """Group norm with two groups of two channels, one pixel: the normalized value of channel 3."""
    x = _small_ints(rng, 4)
    while np.ptp(x[2:]) == 0:
        x = _small_ints(rng, 4)
    out, _ = spatial_groupnorm_forward(
        x.reshape(1, 4, 1, 1), np.ones((1, 4, 1, 1)), np.zeros((1, 4, 1, 1)), 2, {"eps": 1e-5}
    )
    return Generated({"x": _vector(x)}, float(out[0, 2, 0, 0]))


def dbeta_sum(rng: np.random.Generator) -> Generated:
    """dbeta for one feature is the sum of the upstream gradient over the batch."""
    dout = _small_ints(rng, 4, -5, 6)
    return Generated({"dout": _vector(dout)}, float(dout.sum()))


def dgamma_value(rng: np.random.Generator) -> Generated:
    """dgamma = sum(dout * x_hat) for a batch whose x_hat is given."""
    xhat = np.array([-1.5, -0.5, 0.5, 1.5])
    dout = _small_ints(rng, 4, -4, 5)
    x = xhat * 2 + float(rng.integers(-3, 4))  # any x with these normalized values
    _, cache = batchnorm_forward(x[:, None], np.ones(1), np.zeros(1), {"mode": "train", "eps": 0.0})
    _, dgamma, _ = batchnorm_backward(dout[:, None], cache)
    return Generated({"xhat": _vector(xhat / np.sqrt(1.25)), "dout": _vector(dout)}, float(dgamma[0]))


def welford_merged_variance(rng: np.random.Generator) -> Generated:
    """The biased variance of two streams merged from their counts, means and sums of squared deviations."""
    a = _small_ints(rng, 3)
    b = _small_ints(rng, 3) + float(rng.integers(2, 6))
    state_a = (3, np.array([a.mean()]), np.array([((a - a.mean()) ** 2).sum()]))
    state_b = (3, np.array([b.mean()]), np.array([((b - b.mean()) ** 2).sum()]))
    _, var, _ = welford_finalize(welford_merge(state_a, state_b))
    return Generated(
        {
            "mean_a": _fmt(float(state_a[1][0])),
            "m2_a": _fmt(float(state_a[2][0])),
            "mean_b": _fmt(float(state_b[1][0])),
            "m2_b": _fmt(float(state_b[2][0])),
        },
        float(var[0]),
    )


GENERATORS: dict[str, Callable[[np.random.Generator], Generated]] = {
    name.replace("_", "-"): function
    for name, function in {
        "batch_mean": batch_mean,
        "batch_biased_variance": batch_biased_variance,
        "batch_unbiased_variance": batch_unbiased_variance,
        "normalized_value": normalized_value,
        "bn_output_with_affine": bn_output_with_affine,
        "running_mean_cs231n": running_mean_cs231n,
        "running_var_pytorch": running_var_pytorch,
        "cumulative_average": cumulative_average,
        "inference_output": inference_output,
        "bn_parameter_count": bn_parameter_count,
        "bn_buffer_count": bn_buffer_count,
        "conv_bias_redundant": conv_bias_redundant,
        "values_per_channel": values_per_channel,
        "groupnorm_group_size": groupnorm_group_size,
        "fold_weight": fold_weight,
        "fold_bias": fold_bias,
        "layernorm_value": layernorm_value,
        "groupnorm_value": groupnorm_value,
        "dbeta_sum": dbeta_sum,
        "dgamma_value": dgamma_value,
        "welford_merged_variance": welford_merged_variance,
    }.items()
}


PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


def generate(generator: str, seed: int, item_key: int | str) -> Generated:
    """The parameters and answer one candidate sees for one item (stable for a given seed and item)."""
    return GENERATORS[generator](np.random.default_rng([seed, zlib.crc32(str(item_key).encode())]))


@cache
def parameter_names(generator: str) -> frozenset[str]:
    """The placeholders a generator fills (the same for every seed). Cached: question specs are validated
    on every page that shows one."""
    return frozenset(generate(generator, 0, 0).params)


def placeholders(prompt: str) -> set[str]:
    return set(PLACEHOLDER.findall(prompt))


def fill(prompt: str, params: Params) -> str:
    """The prompt with its `{{ name }}` placeholders replaced by this candidate's parameters."""
    return PLACEHOLDER.sub(lambda match: params[match.group(1)], prompt)
