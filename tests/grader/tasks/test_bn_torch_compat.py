"""bn-torch-compat: the case scripts replayed on torch.nn.BatchNorm1d give the reference's answers; modules
written several ways are accepted; each PyTorch-semantics mistake is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.grading import get_task
from grader.tasks.bn_torch_compat import ATTRIBUTES
from tests.grader.tasks.conftest import assert_accepted, assert_named_first

TASK = "bn-torch-compat"

STRAIGHTFORWARD = get_task(TASK).solution  # grader/solutions/: the reference solution shown to recruiters

# Channels last through a transpose, statistics kept as sums, and the cumulative average done by counts.
CHANNELS_LAST = """
import numpy as np

class BatchNorm1d(object):
    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        self.c = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.training = True
        self.weight, self.bias = (np.ones(self.c), np.zeros(self.c)) if affine else (None, None)
        self.running_mean = np.zeros(self.c) if track_running_stats else None
        self.running_var = np.ones(self.c) if track_running_stats else None
        self.num_batches_tracked = 0 if track_running_stats else None

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        self.training = False
        return self

    def _rows(self, x):
        return x if x.ndim == 2 else np.moveaxis(x, 1, -1).reshape(-1, self.c)

    def forward(self, x):
        rows = self._rows(x)
        use_batch = self.training or self.running_mean is None
        if use_batch:
            n = rows.shape[0]
            mean = rows.sum(axis=0) / n
            centered = rows - mean
            var = (centered ** 2).sum(axis=0) / n
            if self.training and self.running_mean is not None:
                self.num_batches_tracked = self.num_batches_tracked + 1
                if self.momentum is None:
                    w = 1.0 / self.num_batches_tracked
                else:
                    w = self.momentum
                self.running_mean = self.running_mean + w * (mean - self.running_mean)
                self.running_var = self.running_var + w * (var * (n / (n - 1)) - self.running_var)
        else:
            mean, var = self.running_mean, self.running_var
        y = (rows - mean) / np.sqrt(var + self.eps)
        if self.affine:
            y = y * self.weight + self.bias
        if x.ndim == 2:
            return y
        n_, c, length = x.shape
        return np.moveaxis(y.reshape(n_, length, c), -1, 1)
"""


def _wrong(old: str, new: str) -> str:
    assert old in STRAIGHTFORWARD, old
    return STRAIGHTFORWARD.replace(old, new)


WRONG = {
    "momentum_reversed": _wrong(
        "self.running_mean = (1 - m) * self.running_mean + m * mean\n"
        "                self.running_var = (1 - m) * self.running_var + m * var * n / (n - 1)",
        "self.running_mean = m * self.running_mean + (1 - m) * mean\n"
        "                self.running_var = m * self.running_var + (1 - m) * var * n / (n - 1)",
    ),
    "biased_running_var": _wrong("m * var * n / (n - 1)", "m * var"),
    "unbiased_variance": _wrong(
        "mean, var = x.mean(axis=axes), x.var(axis=axes)\n",
        "mean, var = x.mean(axis=axes), x.var(axis=axes, ddof=1)\n",
    ).replace("m * var * n / (n - 1)", "m * var"),
    "momentum_none_not_cumulative": _wrong(
        "m = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum",
        "m = 0.1 if self.momentum is None else self.momentum",
    ),
    "test_uses_batch_stats": _wrong("if self.training or not self.track_running_stats:", "if True:"),
    "eps_outside_sqrt": _wrong(
        "np.sqrt(var.reshape(shape) + self.eps)", "(np.sqrt(var.reshape(shape)) + self.eps)"
    ),
    "running_var_init_zero": _wrong(
        "self.running_var = np.ones(num_features)", "self.running_var = np.zeros(num_features)"
    ),
}


@pytest.mark.parametrize("case_index", range(len(get_task(TASK).cases(0))))
def test_the_reference_plays_each_case_script_like_pytorch(case_index: int) -> None:
    task = get_task(TASK)
    case = task.cases(0)[case_index]
    expected = task.run_kernel(task.reference(), case, np.float64)
    module = torch.nn.BatchNorm1d(case.params["channels"], **case.params["init"]).double()
    with torch.no_grad():
        for name in ("weight", "bias"):
            if name in case.arrays:
                getattr(module, name).copy_(torch.from_numpy(case.arrays[name]))
        for index, mode in enumerate(case.params["modes"]):
            getattr(module, mode)()
            out = module(torch.from_numpy(case.arrays[f"x{index}"].copy())).numpy()
            np.testing.assert_allclose(expected[f"out{index}"], out, rtol=1e-7, atol=1e-9)
    for name in ATTRIBUTES:
        value = getattr(module, name)
        assert (value is None) == (name not in expected), name
        if value is not None:
            np.testing.assert_allclose(expected[name], value.detach().numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("source", [STRAIGHTFORWARD, CHANNELS_LAST], ids=["straightforward", "channels_last"])
def test_pytorch_compatible_modules_are_accepted(grade_source, source: str) -> None:  # type: ignore[no-untyped-def]
    assert_accepted(grade_source(TASK, source))


@pytest.mark.parametrize("code", WRONG)
def test_each_semantics_mistake_is_named_first(grade_source, code: str) -> None:  # type: ignore[no-untyped-def]
    assert_named_first(grade_source(TASK, WRONG[code]), code)


def test_state_that_should_not_exist_is_reported(grade_source) -> None:  # type: ignore[no-untyped-def]
    source = _wrong(
        "self.running_mean = self.running_var = self.num_batches_tracked = None",
        "self.running_mean, self.running_var, self.num_batches_tracked = np.zeros(num_features), None, None",
    )
    result = grade_source(TASK, source)
    untracked = next(c for c in result.cases if c.name == "untracked")
    assert untracked.status == "wrong_answer"
    assert "running_mean should be None with track_running_stats=False" in untracked.message


def test_a_missing_attribute_is_a_clear_error(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source(TASK, STRAIGHTFORWARD.replace("self.num_batches_tracked = 0", "pass"))
    sample = result.cases[0]
    assert sample.status == "runtime_error"
    assert "AttributeError" in sample.message and "num_batches_tracked" in sample.message
