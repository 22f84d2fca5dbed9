"""Streaming mean and variance (Welford / Chan et al.), exact under any chunking, stable far from zero.

state = (count, mean, m2), with m2 the sum of squared deviations from the mean; start from
(0, zeros(D), zeros(D)).
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray
State = tuple[int, Array, Array]


def welford_merge(a: State, b: State) -> State:
    count_a, mean_a, m2_a = a
    count_b, mean_b, m2_b = b
    count = count_a + count_b
    if count == 0:
        return (
            0,
            np.zeros_like(np.asarray(mean_a)),
            np.zeros_like(np.asarray(m2_a)),
        )
    delta = np.asarray(mean_b) - mean_a
    mean = mean_a + delta * (count_b / count)
    m2 = m2_a + m2_b + delta**2 * (count_a * count_b / count)
    return count, mean, m2


def welford_update(state: State, x: Array) -> State:
    """Add a chunk x (n, D): its own statistics come from a two-pass computation, then a merge."""
    x = np.asarray(x)
    if x.shape[0] == 0:
        return state
    mean = x.mean(axis=0)
    m2 = ((x - mean) ** 2).sum(axis=0)
    return welford_merge(state, (x.shape[0], mean, m2))


def welford_finalize(state: State) -> tuple[Array, Array, Array]:
    """(mean, biased variance, unbiased variance); the unbiased one is NaN for a single sample."""
    count, mean, m2 = state
    if count == 0:
        raise ValueError("no samples")
    unbiased = m2 / (count - 1) if count > 1 else np.full_like(m2, np.nan)
    return mean, m2 / count, unbiased
