"""Input generators aimed at real mistakes, shared by the batch-norm tasks."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def features(rng: np.random.Generator, n: int, d: int, *, offset: float = 0.0, tiny: bool = False) -> Array:
    """(n, d) activations whose features have different means and scales (so axes cannot be confused),
    optionally far from zero or with tiny variance."""
    scale = rng.uniform(1e-4, 1e-3, size=d) if tiny else rng.uniform(0.3, 4.0, size=d)
    center = offset + rng.normal(0.0, 3.0, size=d)
    return center + rng.normal(size=(n, d)) * scale


def with_constant_feature(x: Array, column: int) -> Array:
    x = x.copy()
    x[:, column] = x[0, column]
    return x


def affine(rng: np.random.Generator, d: int) -> tuple[Array, Array]:
    return rng.uniform(0.5, 2.0, size=d) * rng.choice([-1.0, 1.0], size=d), rng.normal(0.0, 1.0, size=d)
