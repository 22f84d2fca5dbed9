"""The NumPy BatchNorm1d behaves exactly like torch.nn.BatchNorm1d through train/eval sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from grader.reference import BatchNorm1d
from tests.grader.reference.conftest import assert_close, tensor

CONFIGS = [
    {},
    {"momentum": None},
    {"momentum": 0.0},
    {"momentum": 1.0, "eps": 1e-3},
    {"affine": False},
    {"track_running_stats": False},
    {"track_running_stats": False, "affine": False, "momentum": None},
]


@pytest.mark.parametrize(
    "config", CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "defaults"
)
@pytest.mark.parametrize("three_d", [False, True], ids=["NC", "NCL"])
def test_sequences_of_train_and_eval_match_torch(config: dict[str, object], three_d: bool) -> None:
    rng = np.random.default_rng(7)
    ours = BatchNorm1d(4, **config)  # type: ignore[arg-type]
    theirs = torch.nn.BatchNorm1d(4, **config).double()  # type: ignore[arg-type]
    if ours.affine:
        weight, bias = rng.normal(size=4), rng.normal(size=4)
        ours.weight, ours.bias = weight.copy(), bias.copy()
        with torch.no_grad():
            theirs.weight.copy_(tensor(weight))
            theirs.bias.copy_(tensor(bias))
    for phase in ["train", "train", "eval", "train", "eval", "eval", "train"]:
        getattr(ours, phase)()
        getattr(theirs, phase)()
        shape = (6, 4, 3) if three_d else (6, 4)
        x = rng.normal(size=shape) * rng.uniform(0.5, 4, size=(1, 4) + (1,) * three_d) + 2
        with torch.no_grad():
            expected = theirs(tensor(x)).numpy()
        assert_close(ours.forward(x), expected)
        if ours.track_running_stats:
            assert_close(ours.running_mean, theirs.running_mean.numpy())  # type: ignore[arg-type]
            assert_close(ours.running_var, theirs.running_var.numpy())  # type: ignore[arg-type]
            assert ours.num_batches_tracked == int(theirs.num_batches_tracked)
        else:
            assert ours.running_mean is None and theirs.running_mean is None


def test_training_on_a_single_value_per_channel_is_refused_like_torch() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        BatchNorm1d(3).forward(np.zeros((1, 3)))
    with pytest.raises(ValueError):
        torch.nn.BatchNorm1d(3).double()(torch.zeros(1, 3))
