"""bn-backward: the gradient of training-mode batch norm with respect to x, gamma and beta."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import numpy as np

from grader.reference import batchnorm_backward, batchnorm_forward
from grader.tasks.backward import BackwardTask, gradient_check_case
from grader.tasks.base import Case, Mistake, Outputs
from grader.tasks.bn_forward import STATEMENT as FORWARD_STATEMENT
from grader.tasks.bn_forward import BatchNormForward
from grader.tasks.cases import affine, features, with_constant_feature

Array = np.ndarray

STATEMENT = (
    FORWARD_STATEMENT.replace(
        "### Batch normalization with running statistics", "### Batch normalization: backward pass"
    )
    + """
Then implement `batchnorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)` for a **train-mode**
forward pass: `dout` is the upstream gradient of shape `(N, D)`; `dx` has shape `(N, D)`, `dgamma` and
`dbeta` shape `(D,)`, all float64. `cache` is whatever your forward pass returned. Remember that the batch
mean and variance depend on every element of `x`.

The forward pass is graded too, as its own cases (named `forward_…`): test mode, and the running
statistics a training step stores in `bn_param`.
"""
)

STARTER = '''\
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """Your train/test forward pass; return (out, cache) with what the backward pass needs in cache."""
    raise NotImplementedError


def batchnorm_backward(dout, cache):
    """Gradients of the train-mode forward pass: return (dx, dgamma, dbeta)."""
    raise NotImplementedError
'''


def _reference(x: Array, gamma: Array, beta: Array, dout: Array, eps: float) -> tuple[Array, Array, Array]:
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    return batchnorm_backward(dout, cache)


def _missing_terms(
    x: Array, gamma: Array, beta: Array, dout: Array, eps: float, *, mean_term: bool, var_term: bool
) -> tuple[Array, Array, Array]:
    n = x.shape[0]
    mean = x.mean(axis=0)
    inv_std = 1.0 / np.sqrt(x.var(axis=0) + eps)
    xhat = (x - mean) * inv_std
    dxhat = dout * gamma
    dx = n * dxhat
    if mean_term:
        dx = dx - dxhat.sum(axis=0)
    if var_term:
        dx = dx - xhat * (dxhat * xhat).sum(axis=0)
    return inv_std / n * dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _without_mean_term(
    x: Array, gamma: Array, beta: Array, dout: Array, eps: float
) -> tuple[Array, Array, Array]:
    return _missing_terms(x, gamma, beta, dout, eps, mean_term=False, var_term=True)


def _without_var_term(
    x: Array, gamma: Array, beta: Array, dout: Array, eps: float
) -> tuple[Array, Array, Array]:
    return _missing_terms(x, gamma, beta, dout, eps, mean_term=True, var_term=False)


# The forward cases bn-backward also grades, each for what it catches: test mode with a batch and with one
# example (normalizing with the running statistics, gamma and beta applied, eps inside the square root), and
# training steps whose stored running statistics are compared (momentum direction, biased variance, eps
# kept out of running_var, shapes (D,)).
FORWARD_CASES = ("sample_test", "train_defaults", "train_momentum_0_5", "test_batch", "test_single_example")


class BatchNormBackward(BackwardTask):
    id = "bn-backward"
    title = "Batch norm backward pass"
    functions: tuple[str, ...] = ("batchnorm_forward", "batchnorm_backward")
    backward_functions: tuple[str, ...] = ("batchnorm_backward",)
    grades_forward_output = False  # the forward cases (a part) grade it; here only the gradients are compared
    parts = MappingProxyType({"forward": BatchNormForward()})
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes: tuple[Mistake, ...] = (
        Mistake(
            "backward_missing_mean_term",
            "{Your} gradient with respect to x ignores that the batch mean depends on x (the term subtracting"
            " the mean of the upstream gradient is missing).",
            _without_mean_term,
            judged_on=("dx",),
        ),
        Mistake(
            "backward_missing_var_term",
            "{Your} gradient with respect to x ignores that the batch variance depends on x (the term"
            " involving "
            "x_hat times the mean of dout * x_hat is missing).",
            _without_var_term,
            judged_on=("dx",),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return _reference

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2026)
        g, b = affine(sample, 3)
        cases = [
            Case(
                "sample",
                True,
                {"x": features(sample, 4, 3), "gamma": g, "beta": b, "dout": sample.normal(size=(4, 3))},
            )
        ]
        rng = np.random.default_rng([seed, 303])
        for name, x, params in [
            # N != D: reductions over the wrong axis in the backward pass
            ("non_square", features(rng, 7, 5), {}),
            # N = 2: terms whose size depends on N (a missing 1/N, an N - 1)
            ("two_examples", features(rng, 2, 4), {}),
            # variances near eps: the variance term of dx, eps inside the square root
            ("tiny_variance", features(rng, 8, 3, tiny=True), {"eps": 1e-3}),
            # values far from zero: gradients computed from a one-pass variance
            ("offset_1e6", features(rng, 10, 3, offset=1e6), {}),
            # a zero variance: dx of a constant feature
            ("constant_feature", with_constant_feature(features(rng, 6, 4), 0), {}),
            # a larger batch: the mean term of dx, sums scaled as means
            ("wide_batch", features(rng, 50, 20), {}),
        ]:
            gamma, beta = affine(rng, x.shape[1])
            dout = rng.normal(size=x.shape)
            cases.append(Case(name, False, {"x": x, "gamma": gamma, "beta": beta, "dout": dout}, params))
        check = gradient_check_case("gradient_check", np.random.default_rng([seed, 313]), cases[0])
        forward = [
            replace(case, name=f"forward_{case.name}", part="forward")
            for case in self.parts["forward"].cases(seed)
            if case.name in FORWARD_CASES
        ]
        return [*cases, check, *forward]

    def forward_call(self, case: Case, inputs: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        param = {"mode": "train", **case.params}
        return "batchnorm_forward", (inputs["x"], inputs["gamma"], inputs["beta"], param)

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        dx, dgamma, dbeta = kernel(a["x"], a["gamma"], a["beta"], a["dout"], case.params.get("eps", 1e-5))
        return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}
