"""spatial-bn: batch normalization for convolutional activations (N, C, H, W), per channel."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from typing import Any

import numpy as np

from grader.reference import spatial_batchnorm_backward, spatial_batchnorm_forward
from grader.sandbox import StepOutcome
from grader.tasks.backward import BackwardTask, gradient_check_case
from grader.tasks.base import Case, Mistake, Outputs, Standardized, standardize
from grader.tasks.batchnorm_variants import RUNNING_STATISTICS_MISTAKES
from grader.tasks.cases import affine

Array = np.ndarray

STATEMENT = """\
### Spatial batch normalization

Implement `spatial_batchnorm_forward(x, gamma, beta, bn_param)` returning `(out, cache)` and
`spatial_batchnorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)`.

* `x` has shape `(N, C, H, W)`; `gamma` and `beta` have shape `(C,)`.
* Statistics are computed **per channel**, over the batch **and** all spatial positions (`N * H * W`
  values per channel), with the biased variance and epsilon inside the square root.
* `bn_param` follows the conventions of `batchnorm_forward`: `mode`, optional `eps` (1e-5), `momentum`
  (0.9), `running_mean` and `running_var` of shape `(C,)` (default zeros), updated as
  `running = momentum * running + (1 - momentum) * batch_statistic` and written back in train mode.
* All cases here are train mode. `dx` has the shape of `x`; `dgamma`, `dbeta` have shape `(C,)`.
  Do not modify inputs in place.
"""

STARTER = '''\
import numpy as np


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm for x (N, C, H, W) with per-channel statistics; return (out, cache)."""
    raise NotImplementedError


def spatial_batchnorm_backward(dout, cache):
    """Gradients of spatial_batchnorm_forward: return (dx, dgamma, dbeta)."""
    raise NotImplementedError
