"""bn-backward-alt: the batch-norm gradient in closed form, checked for values and for speed.

Speed is a soft check worth one case: on a large input the candidate's `batchnorm_backward_alt` (the fastest
of a few calls, timed inside the sandbox) must stay within `ALLOWED_SLOWDOWN` times the reference closed
form (the fastest of as many calls, timed here on the same input).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from grader.reference import batchnorm_backward_alt, batchnorm_forward
from grader.sandbox import Step, StepOutcome
from grader.tasks.base import Case, CaseEvaluation, Mistake, Outputs, gradients
from grader.tasks.bn_backward import STARTER as BACKWARD_STARTER
from grader.tasks.bn_backward import STATEMENT as BACKWARD_STATEMENT
from grader.tasks.bn_backward import BatchNormBackward
from grader.tasks.cases import affine, features

Array = np.ndarray

SPEED_SHAPE = (4096, 256)
TIMED_CALLS = 5
ALLOWED_SLOWDOWN = 3.0
GRADIENTS = ("dx", "dgamma", "dbeta")
ALT = tuple(f"alt_{name}" for name in GRADIENTS)

STATEMENT = (
    BACKWARD_STATEMENT.replace(
        "### Batch normalization: backward pass", "### Batch norm backward in closed form"
    )
    + f"""
Finally implement `batchnorm_backward_alt(dout, cache)`, returning the same `(dx, dgamma, dbeta)`, with `dx`
simplified on paper into a single vectorized expression instead of stepping back through the graph of the
forward pass. Both backward functions are graded.

**Speed** is part of the score: on an input of shape `{SPEED_SHAPE}` the fastest of {TIMED_CALLS} calls to
`batchnorm_backward_alt` must take at most {ALLOWED_SLOWDOWN:g} times as long as our closed form on the same
input. Keep Python loops out of it.
"""
)

STARTER = (
    BACKWARD_STARTER
    + '''

def batchnorm_backward_alt(dout, cache):
    """The same gradients, with dx in closed form: return (dx, dgamma, dbeta)."""
    raise NotImplementedError
'''
)


def _both_backwards(kernel: Callable[..., Any]) -> Callable[..., tuple[Array, ...]]:
    """A bn-backward kernel (reference or mistake) giving the gradients of both backward functions."""

    def run(*args: Any) -> tuple[Array, ...]:
        grads = kernel(*args)
        return (*grads, *grads)

    return run


def _in_either_backward(mistake: Mistake) -> tuple[Mistake, Mistake]:
    """A bn-backward misconception, as seen in batchnorm_backward's gradients and in the closed form's."""
    assert mistake.judged_on is not None
    kernel = _both_backwards(mistake.kernel)
    alt_names = tuple(f"alt_{name}" for name in mistake.judged_on)
    return replace(mistake, kernel=kernel), replace(mistake, kernel=kernel, judged_on=alt_names)


def timed_reference(x: Array, gamma: Array, beta: Array, dout: Array) -> float:
    _, cache = batchnorm_forward(x, gamma, beta, {"mode": "train"})
    fastest = float("inf")
    for _ in range(TIMED_CALLS):
        started = time.perf_counter()
        batchnorm_backward_alt(dout, cache)
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


class BatchNormBackwardAlt(BatchNormBackward):
    id = "bn-backward-alt"
    title = "Batch norm backward in closed form"
    functions = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")
    backward_functions = ("batchnorm_backward", "batchnorm_backward_alt")
    statement = STATEMENT
    starter = STARTER
    mistakes = tuple(
        variant for mistake in BatchNormBackward.mistakes for variant in _in_either_backward(mistake)
    )

    def reference(self) -> Callable[..., Any]:
        return _both_backwards(super().reference())

    def cases(self, seed: int) -> list[Case]:
        rng = np.random.default_rng([seed, 323])
        x = features(rng, *SPEED_SHAPE)
        gamma, beta = affine(rng, SPEED_SHAPE[1])
        speed = Case(
            "speed_large_input",
            False,
            {"x": x, "gamma": gamma, "beta": beta, "dout": rng.normal(size=SPEED_SHAPE)},
            kind="speed",
        )
        return [*super().cases(seed), speed]

    def steps(self, case: Case, prefix: str) -> list[Step]:
        if case.kind != "speed":  # the forward pass, batchnorm_backward, batchnorm_backward_alt
            return super().steps(case, prefix)
        forward = self.forward_step(case, prefix, save_as=prefix + "fwd", return_result=False)
        timed = [
            self.backward_step("batchnorm_backward_alt", prefix, return_result=call == 0)
            for call in range(TIMED_CALLS)
        ]
        return [forward, *timed]

    def run_kernel(self, kernel: Callable[..., Any], case: Case, dtype: type) -> Outputs:
        a: dict[str, Array] = {k: v.astype(dtype) for k, v in case.arrays.items()}
        grads = kernel(a["x"], a["gamma"], a["beta"], a["dout"], case.params.get("eps", 1e-5))
        names = ALT if case.kind == "speed" else (*GRADIENTS, *ALT)
        return dict(zip(names, grads[-len(names) :], strict=True))

    def candidate_outputs(self, case: Case, outcomes: Sequence[StepOutcome]) -> dict[str, object]:
        if case.kind == "speed":  # the forward pass, then the timed calls (the first returns its result)
            return dict(zip(ALT, gradients(outcomes[1].result).values(), strict=True))
        alt = dict(zip(ALT, gradients(outcomes[2].result).values(), strict=True))
        return {**gradients(outcomes[1].result), **alt}

    def evaluate(self, case: Case, outcomes: Sequence[StepOutcome]) -> CaseEvaluation:
        evaluation = super().evaluate(case, outcomes)
        if case.kind != "speed" or evaluation.result.status != "passed":
            return evaluation
        a = case.arrays
        reference_s = timed_reference(a["x"], a["gamma"], a["beta"], a["dout"])
        candidate_s = min(outcome.call_s for outcome in outcomes[1:])
        slowdown = candidate_s / reference_s
        if slowdown > ALLOWED_SLOWDOWN:
            evaluation.too_slow_by = slowdown
            evaluation.result.status = "time_limit_exceeded"
            evaluation.result.message = (
                f"correct, but too slow: the fastest call took {candidate_s * 1e3:.1f} ms,"
                f" {slowdown:.1f}x the reference closed form ({reference_s * 1e3:.1f} ms;"
                f" at most {ALLOWED_SLOWDOWN:g}x earns this case)"
            )
        return evaluation
