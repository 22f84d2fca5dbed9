"""Helpers for checking reference kernels: finite differences and PyTorch in float64."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch  # the test extra; `make test` installs it

torch.set_default_dtype(torch.float64)

RTOL = 1e-7


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)))


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float = RTOL) -> None:
    assert np.shape(actual) == np.shape(expected)
    error = relative_error(actual, expected)
    assert error <= rtol, f"relative error {error:.2e} > {rtol:.0e}"


def numeric_gradient(
    f: Callable[[], np.ndarray], x: np.ndarray, dout: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Central differences of sum(f() * dout) with respect to every entry of x (changed in place)."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        plus = float((f() * dout).sum())
        x[index] = original - h
        minus = float((f() * dout).sum())
        x[index] = original
        grad[index] = (plus - minus) / (2 * h)
    return grad


def tensor(a: np.ndarray, grad: bool = False):  # type: ignore[no-untyped-def]
    return torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)
