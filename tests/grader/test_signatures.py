"""Signatures read only what the outputs determine: nothing from a statistic they cannot separate."""

from __future__ import annotations

import numpy as np

from grader import signatures
from grader.tasks.base import Standardized

# Layer norm whose output is twice the normalized value: no epsilon or variance convention explains it.
DOUBLED = """
import numpy as np

def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    x_hat = (x - x.mean(axis=1, keepdims=True)) / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    return gamma * (2 * x_hat) + beta, None

def layernorm_backward(dout, cache):
    return np.zeros_like(dout), np.zeros(dout.shape[1]), np.zeros(dout.shape[1])
"""
READINGS = {
    signatures.UNBIASED_VARIANCE,
    signatures.WRONG_DEFAULT_EPS,
    signatures.EPS_IGNORED,
    signatures.EPS_MISSING,
}


def test_a_wrong_scale_is_not_read_as_an_epsilon_or_a_variance_convention(grade_source) -> None:  # type: ignore[no-untyped-def]
    result = grade_source("layernorm", DOUBLED)
    assert not READINGS & {d.code for d in result.diagnoses}, result.diagnoses


def _view(variances: list[float], eps_used: float, eps: float = 1e-5) -> Standardized:
    rng = np.random.default_rng(1)
    centered = rng.normal(size=(6, len(variances)))
    centered -= centered.mean(axis=0)
    centered *= np.sqrt(np.asarray(variances) / centered.var(axis=0))
    normalized = centered / np.sqrt(np.asarray(variances) + eps_used)
    return Standardized(centered, normalized, np.asarray(variances), 6, eps, eps_given=False)


def test_one_statistic_cannot_separate_the_variance_from_epsilon() -> None:
    deviations = signatures.read_deviations(_view([2.0], eps_used=1e-3))
    assert deviations is not None
    assert signatures.reading(_view([2.0], eps_used=1e-3), deviations) == set()
    several = _view([2.0, 0.5, 1.0], eps_used=1e-3)
    assert signatures.reading(several, signatures.read_deviations(several)) == {signatures.WRONG_DEFAULT_EPS}  # type: ignore[arg-type]
