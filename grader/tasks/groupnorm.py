"""groupnorm: group normalization for (N, C, H, W), contiguous channel groups, forward and backward."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from grader.reference import spatial_groupnorm_backward, spatial_groupnorm_forward
from grader.tasks.backward import BackwardTask, gradient_check_case
from grader.tasks.base import Case, Mistake, Outputs, Standardized, standardize

Array = np.ndarray

STATEMENT = """\
### Group normalization

Implement `spatial_groupnorm_forward(x, gamma, beta, G, gn_param)` returning `(out, cache)` and
`spatial_groupnorm_backward(dout, cache)` returning `(dx, dgamma, dbeta)`.

* `x` has shape `(N, C, H, W)`; `G` divides `C`; `gamma` and `beta` have shape `(1, C, 1, 1)`;
  `gn_param` may hold `eps` (default `1e-5`).
* The channels are split into `G` groups of **contiguous** channels (channels `0 .. C/G - 1` form the first
  group). Each example and group is normalized with the mean and biased variance of its `C/G * H * W`
  values, epsilon inside the square root; then `out = gamma * x_hat + beta`, per channel.
* Statistics never mix examples, so group norm behaves the same for any batch size.
* `dx` has the shape of `x`; `dgamma` and `dbeta` the shape `(1, C, 1, 1)`. Do not modify inputs in place.
"""

STARTER = '''\
import numpy as np


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group norm for x (N, C, H, W) with G groups of contiguous channels; return (out, cache)."""
    raise NotImplementedError


def spatial_groupnorm_backward(dout, cache):
    """Gradients of spatial_groupnorm_forward: return (dx, dgamma, dbeta)."""
    raise NotImplementedError
