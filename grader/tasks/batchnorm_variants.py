"""One batch-norm kernel with switches: all flags off is the reference; each mistake turns one on.

Writing the known mistakes as switches on a single kernel keeps them honest: each differs from the truth in
exactly the way its diagnosis claims, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from grader.tasks.base import Case, Mistake

Array = np.ndarray


def batchnorm_variant(
    x: Array,
    gamma: Array,
    beta: Array,
    bn_param: dict[str, Any],
    *,
    axis: int = 0,
    ddof: int = 0,
    eps_outside_sqrt: bool = False,
    eps_outside_sqrt_in_test: bool = False,
    test_eps: bool = True,
    unstable_variance: bool = False,
    running_ddof: int = 0,
    momentum_reversed: bool = False,
    update_running: bool = True,
    running_var_eps: bool = False,
    test_uses_batch: bool = False,
    test_affine: bool = True,
) -> tuple[Array, None]:
    """CS231n batchnorm_forward (see grader.reference.batchnorm) with one misconception switched on."""
    x = np.asarray(x)
    d = x.shape[1]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    running_mean = np.asarray(bn_param.get("running_mean", np.zeros(d, dtype=x.dtype)))
    running_var = np.asarray(bn_param.get("running_var", np.zeros(d, dtype=x.dtype)))
    train = bn_param["mode"] == "train"

    def batch_stats(ddof_: int) -> tuple[Array, Array]:
        mean = x.mean(axis=axis, keepdims=True)
        if unstable_variance:
            var = (x * x).mean(axis=axis, keepdims=True) - mean * mean
        else:
            var = x.var(axis=axis, ddof=ddof_, keepdims=True)
        return mean, var

    if train or test_uses_batch:
        mean, var = batch_stats(ddof)
    else:
        mean, var = running_mean, running_var
    outside = eps_outside_sqrt or (eps_outside_sqrt_in_test and not train)
    added = eps if train or test_eps else 0.0
    std = np.sqrt(var) + added if outside else np.sqrt(var + added)
    xhat = (x - mean) / std
    out = gamma * xhat + beta if (train or test_affine) else xhat
    if train and update_running and axis == 0:
        new_mean, new_var = batch_stats(running_ddof)
        new_mean, new_var = new_mean.reshape(-1), new_var.reshape(-1)
        if running_var_eps:
            new_var = new_var + eps
        keep = 1 - momentum if momentum_reversed else momentum
        bn_param["running_mean"] = keep * running_mean + (1 - keep) * new_mean
        bn_param["running_var"] = keep * running_var + (1 - keep) * new_var
    else:
        bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, None


def in_mode(mode: str) -> Callable[[Case], bool]:
    """Cases in this bn_param mode (training when none is given): where a mode's own mistake shows."""

    def shows_in(case: Case) -> bool:
        return bool(case.params.get("mode", "train") == mode)

    return shows_in


TRAINING, TESTING = in_mode("train"), in_mode("test")

STATISTICS_MISTAKES = (
    Mistake(
        "wrong_axis",
        "{Code} computes the statistics over the features of each example (axis 1) instead of over the batch"
        " for each "
        "feature (axis 0): that is layer normalization, not batch normalization.",
        partial(batchnorm_variant, axis=1),
        judged_on=("out",),
    ),
    Mistake(
        "unbiased_variance",
        "{Code} normalizes the batch with the unbiased variance (dividing by N - 1); batch norm uses the"
        " batch's own "
        "variance (dividing by N). Visible on small batches.",
        partial(batchnorm_variant, ddof=1, running_ddof=1),
    ),
    # Listed before the general form: where only test mode is wrong both explain the same cases, and the
    # first of a code is the one reported, so the wording says what is true.
    Mistake(
        "eps_outside_sqrt",
        "In test mode, {code} adds epsilon after the square root (sqrt(running_var) + eps) instead of"
        " inside it;"
        " training does it right, so inference normalizes differently from training.",
        partial(batchnorm_variant, eps_outside_sqrt_in_test=True),
        shows_in=TESTING,
    ),
    Mistake(
        "eps_outside_sqrt",
        "{Code} adds epsilon after the square root (sqrt(var) + eps) instead of inside it (sqrt(var + eps));"
        " the two "
        "differ most for features with tiny variance.",
        partial(batchnorm_variant, eps_outside_sqrt=True),
    ),
    Mistake(
        "unstable_variance",
        "{Code} computes the variance as E[x^2] - E[x]^2, which loses all precision when values sit far"
        " from zero "
        "(offsets of 1e6 and more); the mean of squared deviations does not.",
        partial(batchnorm_variant, unstable_variance=True),
    ),
)

RUNNING_STATISTICS_MISTAKES = (
    Mistake(
        "unbiased_running_var",
        "{Code} updates the running variance with the unbiased batch variance (PyTorch's convention) while"
        " this task "
        "specifies the biased one.",
        partial(batchnorm_variant, running_ddof=1),
        shows_in=TRAINING,
    ),
    Mistake(
        "momentum_reversed",
        "{Code} applies momentum to the new batch instead of the running value (running = m * batch + (1 -"
        " m) * "
        "running); here momentum is the weight kept on the running statistics.",
        partial(batchnorm_variant, momentum_reversed=True),
        shows_in=TRAINING,
    ),
    Mistake(
        "no_running_update",
        "{Code} never updates the running mean and variance in training mode, so inference later uses stale"
        " statistics.",
        partial(batchnorm_variant, update_running=False),
        shows_in=TRAINING,
    ),
    Mistake(
        "running_var_includes_eps",
        "{Code} stores variance + epsilon in the running variance, so epsilon is added twice at inference.",
        partial(batchnorm_variant, running_var_eps=True),
        shows_in=TRAINING,
    ),
    Mistake(
        "test_uses_batch_stats",
        "{Code} normalizes with the current batch's statistics in test mode instead of the running"
        " statistics, so a "
        "prediction depends on the other examples in the batch.",
        partial(batchnorm_variant, test_uses_batch=True),
        shows_in=TESTING,
    ),
    Mistake(
        "test_mode_no_eps",
        "{Code} leaves epsilon out in test mode (sqrt(running_var)): inference normalizes differently from"
        " training,"
        " and divides by zero for a feature whose running variance is 0.",
        partial(batchnorm_variant, test_eps=False),
        shows_in=TESTING,
    ),
    Mistake(
        "test_mode_no_affine",
        "{Code} forgets gamma and beta in test mode: the learned scale and shift are part of the model at"
        " inference too.",
        partial(batchnorm_variant, test_affine=False),
        shows_in=TESTING,
    ),
)