'''


def _reference(x: Array, gamma: Array, beta: Array, dout: Array, param: dict[str, Any]) -> tuple[Array, ...]:
    out, cache = spatial_batchnorm_forward(x, gamma, beta, param)
    return (out, *spatial_batchnorm_backward(dout, cache))


def spatial_variant(
    x: Array, gamma: Array, beta: Array, dout: Array, param: dict[str, Any], *, layout: str
) -> tuple[Array | None, ...]:
    """The forward pass with statistics taken over the wrong set of values; only `out` is judged."""
    eps = param.get("eps", 1e-5)
    g, b = gamma.reshape(1, -1, 1, 1), beta.reshape(1, -1, 1, 1)
    if layout == "per_sample":
        axes: tuple[int, ...] = (2, 3)
    elif layout == "per_pixel":
        axes = (0,)
    else:  # "reshape_without_transpose": rows of C values that mix channels and positions
        rows = x.reshape(-1, x.shape[1])
        xhat_rows = (rows - rows.mean(axis=0)) / np.sqrt(rows.var(axis=0) + eps)
        return (gamma * xhat_rows + beta).reshape(x.shape), None, None, None
    xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + eps)
    return g * xhat + b, None, None, None


def spatial_running_variant(
    x: Array,
    gamma: Array,
    beta: Array,
    dout: Array,
    param: dict[str, Any],
    *,
    ddof: int = 0,
    momentum_reversed: bool = False,
    update: bool = True,
    var_plus_eps: bool = False,
) -> tuple[Array, ...]:
    """The right output and gradients, with the running statistics stored with one misconception."""
    before = {k: param[k] for k in ("running_mean", "running_var") if k in param}
    outputs = _reference(x, gamma, beta, dout, param)
    c = x.shape[1]
    running_mean = np.asarray(before.get("running_mean", np.zeros(c)))
    running_var = np.asarray(before.get("running_var", np.zeros(c)))
    if update:
        momentum, eps = param.get("momentum", 0.9), param.get("eps", 1e-5)
        keep = 1 - momentum if momentum_reversed else momentum
        var = x.var(axis=(0, 2, 3), ddof=ddof) + (eps if var_plus_eps else 0.0)
        running_mean = keep * running_mean + (1 - keep) * x.mean(axis=(0, 2, 3))
        running_var = keep * running_var + (1 - keep) * var
    param["running_mean"], param["running_var"] = running_mean, running_var
    return outputs


# The running-statistics misconceptions of bn-forward, as they show in spatial batch norm.
RUNNING = ("running_mean", "running_var")
SPATIAL_RUNNING_MISTAKES = tuple(
    replace(mistake, kernel=partial(spatial_running_variant, **switches), judged_on=RUNNING)
    for mistake in RUNNING_STATISTICS_MISTAKES
    for code, switches in (
        ("unbiased_running_var", {"ddof": 1}),
        ("momentum_reversed", {"momentum_reversed": True}),
        ("no_running_update", {"update": False}),
        ("running_var_includes_eps", {"var_plus_eps": True}),
    )
    if mistake.code == code
)


class SpatialBatchNorm(BackwardTask):
    id = "spatial-bn"
    title = "Spatial batch normalization"
    functions = ("spatial_batchnorm_forward", "spatial_batchnorm_backward")
    backward_functions = ("spatial_batchnorm_backward",)
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes = (
        Mistake(
            "per_sample_statistics",
            "{Code} computes statistics separately for every example (over H and W only): that is instance"
            " normalization; spatial batch norm pools the whole batch for each channel.",
            partial(spatial_variant, layout="per_sample"),
            judged_on=("out",),
        ),
        Mistake(
            "per_pixel_statistics",
            "{Code} computes statistics separately for every spatial position (over the batch only), as if"
            " each"
            " pixel were a feature; convolutional batch norm shares statistics across all positions of a"
            " channel.",
            partial(spatial_variant, layout="per_pixel"),
            judged_on=("out",),
        ),
        Mistake(
            "reshape_without_transpose",
            "{Code} reshapes (N, C, H, W) straight to (N*H*W, C) without first moving the channel axis"
            " last, so each"
            " 'feature' column mixes values from different channels and positions.",
            partial(spatial_variant, layout="reshape_without_transpose"),
            judged_on=("out",),
        ),
        *SPATIAL_RUNNING_MISTAKES,
    )

    def reference(self) -> Callable[..., Any]:
        return _reference

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2028)
        cases = [self._case("sample", True, sample, (2, 3, 2, 2), {"mode": "train"})]
        rng = np.random.default_rng([seed, 505])
        cases += [
            # H != W and C != N: a reshape without the transpose, axes swapped
            self._case("non_square", False, rng, (3, 4, 5, 2), {"mode": "train"}),
            # N = 1: per-pixel statistics over the batch have no variance at all here
            self._case("one_example", False, rng, (1, 3, 4, 4), {"mode": "train", "momentum": 0.5}),
            # more channels than examples: per-pixel or per-sample statistics
            self._case("many_channels", False, rng, (4, 8, 3, 3), {"mode": "train"}),
            # variances near eps: eps outside the square root
            self._case("tiny_variance", False, rng, (2, 3, 3, 3), {"mode": "train", "eps": 1e-3}, tiny=True),
            # running statistics given: the momentum update, the biased running variance
            self._case(
                "prepopulated", False, rng, (2, 5, 2, 3), {"mode": "train", "momentum": 0.7}, running=True
            ),
        ]
        return [*cases, gradient_check_case("gradient_check", np.random.default_rng([seed, 515]), cases[0])]

    @staticmethod
    def _case(
        name: str,
        visible: bool,
        rng: np.random.Generator,
        shape: tuple[int, int, int, int],
        params: dict[str, Any],
        *,
        tiny: bool = False,
        running: bool = False,
    ) -> Case:
        c = shape[1]
        scale = (
            rng.uniform(1e-4, 1e-3, size=(1, c, 1, 1)) if tiny else rng.uniform(0.3, 4.0, size=(1, c, 1, 1))
        )
        x = rng.normal(0.0, 5.0, size=(1, c, 1, 1)) + rng.normal(size=shape) * scale
        gamma, beta = affine(rng, c)
        arrays = {"x": x, "gamma": gamma, "beta": beta, "dout": rng.normal(size=shape)}
        if running:
            arrays["running_mean"] = np.asarray(rng.normal(size=c))
            arrays["running_var"] = np.asarray(rng.uniform(0.5, 2.0, size=c))
        return Case(name, visible, arrays, params)

    def _param(self, case: Case, arrays: dict[str, Any]) -> dict[str, Any]:
        return {**case.params, **{k: arrays[k] for k in ("running_mean", "running_var") if k in case.arrays}}

    def forward_call(self, case: Case, inputs: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        param = self._param(case, dict(inputs))
        return "spatial_batchnorm_forward", (inputs["x"], inputs["gamma"], inputs["beta"], param)

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        param = self._param(case, a)
        out, dx, dgamma, dbeta = kernel(a["x"], a["gamma"], a["beta"], a["dout"], param)
        outputs = {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}
        c = a["x"].shape[1]
        outputs["running_mean"] = np.asarray(param.get("running_mean", np.zeros(c)), dtype=dtype)
        outputs["running_var"] = np.asarray(param.get("running_var", np.zeros(c)), dtype=dtype)
        return outputs

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        after = outcomes[0].args_after or []
        param = after[3] if len(after) > 3 and isinstance(after[3], dict) else {}
        c = case.arrays["x"].shape[1]
        return {
            **super().candidate_outputs(case, outcomes),
            "running_mean": param.get("running_mean", np.zeros(c)),
            "running_var": param.get("running_var", np.zeros(c)),
        }

    def standardized(self, case: Case, out: object) -> Standardized | None:
        a = case.arrays
        c = a["x"].shape[1]

        def by_channel(values: Array) -> Array:  # one column per channel
            return values.transpose(1, 0, 2, 3).reshape(c, -1).T

        eps = case.params.get("eps", 1e-5)
        gamma, beta = a["gamma"].reshape(1, c, 1, 1), a["beta"].reshape(1, c, 1, 1)
        return standardize(a["x"], out, gamma, beta, by_channel, eps=eps, eps_given="eps" in case.params)
