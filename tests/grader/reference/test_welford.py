"""Streaming statistics: exact under any chunking and stable far from zero."""

from __future__ import annotations

import numpy as np
import pytest

from grader.reference import welford_finalize, welford_merge, welford_update
from tests.grader.reference.conftest import assert_close


def stream(x: np.ndarray, cuts: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    state = (0, np.zeros(x.shape[1]), np.zeros(x.shape[1]))
    for chunk in np.split(x, cuts):
        state = welford_update(state, chunk)
    return welford_finalize(state)


@pytest.mark.parametrize("cuts", [[], [1], [3, 4, 4, 10], list(range(1, 50))])
def test_any_chunking_gives_the_two_pass_answer(cuts: list[int]) -> None:
    x = np.random.default_rng(0).normal(size=(50, 3)) * [1, 10, 1e-3]
    mean, var, unbiased = stream(x, cuts)
    assert_close(mean, x.mean(axis=0), rtol=1e-12)
    assert_close(var, x.var(axis=0), rtol=1e-12)
    assert_close(unbiased, x.var(axis=0, ddof=1), rtol=1e-12)


def test_stable_at_large_offsets_where_the_naive_formula_fails() -> None:
    rng = np.random.default_rng(1)
    x = 1e8 + rng.normal(size=(1000, 2))
    _, var, _ = stream(x, list(range(7, 1000, 7)))
    exact = (x - 1e8).var(axis=0)  # same data without the offset: the true spread
    assert_close(var, exact, rtol=1e-7)
    naive = (x**2).mean(axis=0) - x.mean(axis=0) ** 2
    assert np.max(np.abs(naive - exact) / exact) > 1e-3  # the formula candidates must avoid


def test_merging_in_any_order_agrees_and_single_samples_have_no_unbiased_variance() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(4, 2)), rng.normal(size=(9, 2))
    empty = (0, np.zeros(2), np.zeros(2))
    sa, sb = welford_update(empty, a), welford_update(empty, b)
    ab, ba = welford_merge(sa, sb), welford_merge(sb, sa)
    assert ab[0] == ba[0] == 13
    assert_close(welford_finalize(ab)[1], welford_finalize(ba)[1], rtol=1e-13)
    assert np.isnan(welford_finalize(welford_update(empty, a[:1]))[2]).all()
    with pytest.raises(ValueError, match="no samples"):
        welford_finalize(empty)
