"""bn-fold: merging inference-mode batch norm into the linear or convolutional layer before it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from grader.reference import fold_batchnorm, fold_batchnorm_conv
from grader.sandbox import Input, Step, StepOutcome
from grader.tasks.base import Case, Mistake, Outputs, Task, named_parts

Array = np.ndarray
LAYER_INPUTS = ("W", "b", "gamma", "beta", "running_mean", "running_var")

STATEMENT = """\
### Folding batch norm into the previous layer

At inference time batch norm is a fixed affine map per channel, so it can be merged into the layer before
it, saving a pass over the activations. Here inference-mode batch norm of an input `y` is
`gamma * (y - running_mean) / sqrt(running_var + eps) + beta`, per output channel, with epsilon **inside**
the square root.

* `fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5)` → `(W2, b2)`, for a linear
  layer `y = x @ W + b` with `W` of shape `(D_in, D_out)` and `b`, `gamma`, `beta`, `running_mean`,
  `running_var` of shape `(D_out,)`: `x @ W2 + b2` must equal batch norm of `x @ W + b` for every `x`.
* `fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5)` → `(W2, b2)`, for a
  convolution with weights `W` of shape `(F, C, kh, kw)` (F output channels) and bias `b` of shape `(F,)`,
  followed by batch norm over its F channels: convolving with `W2` and adding `b2` must equal the pair.
