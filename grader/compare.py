"""Comparing a candidate's output with the reference: shapes, dtypes, finiteness, then values within a
tolerance derived from the reference itself.

The tolerance is mixed, |candidate - reference| <= atol * scale + rtol * |reference|, where scale is the
reference's largest magnitude. Both terms come from how much the reference moves when computed in float32
instead of float64 on the same inputs: a correct implementation that loses float32-like precision somewhere
(a different summation order, einsum, a staged graph) still passes; a real mistake is orders larger.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Array = np.ndarray
SLACK = 10.0  # how many float32 spreads a correct implementation may differ by
MIN_RTOL = 1e-9
MIN_ATOL = 1e-9


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float
    # The reference's own largest float32-vs-float64 difference, uncapped: how far float32 arithmetic moves
    # this output (diagnosis tells float32 code from float64 code by it).
    spread: float = 0.0

    @classmethod
    def from_spread(cls, reference64: Array, reference32: Array) -> Tolerance:
        ref = np.asarray(reference64, dtype=np.float64)
        scale = float(np.max(np.abs(ref))) if ref.size else 0.0
        spread = np.abs(ref - np.asarray(reference32, dtype=np.float64))
        worst = float(np.max(spread)) if spread.size else 0.0
        rtol = max(
            MIN_RTOL, SLACK * float(np.max(spread / np.maximum(np.abs(ref), 1e-300))) if ref.size else 0.0
        )
        atol = max(MIN_ATOL, SLACK * worst / scale) if scale else MIN_ATOL
        return cls(atol=min(atol, 1e-3), rtol=min(rtol, 1e-3), spread=worst)

    def allowed(self, reference: Array) -> Array:
        ref = np.abs(np.asarray(reference, dtype=np.float64))
        scale = float(ref.max()) if ref.size else 0.0
        allowed: Array = self.atol * max(scale, 1.0) + self.rtol * ref
        return allowed


@dataclass(frozen=True)
class Comparison:
    ok: bool
    message: str = ""
    max_abs_err: float | None = None
    max_rel_err: float | None = None


def compare_array(name: str, actual: object, reference: Array, tolerance: Tolerance) -> Comparison:
    """Every check a single output must pass, with a message a candidate understands."""
    if not isinstance(actual, np.ndarray):
        return Comparison(False, f"{name} should be a NumPy array, got {type(actual).__name__}")
    if actual.shape != reference.shape:
        return Comparison(False, f"{name} has shape {actual.shape}, expected {reference.shape}")
    if actual.dtype != reference.dtype:
        return Comparison(False, f"{name} has dtype {actual.dtype}, expected {reference.dtype}")
    if not np.all(np.isfinite(actual)):
        return Comparison(False, f"{name} contains NaN or infinity")
    diff = np.abs(actual.astype(np.float64) - reference)
    max_abs = float(diff.max()) if diff.size else 0.0
    with np.errstate(over="ignore"):  # against a zero reference, any difference is infinitely relative
        rel = diff / np.maximum(np.abs(reference), np.finfo(np.float64).tiny)
    max_rel = float(rel.max()) if rel.size else 0.0
    if np.any(diff > tolerance.allowed(reference)):
        return Comparison(False, f"{name} is wrong (largest difference {max_abs:.3g})", max_abs, max_rel)
    return Comparison(True, "", max_abs, max_rel)


# A wrong kernel is recognised in outputs lying within this share of its distance from the truth.
RESEMBLANCE = 0.01


def gap(wrong: object, reference: Array) -> Array | None:
    """How far a wrong kernel's output lies from the truth, element by element; None when it is not even
    an array of the reference's shape."""
    wrong = np.asarray(wrong)
    if wrong.shape != reference.shape or wrong.dtype.kind != "f":
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        distance: Array = np.abs(wrong - reference)
    return distance


def differs(distance: Array | None, allowed: Array) -> bool:
    """Is a wrong kernel's output (at `distance` from the truth, see gap) not the truth here?"""
    with np.errstate(invalid="ignore"):
        return distance is None or not bool(np.all(distance <= allowed))  # NaN differs


def resembles(actual: object, wrong: Array, distance: Array, allowed: Array) -> bool:
    """Is `actual` the wrong kernel's output up to noise: within `allowed` of it (Tolerance.allowed,
    computed once), or much closer to it than the truth is (`distance`, see gap: summation order and
    cancellation move a candidate's numbers, not its mistake), with NaN and infinity exactly where the
    wrong kernel has them?"""
    if not isinstance(actual, np.ndarray) or actual.shape != wrong.shape or actual.dtype.kind != "f":
        return False
    with np.errstate(invalid="ignore", over="ignore"):
        off = np.abs(actual.astype(np.float64, copy=False) - wrong)
        if bool(np.all(off <= allowed)):
            return True
        finite = np.isfinite(wrong)
        if not np.array_equal(np.isfinite(actual), finite):
            return False
        worst = float(distance[finite].max(initial=0.0))
        return bool(np.all(off[finite] <= allowed[finite] + RESEMBLANCE * worst))
