"""layernorm: layer normalization forward and backward, for (N, D) inputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from grader.reference import layernorm_backward, layernorm_forward
from grader.tasks.backward import BackwardTask, gradient_check_case
from grader.tasks.base import Case, Mistake, Outputs, Standardized, standardize
from grader.tasks.cases import affine, features

Array = np.ndarray

STATEMENT = """\
### Layer normalization: forward and backward

Implement `layernorm_forward(x, gamma, beta, ln_param)` returning `(out, cache)` and
`layernorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)`.

* `x` has shape `(N, D)`; `gamma` and `beta` have shape `(D,)`; `ln_param` may hold `eps` (default `1e-5`).
* Each **example** is normalized over its own `D` features with its mean and **biased** variance (divide
  by `D`), epsilon **inside** the square root; then `out = gamma * x_hat + beta`. Unlike batch norm there
  are no running statistics and train and test behave the same.
* `dx` has shape `(N, D)`, `dgamma` and `dbeta` shape `(D,)`, all float64. Do not modify inputs in place.
"""

STARTER = '''\
import numpy as np


def layernorm_forward(x, gamma, beta, ln_param):
    """Normalize each row of x (N, D) over its features; return (out, cache)."""
    raise NotImplementedError


def layernorm_backward(dout, cache):
    """Gradients of layernorm_forward: return (dx, dgamma, dbeta)."""
    raise NotImplementedError
'''


def _reference(x: Array, gamma: Array, beta: Array, dout: Array, eps: float) -> tuple[Array, ...]:
    out, cache = layernorm_forward(x, gamma, beta, {"eps": eps})
    return (out, *layernorm_backward(dout, cache))


def layernorm_variant(
    x: Array,
    gamma: Array,
    beta: Array,
    dout: Array,
    eps: float,
    *,
    axis: int = 1,
    ddof: int = 0,
    eps_outside_sqrt: bool = False,
    mean_term: bool = True,
    var_term: bool = True,
) -> tuple[Array, ...]:
    """Layer norm forward and backward with one misconception switched on (all off: correct)."""
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=ddof, keepdims=True)
    std = np.sqrt(var) + eps if eps_outside_sqrt else np.sqrt(var + eps)
    xhat = (x - mean) / std
    d = x.shape[axis]
    dxhat = dout * gamma
    dx = d * dxhat
    if mean_term:
        dx = dx - dxhat.sum(axis=axis, keepdims=True)
    if var_term:
        dx = dx - xhat * (dxhat * xhat).sum(axis=axis, keepdims=True)
    return gamma * xhat + beta, dx / (d * std), (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _rows(rng: np.random.Generator, n: int, d: int, **kwargs: Any) -> Array:
    """(n, d) inputs whose examples (rows) have different means and scales."""
    return features(rng, d, n, **kwargs).T.copy()


class LayerNorm(BackwardTask):
    id = "layernorm"
    title = "Layer normalization forward and backward"
    functions = ("layernorm_forward", "layernorm_backward")
    backward_functions = ("layernorm_backward",)
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes = (
        Mistake(
            "wrong_axis",
            "{Code} computes the statistics over the batch for each feature (that is batch normalization);"
            " layer"
            " normalization normalizes each example over its own features.",
            partial(layernorm_variant, axis=0),
            judged_on=("out",),
        ),
        Mistake(
            "unbiased_variance",
            "{Code} uses the unbiased variance (dividing by D - 1) of each example; layer norm divides by D.",
            partial(layernorm_variant, ddof=1),
            judged_on=("out",),
        ),
        Mistake(
            "eps_outside_sqrt",
            "{Code} adds epsilon after the square root (sqrt(var) + eps) instead of inside it (sqrt(var +"
            " eps)).",
            partial(layernorm_variant, eps_outside_sqrt=True),
            judged_on=("out",),
        ),
        Mistake(
            "backward_missing_mean_term",
            "{Your} gradient with respect to x ignores that each example's mean depends on its features.",
            partial(layernorm_variant, mean_term=False),
            judged_on=("dx",),
        ),
        Mistake(
            "backward_missing_var_term",
            "{Your} gradient with respect to x ignores that each example's variance depends on its features.",
            partial(layernorm_variant, var_term=False),
            judged_on=("dx",),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return _reference

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2027)
        g, b = affine(sample, 4)
        cases = [
            Case(
                "sample",
                True,
                {"x": _rows(sample, 3, 4), "gamma": g, "beta": b, "dout": sample.normal(size=(3, 4))},
            )
        ]
        rng = np.random.default_rng([seed, 404])
        constant_row = _rows(rng, 4, 6)
        constant_row[2] = constant_row[2, 0]
        for name, x, params in [
            # N = 1: statistics over the batch (batch norm) collapse here
            ("single_example", _rows(rng, 1, 7), {}),
            # N != D: the wrong axis, transposes
            ("non_square", _rows(rng, 5, 9), {}),
            # D = 2: the unbiased variance doubles the variance
            ("two_features", _rows(rng, 6, 2), {}),
            # variances near eps: eps outside the square root, the variance term of dx
            ("tiny_variance", _rows(rng, 4, 5, tiny=True), {"eps": 1e-3}),
            # values far from zero: a one-pass variance, float32 arithmetic
            ("offset_1e6", _rows(rng, 3, 8, offset=1e6), {}),
            # a constant example: zero variance, no epsilon divides by zero
            ("constant_example", constant_row, {}),
            # many features: the mean and variance terms of dx
            ("wide", _rows(rng, 16, 64), {}),
        ]:
            gamma, beta = affine(rng, x.shape[1])
            cases.append(
                Case(
                    name,
                    False,
                    {"x": x, "gamma": gamma, "beta": beta, "dout": rng.normal(size=x.shape)},
                    params,
                )
            )
        return [*cases, gradient_check_case("gradient_check", np.random.default_rng([seed, 414]), cases[0])]

    def forward_call(self, case: Case, inputs: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        return "layernorm_forward", (inputs["x"], inputs["gamma"], inputs["beta"], dict(case.params))

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        out, dx, dgamma, dbeta = kernel(
            a["x"], a["gamma"], a["beta"], a["dout"], case.params.get("eps", 1e-5)
        )
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    def standardized(self, case: Case, out: object) -> Standardized | None:
        a = case.arrays
        eps = case.params.get("eps", 1e-5)
        # Each example (a row) is one statistic: laid out as columns.
        return standardize(
            a["x"], out, a["gamma"], a["beta"], np.transpose, eps=eps, eps_given="eps" in case.params
        )