* `W2` has the shape of `W`, `b2` the shape of `b`, both float64. Do not modify the inputs in place.
"""

STARTER = '''\
import numpy as np


def fold_batchnorm(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """Fold inference batch norm into x @ W + b: return (W2, b2)."""
    raise NotImplementedError


def fold_batchnorm_conv(W, b, gamma, beta, running_mean, running_var, eps=1e-5):
    """Fold inference batch norm into a convolution with weights (F, C, kh, kw): return (W2, b2)."""
    raise NotImplementedError
'''


def _reference(
    conv: bool,
    W: Array,
    b: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    *,
    eps: float,
) -> tuple[Array, Array]:
    fold = fold_batchnorm_conv if conv else fold_batchnorm
    return fold(W, b, gamma, beta, running_mean, running_var, eps)


def fold_variant(
    conv: bool,
    W: Array,
    b: Array,
    gamma: Array,
    beta: Array,
    running_mean: Array,
    running_var: Array,
    *,
    eps: float,
    eps_outside_sqrt: bool = False,
    take_sqrt: bool = True,
    subtract_mean: bool = True,
    keep_bias: bool = True,
    scale_inputs: bool = False,
) -> tuple[Array, Array]:
    """The fold with one misconception switched on (all off: correct)."""
    if eps_outside_sqrt:
        scale = gamma / (np.sqrt(running_var) + eps)
    else:
        scale = gamma / (np.sqrt(running_var + eps) if take_sqrt else running_var + eps)
    shape: tuple[int, ...]
    if conv:  # scale per output channel (axis 0), or wrongly per input channel (axis 1)
        shape = (1, -1, 1, 1) if scale_inputs else (-1, 1, 1, 1)
    else:  # scale per output column, or wrongly per input row
        shape = (-1, 1) if scale_inputs else (1, -1)
    if scale_inputs and W.shape[1 if conv else 0] != scale.size:
        raise ValueError("this misconception needs as many inputs as outputs")
    bias = b if keep_bias else np.zeros_like(b)
    shifted = bias - running_mean if subtract_mean else bias
    return W * scale.reshape(shape), shifted * scale + beta


class BatchNormFold(Task):
    id = "bn-fold"
    title = "Folding batch norm into the previous layer"
    functions = ("fold_batchnorm", "fold_batchnorm_conv")
    statement = STATEMENT
    starter = STARTER
    positional_inputs = LAYER_INPUTS
    mistakes = (
        Mistake(
            "eps_outside_sqrt",
            "{Code} divides by sqrt(running_var) + eps instead of sqrt(running_var + eps); the folded layer"
            " then"
            " drifts from the original for channels with small variance.",
            partial(fold_variant, eps_outside_sqrt=True),
        ),
        Mistake(
            "fold_missing_sqrt",
            "{Code} divides the weights by the variance instead of the standard deviation (no square root).",
            partial(fold_variant, take_sqrt=False),
        ),
        Mistake(
            "fold_bias_missing_mean",
            "{Code} forgets to subtract the running mean when folding the bias (b2 = b * scale + beta), so"
            " the"
            " folded layer's outputs are shifted.",
            partial(fold_variant, subtract_mean=False),
            judged_on=("b2",),
        ),
        Mistake(
            "fold_bias_dropped",
            "{Code} drops the layer's own bias b when folding (b2 = beta - running_mean * scale); the"
            " original bias"
            " passes through batch norm too.",
            partial(fold_variant, keep_bias=False),
            judged_on=("b2",),
        ),
        Mistake(
            "wrong_axis",
            "{Code} scales the weights per input channel instead of per output channel: batch norm acts on"
            " the"
            " layer's outputs, so each output's weights get that output's scale.",
            partial(fold_variant, scale_inputs=True),
            judged_on=("W2",),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return _reference

    def cases(self, seed: int) -> list[Case]:
        sample = np.random.default_rng(2031)
        cases = [
            self._case("sample_linear", True, sample, (3, 4)),
            self._case("sample_conv", True, sample, (2, 3, 3, 3)),
        ]
        rng = np.random.default_rng([seed, 808])
        cases += [
            # more inputs than outputs: scaling per input instead of per output
            self._case("linear_non_square", False, rng, (5, 7)),
            # square weights: a transposed scale is wrong but shaped right
            self._case("linear_square", False, rng, (6, 6)),
            # one output: broadcasting of the scale
            self._case("linear_one_output", False, rng, (4, 1)),
            # variances near eps: eps outside the square root, a missing square root
            self._case("linear_tiny_variance", False, rng, (3, 5), eps=1e-3, tiny=True),
            # a far running mean: the folded bias without the mean
            self._case("linear_far_mean", False, rng, (4, 3), far=True),
            # as many inputs as outputs: per-input scaling shaped right
            self._case("conv_square_channels", False, rng, (4, 4, 3, 3)),
            # a 1x1 kernel: the scale's broadcasting over (O, I, kh, kw)
            self._case("conv_1x1", False, rng, (6, 3, 1, 1)),
            # kh != kw: axes mixed up
            self._case("conv_rectangular_kernel", False, rng, (3, 2, 1, 5)),
            # variances near eps, in a convolution
            self._case("conv_tiny_variance", False, rng, (3, 3, 2, 2), eps=1e-3, tiny=True),
        ]
        return cases

    @staticmethod
    def _case(
        name: str,
        visible: bool,
        rng: np.random.Generator,
        shape: tuple[int, ...],
        *,
        eps: float | None = None,
        tiny: bool = False,
        far: bool = False,
    ) -> Case:
        conv = len(shape) == 4
        outputs = shape[0] if conv else shape[1]
        variance = rng.uniform(1e-6, 1e-5, outputs) if tiny else rng.uniform(0.2, 5.0, outputs)
        arrays = {
            "W": rng.normal(size=shape),
            "b": rng.normal(size=outputs),
            "gamma": rng.uniform(0.5, 2.0, outputs) * rng.choice([-1.0, 1.0], outputs),
            "beta": rng.normal(size=outputs),
            "running_mean": rng.normal(1e3 if far else 0.0, 3.0, outputs),
            "running_var": variance,
        }
        params: dict[str, Any] = {"conv": conv}
        if eps is not None:
            params["eps"] = eps
        return Case(name, visible, arrays, params)

    def steps(self, case: Case, prefix: str) -> list[Step]:
        function = "fold_batchnorm_conv" if case.params["conv"] else "fold_batchnorm"
        kwargs = {"eps": case.params["eps"]} if "eps" in case.params else {}
        args = tuple(Input(prefix + name) for name in LAYER_INPUTS)
        return [Step(function, args, kwargs, report_args=True)]

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        args: list[Array] = [case.arrays[name].astype(dtype) for name in LAYER_INPUTS]
        W2, b2 = kernel(case.params["conv"], *args, eps=case.params.get("eps", 1e-5))
        return {"W2": W2, "b2": b2}

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        return named_parts(outcomes[0].result, ("W2", "b2"))