'''


def _reference(
    x: Array, gamma: Array, beta: Array, dout: Array, groups: int, eps: float
) -> tuple[Array, ...]:
    out, cache = spatial_groupnorm_forward(x, gamma, beta, groups, {"eps": eps})
    return (out, *spatial_groupnorm_backward(dout, cache))


def _grouped_forward(
    x: Array, gamma: Array, beta: Array, dout: Array, groups: int, eps: float, *, layout: str
) -> tuple[Array | None, ...]:
    """The forward pass with statistics taken over the wrong set of values; only `out` is judged."""
    n, c, h, w = x.shape
    if layout == "strided":  # channel k goes to group k % G
        order = np.argsort(np.arange(c) % groups, kind="stable")
        x = x[:, order]
    # Each layout's values as (..., members) with one statistic per leading index, and the way back.
    shapes = {
        "strided": (n, groups, -1),
        "batch_group": (groups, -1),  # statistics pooled over the batch as well
        "per_pixel": (n, groups, c // groups, h * w),  # over a group's channels at each position
        "per_channel": (n, c, h * w),  # instance norm: each channel on its own
    }
    values = x.transpose(1, 0, 2, 3) if layout == "batch_group" else x
    grouped = values.reshape(shapes[layout])
    axis = -2 if layout == "per_pixel" else -1
    mean = grouped.mean(axis=axis, keepdims=True)
    xhat = ((grouped - mean) / np.sqrt(grouped.var(axis=axis, keepdims=True) + eps)).reshape(values.shape)
    if layout == "batch_group":
        xhat = xhat.transpose(1, 0, 2, 3)
    if layout == "strided":
        restored = np.empty_like(xhat)
        restored[:, order] = xhat
        xhat = restored
    return gamma * xhat + beta, None, None, None


class GroupNorm(BackwardTask):
    id = "groupnorm"
    title = "Group normalization"
    functions = ("spatial_groupnorm_forward", "spatial_groupnorm_backward")
    backward_functions = ("spatial_groupnorm_backward",)
    statement = STATEMENT
    starter = STARTER
    positional_inputs = ("x", "gamma", "beta")
    mistakes = (
        Mistake(
            "groupnorm_strided_groups",
            "{Code} forms the groups from every G-th channel (channel k in group k mod G) instead of from"
            " contiguous"
            " blocks of C/G channels.",
            partial(_grouped_forward, layout="strided"),
            judged_on=("out",),
        ),
        Mistake(
            "wrong_axis",
            "{Code} pools the statistics of a group over the whole batch; group norm normalizes each"
            " example on its"
            " own.",
            partial(_grouped_forward, layout="batch_group"),
            judged_on=("out",),
        ),
        Mistake(
            "groupnorm_per_pixel_statistics",
            "{Code} takes a group's statistics separately at every spatial position"
            " (over its channels only); a group's mean and variance cover all its C/G * H * W values.",
            partial(_grouped_forward, layout="per_pixel"),
            judged_on=("out",),
        ),
        Mistake(
            "groupnorm_per_channel_statistics",
            "{Code} normalizes every channel on its own (over H and W: instance normalization) instead of"
            " pooling the statistics of the C/G channels of a group.",
            partial(_grouped_forward, layout="per_channel"),
            judged_on=("out",),
        ),
    )

    def reference(self) -> Callable[..., Any]:
        return _reference

    def cases(self, seed: int) -> list[Case]:
        cases = [self._case("sample", True, np.random.default_rng(2029), (2, 4, 2, 2), 2)]
        rng = np.random.default_rng([seed, 606])
        # Each case names the bug it exists to catch.
        cases += [
            self._case("three_groups", False, rng, (2, 6, 3, 3), 3),  # an odd number of groups
            self._case("four_groups_of_two", False, rng, (3, 8, 2, 3), 4),  # strided vs contiguous groups
            self._case("one_example", False, rng, (1, 6, 4, 4), 2),  # statistics over the batch pass at N = 1
            self._case("non_square", False, rng, (2, 12, 5, 2), 3, eps=1e-3),  # H and W swapped; eps
            # G = 1 with N > 1 (layer norm over C, H, W): a reshape to (N * G, -1) written as (G, -1) or
            # statistics over the batch crash or mix examples only here.
            self._case("one_group", False, rng, (3, 4, 2, 3), 1),
            # G = C (instance norm): a group of one channel; catches statistics per pixel or per channel set.
            self._case("group_per_channel", False, rng, (2, 5, 3, 2), 5),
            # One pixel per channel: a group's values are its channels only (axes dropped or kept wrongly).
            self._case("one_pixel", False, rng, (4, 6, 1, 1), 3),
        ]
        return [*cases, gradient_check_case("gradient_check", np.random.default_rng([seed, 616]), cases[0])]

    @staticmethod
    def _case(
        name: str,
        visible: bool,
        rng: np.random.Generator,
        shape: tuple[int, int, int, int],
        groups: int,
        eps: float = 1e-5,
    ) -> Case:
        c = shape[1]
        x = rng.normal(0.0, 5.0, size=(1, c, 1, 1)) + rng.normal(size=shape) * rng.uniform(
            0.3, 4, (1, c, 1, 1)
        )
        arrays = {
            "x": x,
            "gamma": rng.uniform(0.5, 2.0, size=(1, c, 1, 1)),
            "beta": rng.normal(size=(1, c, 1, 1)),
            "dout": rng.normal(size=shape),
        }
        return Case(name, visible, arrays, {"G": groups, "eps": eps})

    def forward_call(self, case: Case, inputs: Mapping[str, Any]) -> tuple[str, tuple[Any, ...]]:
        args = (inputs["x"], inputs["gamma"], inputs["beta"], case.params["G"], {"eps": case.params["eps"]})
        return "spatial_groupnorm_forward", args

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        out, dx, dgamma, dbeta = kernel(
            a["x"], a["gamma"], a["beta"], a["dout"], case.params["G"], case.params["eps"]
        )
        return {"out": out, "dx": dx, "dgamma": dgamma, "dbeta": dbeta}

    def standardized(self, case: Case, out: object) -> Standardized | None:
        a, groups = case.arrays, case.params["G"]
        n = a["x"].shape[0]

        def by_group(values: Array) -> Array:  # one column per example and group
            return values.reshape(n * groups, -1).T

        return standardize(
            a["x"], out, a["gamma"], a["beta"], by_group, eps=case.params["eps"], eps_given=True
        )
