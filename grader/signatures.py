"""Recognising a misconception by how the outputs are wrong, where no deliberately wrong kernel reproduces
them: NaN or noise from cancellation, two mistakes at once, a constant nobody can guess.

Two readings, both from quantities the grader computes itself:

* **Precision.** A case far from zero (values around 1e6 or 1e8) fails while every ordinary case passes:
  the arithmetic, not the formula, is at fault. If the ordinary cases are right only to float32 accuracy,
  the code computes in float32; if they are right to float64 accuracy, the variance is computed in one pass
  (E[x^2] - E[x]^2), which cancels catastrophically there.
* **The statistics used.** A normalization's output, with gamma and beta undone, divided into the centred
  input, is the standard deviation the code divided by. Read per statistic and compared with the variance
  the task asks for: `var * N / (N - 1) + eps` is the unbiased variance, `var + e` with another `e` is a
  wrong or ignored epsilon. This survives any order of operations, and finds a misconception alongside
  another one.
* **The scale of a gradient.** A gradient equal to the reference times the number of values a statistic
  covers, or divided by it, element for element, is a mean where a sum belongs (or a 1/N lost or doubled).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from grader.tasks.base import Case, CaseEvaluation, Standardized, Task

FLOAT32_PRECISION = "float32_precision"
UNSTABLE_VARIANCE = "unstable_variance"
UNBIASED_VARIANCE = "unbiased_variance"
WRONG_DEFAULT_EPS = "wrong_default_eps"
EPS_IGNORED = "eps_ignored"
EPS_MISSING = "eps_missing"
TEST_MODE_NO_EPS = "test_mode_no_eps"
GRADIENT_SCALED = "gradient_scaled_by_count"
GRADIENTS = ("dx", "dgamma", "dbeta")

# What a code says where the task has no wrong kernel of its own to word it ({Code} names the code's author
# for the reader: see grader.wording).
MESSAGES = {
    FLOAT32_PRECISION: (
        "{Code} computes in float32 (or loses float64 precision in some other way): right to float32"
        " accuracy on ordinary inputs, wrong where values sit far from zero and float32 cannot tell the"
        " samples apart."
    ),
    UNSTABLE_VARIANCE: (
        "{Code} computes the variance as E[x^2] - E[x]^2, which loses all precision when values sit far from"
        " zero (offsets of 1e6 and more); the mean of squared deviations does not."
    ),
    UNBIASED_VARIANCE: (
        "{Code} normalizes with the unbiased variance (dividing by the count minus one); the task asks for"
        " the biased one (dividing by the count)."
    ),
    WRONG_DEFAULT_EPS: (
        "{Code} uses another epsilon than the default of 1e-5 when none is given (read from its outputs);"
        " the statement fixes the default."
    ),
    EPS_IGNORED: (
        "{Code} ignores the epsilon passed in and uses a value of its own (read from its outputs)."
    ),
    EPS_MISSING: (
        "{Code} leaves epsilon out of the normalization, or uses one far smaller than asked (read from its"
        " outputs): it divides by zero for a constant feature."
    ),
    GRADIENT_SCALED: (
        "{Your} gradient is the right one times the number of values a statistic covers, or divided by"
        " it (a mean where a sum belongs, or a 1/N left out or applied twice)."
    ),
    TEST_MODE_NO_EPS: (
        "{Code} leaves epsilon out in test mode (sqrt(running_var)): inference normalizes differently from"
        " training, and divides by zero for a feature whose running variance is 0."
    ),
}

FAR_FROM_ZERO = 1e4  # an input whose mean is this many standard deviations from zero
FLOAT32_LIKE = 1e-2  # errors at least this share of float32's own error are float32 arithmetic
# A standard deviation read from the output is the same for every member of a statistic to this ratio;
# beyond it the mean or the grouping is wrong, and the statistics cannot be read.
CONSISTENT = 1e-6
# Members whose normalized value is this small beside the largest say little about the deviation.
READABLE = 0.05
SAME_STATISTIC = 1e-6  # relative agreement of a read variance with a predicted one
DISTINCT_VARIANCES = 1.2  # the largest variance read at least this many times the smallest
SAME_EPS = 0.02  # relative agreement of a read epsilon with the one asked for
NO_EPS = 2e-3  # a read epsilon below this share of the one asked for is none (or as good as none)


def codes(
    task: Task, case: Case, evaluation: CaseEvaluation, evaluated: Sequence[tuple[Case, CaseEvaluation]]
) -> set[str]:
    """The signature codes a wrong case shows; `evaluated` are the task's value cases of the same grading."""
    return (
        _precision(case, evaluation, evaluated)
        | _statistics(task, case, evaluation)
        | _scaled(case, evaluation)
    )


def far_from_zero(case: Case) -> bool:
    """Does any input sit far from zero compared with its spread (where cancellation and float32 show)?"""
    for value in case.arrays.values():
        if value.size > 1 and value.dtype.kind == "f":
            spread = float(np.std(value))
            if spread > 0 and abs(float(np.mean(value))) > FAR_FROM_ZERO * spread:
                return True
    return False


def _float32_share(evaluation: CaseEvaluation) -> float:
    """How large the candidate's error is beside the reference's own float32 error, worst output first."""
    share = 0.0
    for name, expected in evaluation.expected.items():
        candidate, spread = evaluation.outputs.get(name), evaluation.tolerances[name].spread
        if isinstance(candidate, np.ndarray) and candidate.shape == expected.shape and spread > 0:
            error = float(np.max(np.abs(candidate.astype(np.float64) - expected), initial=0.0))
            share = max(share, error / spread)
    return share


