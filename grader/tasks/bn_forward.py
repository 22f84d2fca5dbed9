"""bn-forward: train and test modes with running statistics written back into bn_param."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from grader.reference import batchnorm_forward
from grader.sandbox import Input, Step, StepOutcome
from grader.tasks.base import Case, Outputs, Standardized, Task, first_result, standardize
from grader.tasks.batchnorm_variants import RUNNING_STATISTICS_MISTAKES, STATISTICS_MISTAKES
from grader.tasks.cases import affine, features, with_constant_feature

STATEMENT = """\
### Batch normalization with running statistics

Implement `batchnorm_forward(x, gamma, beta, bn_param)` returning `(out, cache)`.

* `x` has shape `(N, D)`; `gamma` and `beta` have shape `(D,)`. `out` is float64 with the shape of `x`.
  `cache` is yours: anything a backward pass would need (it is not graded here).
* `bn_param` is a dict with:
  * `mode`: `'train'` or `'test'`;
  * `eps` (optional, default `1e-5`), added **inside** the square root;
  * `momentum` (optional, default `0.9`);
  * `running_mean`, `running_var` (optional, default zeros of shape `(D,)`).
* **Train mode**: normalize with the batch mean and the **biased** batch variance (divide by `N`), then
  update both running statistics as `running = momentum * running + (1 - momentum) * batch_statistic`
  (the biased variance for `running_var`) and **store them back into `bn_param`**.
* **Test mode**: normalize with `running_mean` and `running_var`, apply `gamma` and `beta`, and leave the
  running statistics unchanged.
* Do not modify `x` in place.
"""

STARTER = '''\
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm for x (N, D) in bn_param["mode"]; returns (out, cache), updates bn_param when training."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    raise NotImplementedError
'''


class BatchNormForward(Task):
    id = "bn-forward"
    title = "Batch norm forward pass with running statistics"
    functions = ("batchnorm_forward",)
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes = STATISTICS_MISTAKES + RUNNING_STATISTICS_MISTAKES

    def reference(self) -> Callable[..., Any]:
        return batchnorm_forward

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2025)
        g, b = affine(sample, 3)
        cases = [
            Case(
                "sample_train", True, {"x": features(sample, 4, 3), "gamma": g, "beta": b}, {"mode": "train"}
            ),
            Case(
                "sample_test",
                True,
                {
                    "x": features(sample, 3, 3),
                    "gamma": g,
                    "beta": b,
                    "running_mean": sample.normal(size=3),
                    "running_var": sample.uniform(0.5, 2, size=3),
                },
                {"mode": "test"},
            ),
        ]
        rng = np.random.default_rng([seed, 202])
        specs: list[tuple[str, np.ndarray, dict[str, Any], bool]] = [
            # nothing but the mode given: wrong defaults, running statistics never written back
            ("train_defaults", features(rng, 6, 4), {"mode": "train"}, False),
            # momentum 0: the running statistics become the batch's (a reversed momentum keeps the old)
            ("train_momentum_0", features(rng, 5, 3), {"mode": "train", "momentum": 0.0}, True),
            # momentum 0.5 with running statistics given: the update formula itself
            ("train_momentum_0_5", features(rng, 8, 5), {"mode": "train", "momentum": 0.5}, True),
            # momentum near 1: a reversed momentum is far off
            ("train_momentum_0_99", features(rng, 7, 2), {"mode": "train", "momentum": 0.99}, True),
            # N = 2: the unbiased variance, in the batch or in the running variance
            ("train_two_examples", features(rng, 2, 5), {"mode": "train"}, True),
            # variances near eps: eps outside the square root, eps stored in running_var
            ("train_tiny_variance", features(rng, 9, 3, tiny=True), {"mode": "train", "eps": 1e-3}, True),
            # values far from zero: a one-pass variance, float32 arithmetic
            ("train_offset_1e8", features(rng, 12, 3, offset=1e8), {"mode": "train"}, True),
            # a zero variance: no epsilon divides by zero
            (
                "train_constant_feature",
                with_constant_feature(features(rng, 6, 4), 1),
                {"mode": "train"},
                True,
            ),
            # test mode, one example: batch statistics in test mode (a zero variance)
            ("test_single_example", features(rng, 1, 4), {"mode": "test"}, True),
            # test mode with eps given: gamma and beta, eps, running statistics left unchanged
            ("test_batch", features(rng, 10, 6), {"mode": "test", "eps": 1e-3}, True),
        ]
        for name, x, params, prepopulated in specs:
            d = x.shape[1]
            gamma, beta = affine(rng, d)
            arrays = {"x": x, "gamma": gamma, "beta": beta}
            if prepopulated:
                arrays["running_mean"] = np.asarray(rng.normal(0.0, 2.0, size=d))
                arrays["running_var"] = np.asarray(rng.uniform(0.2, 3.0, size=d))
            cases.append(Case(name, False, arrays, params))
        return cases

    def _bn_param(self, case: Case, prefix: str | None) -> dict[str, Any]:
        param: dict[str, Any] = dict(case.params)
        for key in ("running_mean", "running_var"):
            if key in case.arrays:
                param[key] = Input(prefix + key) if prefix is not None else case.arrays[key]
        return param

    def steps(self, case: Case, prefix: str) -> list[Step]:
        args = (
            Input(prefix + "x"),
            Input(prefix + "gamma"),
            Input(prefix + "beta"),
            self._bn_param(case, prefix),
        )
        return [Step("batchnorm_forward", args, report_args=True)]

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, np.ndarray] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        param = {k: a.get(k, v) for k, v in self._bn_param(case, None).items()}
        out, _ = kernel(a["x"], a["gamma"], a["beta"], param)
        d = a["x"].shape[1]
        return {
            "out": out,
            "running_mean": np.asarray(param.get("running_mean", np.zeros(d)), dtype=dtype),
            "running_var": np.asarray(param.get("running_var", np.zeros(d)), dtype=dtype),
        }

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        out = first_result(outcomes[0].result)
        after = outcomes[0].args_after or []
        param = after[3] if len(after) > 3 and isinstance(after[3], dict) else {}
        d = case.arrays["x"].shape[1]
        # A missing key means "never written back": the defaults stand, as the caller would see them.
        return {
            "out": out,
            "running_mean": param.get("running_mean", np.zeros(d)),
            "running_var": param.get("running_var", np.zeros(d)),
        }

    def standardized(self, case: Case, out: object) -> Standardized | None:
        a = case.arrays
        d = a["x"].shape[1]
        running = None
        if case.params["mode"] == "test":
            running = (a.get("running_mean", np.zeros(d)), a.get("running_var", np.zeros(d)))
        eps = case.params.get("eps", 1e-5)
        return standardize(
            a["x"],
            out,
            a["gamma"],
            a["beta"],
            np.asarray,
            eps=eps,
            eps_given="eps" in case.params,
            running=running,
        )
