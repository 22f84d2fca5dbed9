"""A NumPy BatchNorm1d with PyTorch's exact semantics, float64.

Differences from the CS231n convention that candidates must get right: `momentum` weighs the *new* batch
(running = (1 - momentum) * running + momentum * batch), the running variance is updated with the
*unbiased* batch variance while the batch itself is normalized with the biased one, `momentum=None` means a
cumulative average over `num_batches_tracked`, and without tracked statistics eval mode still uses the batch.
Inputs are (N, C) or (N, C, L); statistics are per channel C. Graded in float64; the batch statistics are
computed in the input's dtype, so running it on float32 copies measures the precision an answer may lose.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray


class BatchNorm1d:
    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
    ) -> None:
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.training = True
        self.weight: Array | None = np.ones(num_features) if affine else None
        self.bias: Array | None = np.zeros(num_features) if affine else None
        self.running_mean: Array | None = np.zeros(num_features) if track_running_stats else None
        self.running_var: Array | None = np.ones(num_features) if track_running_stats else None
        self.num_batches_tracked: int | None = 0 if track_running_stats else None

    def train(self, mode: bool = True) -> BatchNorm1d:
        self.training = mode
        return self

    def eval(self) -> BatchNorm1d:
        return self.train(False)

    def forward(self, x: Array) -> Array:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            x = x.astype(np.float64)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"expected (N, {self.num_features}) or (N, {self.num_features}, L), got {x.shape}"
            )
        axes = (0,) if x.ndim == 2 else (0, 2)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1)
        use_batch = self.training or not self.track_running_stats
        if use_batch:
            count = x.size // self.num_features
            if self.training and count <= 1:
                raise ValueError("Expected more than 1 value per channel when training")
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
            if self.training and self.track_running_stats:
                assert self.running_mean is not None and self.running_var is not None
                assert self.num_batches_tracked is not None
                self.num_batches_tracked += 1
                factor = 1.0 / self.num_batches_tracked if self.momentum is None else self.momentum
                unbiased = var * count / (count - 1)
                self.running_mean = (1 - factor) * self.running_mean + factor * mean
                self.running_var = (1 - factor) * self.running_var + factor * unbiased
        else:
            assert self.running_mean is not None and self.running_var is not None
            mean, var = self.running_mean, self.running_var
        out: Array = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + self.eps)
        if self.affine:
            assert self.weight is not None and self.bias is not None
            out = out * self.weight.reshape(shape) + self.bias.reshape(shape)
        return out

    __call__ = forward