def _precision(
    case: Case, evaluation: CaseEvaluation, evaluated: Sequence[tuple[Case, CaseEvaluation]]
) -> set[str]:
    if not far_from_zero(case) or evaluation.shape_mismatch:
        return set()
    ordinary = [ev for other, ev in evaluated if not far_from_zero(other) and not ev.not_run]
    if not ordinary or any(ev.result.status != "passed" for ev in ordinary):
        return set()  # something besides arithmetic is wrong
    shares = [_float32_share(ev) for ev in ordinary]
    return {FLOAT32_PRECISION if float(np.median(shares)) >= FLOAT32_LIKE else UNSTABLE_VARIANCE}


def read_deviations(view: Standardized) -> np.ndarray | None:
    """The standard deviation each statistic was divided by, read from the output (NaN for a constant
    statistic: nothing to read); None where a statistic cannot be read consistently (its mean or grouping
    is not the one asked for)."""
    centered, normalized = view.centered, view.normalized
    if not np.all(np.isfinite(normalized)):
        return None
    size = np.abs(normalized)
    readable = size > READABLE * np.maximum(size.max(axis=0, initial=0.0), 1e-300)
    varies = np.any(centered != 0, axis=0)
    if np.any(varies & ~readable.any(axis=0)):
        return None  # the input varies and the output does not
    with np.errstate(divide="ignore", invalid="ignore"):
        read = np.where(readable, centered / np.where(readable, normalized, 1.0), np.nan)[:, varies]
    if read.size and (
        np.any(read <= 0) or np.any(np.nanmax(read, 0) - np.nanmin(read, 0) > CONSISTENT * np.nanmax(read, 0))
    ):
        return None
    deviations = np.full(centered.shape[1], np.nan)
    if read.size:
        deviations[varies] = np.nanmedian(read, axis=0)
    return deviations


def _statistics(task: Task, case: Case, evaluation: CaseEvaluation) -> set[str]:
    if "out" not in evaluation.wrong_outputs:
        return set()
    view = task.standardized(case, evaluation.outputs.get("out"))
    deviations = None if view is None else read_deviations(view)
    return set() if view is None or deviations is None else reading(view, deviations)


def reading(view: Standardized, deviations: np.ndarray) -> set[str]:
    """What the deviations divided by say of the variance and epsilon used. It takes two statistics of
    clearly different variances: from one, a scale and an epsilon cannot be told apart."""
    readable = ~np.isnan(deviations)
    squared, variance = deviations[readable] ** 2, view.variance[readable]
    if squared.size < 2 or float(variance.max()) < DISTINCT_VARIANCES * float(variance.min()):
        return set()

    def matches(predicted: np.ndarray) -> bool:
        return bool(np.all(np.abs(squared - predicted) <= SAME_STATISTIC * np.maximum(squared, 1e-300)))

    found = set()
    if view.count is not None and 1 < view.count < 1 / (10 * SAME_STATISTIC):  # the inflation shows
        inflated = variance * view.count / (view.count - 1)
        eps_read = float(np.median(squared - inflated))
        if matches(inflated + eps_read):
            found.add(UNBIASED_VARIANCE)
            variance = inflated
    eps_read = float(np.median(squared - variance))
    if not matches(variance + eps_read) or abs(eps_read - view.eps) <= SAME_EPS * view.eps:
        return found
    if abs(eps_read) <= NO_EPS * view.eps:
        found.add(TEST_MODE_NO_EPS if view.test_mode else EPS_MISSING)
    elif view.eps_given:
        found.add(EPS_IGNORED)
    else:
        found.add(WRONG_DEFAULT_EPS)
    return found


def _counts(case: Case) -> set[float]:
    """The sizes a statistic can cover: each axis of x, and every axis but the channels together."""
    shape = case.arrays["x"].shape if "x" in case.arrays else ()
    sizes = {float(n) for n in shape}
    if len(shape) > 2:
        sizes.add(float(np.prod(shape)) / shape[1])
    return {n for n in sizes if n > 1}


def _scaled(case: Case, evaluation: CaseEvaluation) -> set[str]:
    """A wrong gradient that is the reference times a count or divided by it, element for element."""
    for name in GRADIENTS:
        candidate, expected = evaluation.outputs.get(name), evaluation.expected.get(name)
        if name not in evaluation.wrong_outputs or expected is None or not isinstance(candidate, np.ndarray):
            continue
        if candidate.shape != expected.shape or not np.all(np.isfinite(candidate)):
            continue
        readable = np.abs(expected) > READABLE * float(np.max(np.abs(expected), initial=0.0))
        if not readable.any():
            continue
        ratio = candidate[readable].astype(np.float64) / expected[readable]
        factor = float(np.median(ratio))
        if factor <= 0 or np.ptp(ratio) > CONSISTENT * 100 * factor:
            continue
        if any(abs(factor * n - 1) < 1e-6 or abs(factor / n - 1) < 1e-6 for n in _counts(case)):
            return {GRADIENT_SCALED}
    return set()


def message(task: Task, code: str) -> str:
    """A code's wording: the task's own wrong kernel's where it has one, so both readings say the same."""
    return next((m.message for m in task.mistakes if m.code == code), MESSAGES[code])
