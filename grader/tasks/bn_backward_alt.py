"""bn-backward-alt: the batch-norm gradient in closed form, checked for values and for speed.

Speed is a soft check worth one case: on a large input the candidate's `batchnorm_backward_alt` must stay
within `allowed_slowdown` times the reference closed form, both timed by the supervisor alike on fresh
upstream gradients (grader/speed.py). Every timed call's result is checked too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from grader.reference import batchnorm as reference_module
from grader.sandbox import Input, Ref, Step, StepOutcome
from grader.tasks.base import Case, CaseEvaluation, Mistake, Outputs, gradients
from grader.tasks.bn_backward import STARTER as BACKWARD_STARTER
from grader.tasks.bn_backward import STATEMENT as BACKWARD_STATEMENT
from grader.tasks.bn_backward import BatchNormBackward
from grader.tasks.cases import affine, features

Array = np.ndarray

SPEED_SHAPE = (4096, 256)
TIMED_CALLS = 3  # per round, each on an upstream gradient of its own; see grader/speed.py for the rounds
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

**Speed** is part of the score: on an input of shape `{SPEED_SHAPE}`, your fastest call to
`batchnorm_backward_alt` must take at most {ALLOWED_SLOWDOWN:g} times the CPU time of our closed form, timed
the same way on the same inputs (each call gets a new upstream gradient, and every result must be right).
Keep Python loops out of it.
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
    allowed_slowdown = ALLOWED_SLOWDOWN

    def timing_source(self) -> str:
        return Path(reference_module.__file__).read_text()

    def reference(self) -> Callable[..., Any]:
        return _both_backwards(super().reference())

    def cases(self, seed: int) -> list[Case]:
        rng = np.random.default_rng([seed, 323])
        x = features(rng, *SPEED_SHAPE)
        gamma, beta = affine(rng, SPEED_SHAPE[1])
        douts = {f"dout{call}": rng.normal(size=SPEED_SHAPE) for call in range(TIMED_CALLS)}
        speed = Case(
            "speed_large_input", False, {"x": x, "gamma": gamma, "beta": beta, **douts}, kind="speed"
        )
        return [*super().cases(seed), speed]

    def steps(self, case: Case, prefix: str) -> list[Step]:
        if case.kind != "speed":  # the forward pass, batchnorm_backward, batchnorm_backward_alt
            return super().steps(case, prefix)
        forward = self.forward_step(case, prefix, save_as=prefix + "fwd", return_result=False)
        timed = [
            Step(
                "batchnorm_backward_alt",
                (Input(f"{prefix}dout{call}"), Ref(prefix + "fwd", (1,))),
                timed=True,
            )
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
        """A speed case's values: every timed call, each against the reference on its own gradient (the
        time itself is judged by grader/speed.py)."""
        if case.kind != "speed":
            return super().evaluate(case, outcomes)
        failed = self.failed_call(case, outcomes)
        if failed is not None:
            return failed
        shared = {name: case.arrays[name] for name in ("x", "gamma", "beta")}
        evaluation = None
        for call in range(TIMED_CALLS):
            one_call = replace(case, arrays={**shared, "dout": case.arrays[f"dout{call}"]})
            evaluation = super().evaluate(one_call, [outcomes[0], outcomes[1 + call]])
            if evaluation.result.status != "passed":
                break
        assert evaluation is not None
        return evaluation
