"""bn-forward-train: the batch-norm forward pass in training mode, nothing else."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from grader.reference import batchnorm_forward_train
from grader.sandbox import Input, Step, StepOutcome
from grader.tasks.base import Case, Outputs, Standardized, Task, standardize
from grader.tasks.batchnorm_variants import STATISTICS_MISTAKES
from grader.tasks.cases import affine, features, with_constant_feature

STATEMENT = """\
### Batch normalization: training-mode forward pass

Implement `batchnorm_forward_train(x, gamma, beta, eps=1e-5)`.

* `x` has shape `(N, D)`: `N` examples, `D` features. `gamma` and `beta` have shape `(D,)`.
* For every feature, compute the mean and the **biased** variance over the `N` examples of the batch
  (divide by `N`, not `N - 1`).
* Normalize: `x_hat = (x - mean) / sqrt(var + eps)` (epsilon **inside** the square root).
* Return `gamma * x_hat + beta`, a float64 array of shape `(N, D)`.
* Do not modify `x` in place. Use NumPy only; vectorize if you can, but any correct implementation passes.

The sample tests show their inputs and outputs; hidden tests use other shapes and values, including
features with very small variance and values far from zero.
"""

STARTER = '''\
import numpy as np


def batchnorm_forward_train(x, gamma, beta, eps=1e-5):
    """Batch-normalize x (N, D) with its own batch statistics, then scale by gamma and shift by beta."""
    raise NotImplementedError
'''


def _as_train_kernel(variant: Callable[..., Any]) -> Callable[..., Any]:
    def kernel(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
        out = variant(x, gamma, beta, {"mode": "train", "eps": eps})
        return np.asarray(out[0] if isinstance(out, tuple) else out)

    return kernel


class BatchNormForwardTrain(Task):
    id = "bn-forward-train"
    title = "Batch norm forward pass (training mode)"
    functions = ("batchnorm_forward_train",)
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes = tuple(replace(m, kernel=_as_train_kernel(m.kernel)) for m in STATISTICS_MISTAKES)

    def reference(self) -> Callable[..., Any]:
        return batchnorm_forward_train

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2024)
        cases = [
            Case(
                "sample_small", True, {"x": features(sample, 4, 3), "gamma": np.ones(3), "beta": np.zeros(3)}
            ),
            Case(
                "sample_affine",
                True,
                {"x": features(sample, 5, 2), **dict(zip(("gamma", "beta"), affine(sample, 2), strict=True))},
            ),
        ]
        rng = np.random.default_rng([seed, 101])
        hidden = [
            # N != D: statistics over the wrong axis, or transposed shapes
            ("non_square", features(rng, 7, 5), {}),
            # N = 2: the unbiased variance doubles the variance here
            ("two_examples", features(rng, 2, 6), {}),
            # variances near eps: epsilon outside the square root, or left out
            ("tiny_variance", features(rng, 9, 4, tiny=True), {}),
            # values far from zero: a one-pass variance (E[x^2] - E[x]^2) or float32 arithmetic
            ("offset_1e6", features(rng, 16, 3, offset=1e6), {}),
            # further still: a one-pass variance turns negative (NaN)
            ("offset_1e8", features(rng, 16, 3, offset=1e8), {}),
            # a zero variance: no epsilon divides by zero
            ("constant_feature", with_constant_feature(features(rng, 6, 4), 2), {}),
            # a larger batch: loops over the wrong axis, broadcasting mistakes
            ("wide_batch", features(rng, 64, 33), {}),
            # eps passed in: a hard-coded epsilon, eps ignored
            ("custom_eps", features(rng, 5, 3, tiny=True), {"eps": 1e-3}),
        ]
        for name, x, params in hidden:
            gamma, beta = affine(rng, x.shape[1])
            cases.append(Case(name, False, {"x": x, "gamma": gamma, "beta": beta}, params))
        return cases

    def steps(self, case: Case, prefix: str) -> list[Step]:
        args = (Input(prefix + "x"), Input(prefix + "gamma"), Input(prefix + "beta"))
        kwargs = {"eps": case.params["eps"]} if "eps" in case.params else {}
        return [Step("batchnorm_forward_train", args, kwargs, report_args=True)]

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, np.ndarray] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        return {"out": kernel(a["x"], a["gamma"], a["beta"], case.params.get("eps", 1e-5))}

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        return {"out": outcomes[0].result}

    def standardized(self, case: Case, out: object) -> Standardized | None:
        a = case.arrays
        eps = case.params.get("eps", 1e-5)
        return standardize(
            a["x"], out, a["gamma"], a["beta"], np.asarray, eps=eps, eps_given="eps" in case.params
        )
